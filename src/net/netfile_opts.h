/* netfile_opts.h - the options of a network file's layer lines, one row
 * each: the parser (netfile.c) recognises, range-checks and stores a key
 * by its row, the writer (netfile_write.c) writes the rows back in table
 * order, and the "known:" lists of error messages are the table. Adding a
 * layer option is adding a row (and its field in ccnn_layer_spec). */
#ifndef CCNN_NETFILE_OPTS_H
#define CCNN_NETFILE_OPTS_H
#include "ccnn.h"
#include <stddef.h>

#define NETFILE_BIT(t) (1u << (t))

typedef enum netfile_opt_kind {
    NETFILE_NAME,   /* a layer name (ccnn_net_valid_name) into char[CCNN_NAME_MAX] */
    NETFILE_INPUTS, /* one to CCNN_MAX_INPUTS names separated by commas */
    NETFILE_INT,    /* an int in [lo, hi] */
    NETFILE_PAIR,   /* "N", "HxW" or "H,W": ints in [lo, hi] at off and off2 */
    NETFILE_PAD,    /* "P", "PHxPW" or "T,B,L,R": four ints at off (top, bottom, left, right) */
    NETFILE_FLAG,   /* 0 or 1 (an int); stored as its negation when `negate` */
    NETFILE_WORD,   /* one of words[], stored as its index (an enum) */
    NETFILE_FLOAT,  /* a finite number in lo..hi, each end open or closed */
} netfile_opt_kind;

typedef struct netfile_opt {
    const char *key;
    unsigned types;            /* NETFILE_BIT of each layer type that takes it */
    netfile_opt_kind kind;
    size_t off, off2;          /* its field(s) in ccnn_layer_spec */
    double lo, hi;             /* INT, PAIR, PAD, FLOAT: the valid range */
    unsigned char lo_open, hi_open; /* FLOAT: the end itself is refused */
    unsigned char negate;      /* FLAG */
    unsigned char required;    /* >0: a line without it is refused; missing
                                * ones are reported in increasing order */
    const char *const *words;  /* WORD: NULL-terminated */
    float start;               /* FLOAT: the value before the line is read
                                * (0: the layer's setup resolves 0) */
    const char *expect;        /* for "bad value" messages */
} netfile_opt;

extern const netfile_opt netfile_layer_opts[];
extern const size_t netfile_n_layer_opts;

/* The row of `key` (exact), or NULL. */
const netfile_opt *netfile_layer_opt(const char *key);

/* Sets the fields of the rows that take sp->type to their `start`. */
void netfile_opts_start(ccnn_layer_spec *sp);

/* Parses `val` into the row's field(s) of *sp: 0, or -1 when the text is
 * not a valid value (the fields may then hold part of it). */
int netfile_opt_set(const netfile_opt *o, ccnn_layer_spec *sp, const char *val);

/* The row's value in *sp as the file writes it (floats to 9 significant
 * digits, so they read back bit for bit) into out: snprintf's return. */
int netfile_opt_format(const netfile_opt *o, const ccnn_layer_spec *sp, char *out, size_t n);

/* Value parsers shared with the input and train lines: 0 or -1. */
int netfile_parse_int(const char *s, long lo, long hi, int *out);
int netfile_parse_float(const char *s, float *out);        /* finite */
int netfile_empty_item(const char *s);  /* 1: a comma list with an empty item */

#endif
