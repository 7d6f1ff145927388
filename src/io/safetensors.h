/* safetensors.h - the safetensors file format (Hugging Face), F32 only, and
 * atomic file replacement. Internal to the library.
 *
 * Layout: an 8-byte little-endian unsigned header length N; N bytes of JSON
 *   {"__metadata__": {"key": "string", ...},
 *    "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 * padded with spaces so that N is a multiple of 8; then the tensor data,
 * little-endian, row-major. Offsets are relative to the start of the data;
 * the tensors lie one after the other without gaps and cover the data
 * exactly.
 *
 * Every function returns 0 or a CCNN_E* code and, on error, writes a message
 * to err (may be NULL; errlen is its size) starting with the file's label. */
#ifndef CCNN_IO_SAFETENSORS_H
#define CCNN_IO_SAFETENSORS_H

#include "ccnn_internal.h"
#include <stdint.h>
#include <stdio.h>

#define CCNN_ST_MAX_DIMS 8
#define CCNN_ST_MAX_HEADER (100u << 20) /* 100 MiB, as the reference reader */

/* ---- writing ------------------------------------------------------------ */
typedef struct ccnn_st_out {
    const char *name;
    const int *dims;               /* ndim entries, each >= 0 */
    int ndim;                      /* 0..CCNN_ST_MAX_DIMS; 0 is a scalar */
    const float *data;             /* product(dims) floats; may be NULL if 0 */
} ccnn_st_out;

typedef struct ccnn_st_kv {
    const char *key, *value;
} ccnn_st_kv;

/* Writes a whole safetensors file to f, tensors in the given order.
 * Refuses (CCNN_EINVAL) empty or duplicate names and "__metadata__";
 * CCNN_EIO if a write fails. `label` names the file in messages. */
int ccnn_st_write(FILE *f, const char *label, const ccnn_st_out *tensors, int n_tensors,
                  const ccnn_st_kv *meta, int n_meta, char *err, size_t errlen);

/* ---- reading ------------------------------------------------------------ */
typedef struct ccnn_st_tensor {
    char *name;
    int ndim;
    int64_t dims[CCNN_ST_MAX_DIMS];
    uint64_t count;                /* product of dims */
    uint64_t begin, end;           /* byte offsets in the data area */
    const unsigned char *bytes;    /* begin of the data in the file buffer (maybe unaligned) */
} ccnn_st_tensor;

typedef struct ccnn_st_file {
    unsigned char *buf;            /* the whole file (owned) */
    size_t size;
    uint64_t data_start;           /* 8 + header length */
    int n_tensors;
    ccnn_st_tensor *tensors;       /* in the header's order */
    int *by_name;                  /* indices sorted by name, for lookups */
    int n_meta;
    char **meta_keys, **meta_values;
} ccnn_st_file;

/* Parses and validates a file in memory; the buffer is copied. */
int ccnn_st_parse(const void *data, size_t size, const char *label, ccnn_st_file *out,
                  char *err, size_t errlen);
/* Reads a whole file: CCNN_EIO if it can't be read, CCNN_EFORMAT if it is
 * not a valid F32 safetensors file. Messages start with the path. */
int ccnn_st_read_file(const char *path, ccnn_st_file *out, char *err, size_t errlen);
void ccnn_st_free(ccnn_st_file *f);          /* NULL-safe; zeroes *f */

/* The metadata value for key, or NULL. */
const char *ccnn_st_meta(const ccnn_st_file *f, const char *key);
/* The tensor called name, or NULL. */
const ccnn_st_tensor *ccnn_st_find(const ccnn_st_file *f, const char *name);
/* Copies the tensor's t->count floats to dst (host byte order). */
void ccnn_st_copy(const ccnn_st_tensor *t, float *dst);

/* "32x1x3x3" ("scalar" for ndim 0) into buf; returns buf. */
char *ccnn_st_shape_str(const int64_t *dims, int ndim, char *buf, size_t len);

#include "io/atomic.h" /* the atomic writer model files are saved with */

#endif
