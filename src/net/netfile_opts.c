/* netfile_opts.c - the table of layer options (netfile_opts.h) and the
 * value parsers of the network-file format. */
#include "net/netfile_opts.h"
#include "net/net_internal.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIT NETFILE_BIT
#define CONV_LIKE (BIT(CCNN_LAYER_CONV) | BIT(CCNN_LAYER_DECONV))
#define POOLS (BIT(CCNN_LAYER_MAXPOOL) | BIT(CCNN_LAYER_AVGPOOL))
#define WEIGHTED (CONV_LIKE | BIT(CCNN_LAYER_DENSE))
#define ANY 0xffffffffu
#define AT(f) offsetof(ccnn_layer_spec, f)
#define DIM_MAX (1 << 20)   /* sizes, strides, pads, dilations */
#define COUNT_MAX (1 << 24) /* filters, units, groups */

static const char *const init_words[] = {"he", "xavier", NULL}; /* ccnn_init's order */

/* The order of the rows is the order options are written in and listed in
 * messages. */
const netfile_opt netfile_layer_opts[] = {
    {.key = "name", .types = ANY, .kind = NETFILE_NAME, .off = AT(name),
     .expect = "a name: letters, digits, _ or -, starting with a letter or _"},
    {.key = "input", .types = ANY, .kind = NETFILE_INPUTS,
     .expect = "one to four layer names separated by commas"},
    {.key = "filters", .types = CONV_LIKE, .kind = NETFILE_INT, .off = AT(filters), .lo = 1, .hi = COUNT_MAX,
     .required = 2, .expect = "a positive integer"},
    {.key = "units", .types = BIT(CCNN_LAYER_DENSE), .kind = NETFILE_INT, .off = AT(filters), .lo = 1,
     .hi = COUNT_MAX, .required = 2, .expect = "a positive integer"},
    {.key = "size", .types = CONV_LIKE | POOLS, .kind = NETFILE_PAIR, .off = AT(size_h), .off2 = AT(size_w),
     .lo = 1, .hi = DIM_MAX, .required = 1, .expect = "N or HxW, positive"},
    {.key = "stride", .types = CONV_LIKE | POOLS, .kind = NETFILE_PAIR, .off = AT(stride_h),
     .off2 = AT(stride_w), .lo = 1, .hi = DIM_MAX, .expect = "N or HxW, positive"},
    {.key = "pad", .types = CONV_LIKE | POOLS, .kind = NETFILE_PAD, .off = AT(pad_top), .lo = 0, .hi = DIM_MAX,
     .expect = "P, PHxPW or TOP,BOTTOM,LEFT,RIGHT"},
    {.key = "dilation", .types = CONV_LIKE, .kind = NETFILE_PAIR, .off = AT(dilation_h),
     .off2 = AT(dilation_w), .lo = 1, .hi = DIM_MAX, .expect = "N or HxW, positive"},
    {.key = "groups", .types = CONV_LIKE, .kind = NETFILE_INT, .off = AT(groups), .lo = 1, .hi = COUNT_MAX,
     .expect = "a positive integer"},
    {.key = "output_pad", .types = BIT(CCNN_LAYER_DECONV), .kind = NETFILE_PAIR, .off = AT(output_pad_h),
     .off2 = AT(output_pad_w), .lo = 0, .hi = DIM_MAX, .expect = "N or HxW"},
    {.key = "bias", .types = WEIGHTED, .kind = NETFILE_FLAG, .off = AT(no_bias), .negate = 1,
     .expect = "0 or 1"},
    {.key = "init", .types = WEIGHTED, .kind = NETFILE_WORD, .off = AT(init), .words = init_words,
     .expect = "he or xavier"},
    {.key = "slope", .types = BIT(CCNN_LAYER_LEAKY_RELU), .kind = NETFILE_FLOAT, .off = AT(slope),
     .lo = -HUGE_VAL, .hi = HUGE_VAL, .expect = "a number"},
    {.key = "rate", .types = BIT(CCNN_LAYER_DROPOUT), .kind = NETFILE_FLOAT, .off = AT(rate), .lo = 0, .hi = 1,
     .hi_open = 1, .start = 0.5f, .expect = "a number in [0, 1)"},
    {.key = "eps", .types = BIT(CCNN_LAYER_BATCHNORM), .kind = NETFILE_FLOAT, .off = AT(eps), .lo = 0,
     .hi = HUGE_VAL, .lo_open = 1, .expect = "a positive number"},
    {.key = "momentum", .types = BIT(CCNN_LAYER_BATCHNORM), .kind = NETFILE_FLOAT, .off = AT(momentum),
     .lo = 0, .hi = 1, .lo_open = 1, .expect = "a number in (0, 1]"},
};
const size_t netfile_n_layer_opts = sizeof netfile_layer_opts / sizeof netfile_layer_opts[0];
_Static_assert(sizeof netfile_layer_opts / sizeof netfile_layer_opts[0] <= 64, "the parser's seen-mask is 64 bits");
_Static_assert(AT(pad_right) == AT(pad_top) + 3 * sizeof(int) && AT(pad_bottom) == AT(pad_top) + sizeof(int),
               "NETFILE_PAD stores top, bottom, left, right as four adjacent ints");

const netfile_opt *netfile_layer_opt(const char *key)
{
    for (size_t k = 0; k < netfile_n_layer_opts; k++)
        if (!strcmp(netfile_layer_opts[k].key, key)) return &netfile_layer_opts[k];
    return NULL;
}

void netfile_opts_start(ccnn_layer_spec *sp)
{
    for (size_t k = 0; k < netfile_n_layer_opts; k++) {
        const netfile_opt *o = &netfile_layer_opts[k];
        if ((o->types & BIT(sp->type)) && o->kind == NETFILE_FLOAT)
            *(float *)((char *)sp + o->off) = o->start;
    }
}

/* ---- values ------------------------------------------------------------- */

int netfile_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int netfile_parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

/* strtok_r would silently skip the empty item of "1,,2", ",1" or "1,". */
int netfile_empty_item(const char *s)
{
    size_t n = strlen(s);
    return n && (s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,"));
}

/* "A" or "AxB" (or "A,B"); one value is used for both. */
static int parse_pair(const char *s, long lo, long hi, int *a, int *b)
{
    char buf[64];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *sep = strpbrk(buf, "x,");
    if (!sep) return netfile_parse_int(buf, lo, hi, a) || netfile_parse_int(buf, lo, hi, b) ? -1 : 0;
    *sep = 0;
    return netfile_parse_int(buf, lo, hi, a) || netfile_parse_int(sep + 1, lo, hi, b) ? -1 : 0;
}

/* "P" (all sides), "PHxPW", or "T,B,L,R" into v[4] = top, bottom, left, right. */
static int parse_pad(const char *s, long lo, long hi, int v[4])
{
    int n = 0;
    char buf[64], *tok, *save;
    if (strlen(s) >= sizeof buf || netfile_empty_item(s)) return -1;
    strcpy(buf, s);
    if (strchr(buf, 'x')) {
        if (parse_pair(buf, lo, hi, &v[0], &v[2])) return -1;
        v[1] = v[0];
        v[3] = v[2];
        return 0;
    }
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 4 || netfile_parse_int(tok, lo, hi, &v[n])) return -1;
        n++;
    }
    if (n == 1) v[1] = v[2] = v[3] = v[0];
    else if (n != 4) return -1;
    return 0;
}

static int parse_names(const char *s, ccnn_layer_spec *sp)
{
    char buf[CCNN_MAX_INPUTS * CCNN_NAME_MAX + 8], *tok, *save;
    if (strlen(s) >= sizeof buf || netfile_empty_item(s)) return -1;
    strcpy(buf, s);
    sp->n_inputs = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (sp->n_inputs == CCNN_MAX_INPUTS || strlen(tok) >= CCNN_NAME_MAX) return -1;
        strcpy(sp->inputs[sp->n_inputs++], tok);
    }
    return sp->n_inputs ? 0 : -1;
}

/* ---- one option ----------------------------------------------------------- */

#define FIELD(sp, off, type) ((type *)((char *)(sp) + (off)))
#define CFIELD(sp, off, type) (*(const type *)((const char *)(sp) + (off)))

int netfile_opt_set(const netfile_opt *o, ccnn_layer_spec *sp, const char *val)
{
    int a, b, v[4];
    float f;
    switch (o->kind) {
    case NETFILE_NAME:
        if (!ccnn_net_valid_name(val)) return -1;
        strcpy(FIELD(sp, o->off, char), val);
        return 0;
    case NETFILE_INPUTS: return parse_names(val, sp);
    case NETFILE_INT: return netfile_parse_int(val, (long)o->lo, (long)o->hi, FIELD(sp, o->off, int));
    case NETFILE_PAIR:
        if (parse_pair(val, (long)o->lo, (long)o->hi, &a, &b)) return -1;
        *FIELD(sp, o->off, int) = a;
        *FIELD(sp, o->off2, int) = b;
        return 0;
    case NETFILE_PAD:
        if (parse_pad(val, (long)o->lo, (long)o->hi, v)) return -1;
        memcpy(FIELD(sp, o->off, int), v, sizeof v); /* pad_top..pad_right are adjacent ints */
        return 0;
    case NETFILE_FLAG:
        if (netfile_parse_int(val, 0, 1, &a)) return -1;
        *FIELD(sp, o->off, int) = o->negate ? !a : a;
        return 0;
    case NETFILE_WORD:
        for (int i = 0; o->words[i]; i++)
            if (!strcmp(val, o->words[i])) { *FIELD(sp, o->off, int) = i; return 0; }
        return -1;
    case NETFILE_FLOAT:
        /* checked as the float it is stored as: 1e-50 is refused as eps */
        if (netfile_parse_float(val, &f) || (o->lo_open ? f <= o->lo : f < o->lo) ||
            (o->hi_open ? f >= o->hi : f > o->hi))
            return -1;
        *FIELD(sp, o->off, float) = f;
        return 0;
    }
    return -1;
}

int netfile_opt_format(const netfile_opt *o, const ccnn_layer_spec *sp, char *out, size_t n)
{
    int i, len = 0;
    switch (o->kind) {
    case NETFILE_NAME: return snprintf(out, n, "%s", &CFIELD(sp, o->off, char));
    case NETFILE_INPUTS:
        if (n) out[0] = 0;
        for (i = 0; i < sp->n_inputs; i++) {
            int k = snprintf(out + len, (size_t)len < n ? n - (size_t)len : 0, "%s%s", i ? "," : "", sp->inputs[i]);
            if (k < 0) return k;
            len += k;
        }
        return len;
    case NETFILE_INT: return snprintf(out, n, "%d", CFIELD(sp, o->off, int));
    case NETFILE_PAIR: return snprintf(out, n, "%dx%d", CFIELD(sp, o->off, int), CFIELD(sp, o->off2, int));
    case NETFILE_PAD: {
        const int *p = &CFIELD(sp, o->off, int);
        return snprintf(out, n, "%d,%d,%d,%d", p[0], p[1], p[2], p[3]);
    }
    case NETFILE_FLAG: return snprintf(out, n, "%d", o->negate ? !CFIELD(sp, o->off, int) : CFIELD(sp, o->off, int));
    case NETFILE_WORD:
        i = CFIELD(sp, o->off, int);
        for (len = 0; o->words[len]; len++) {}
        return snprintf(out, n, "%s", o->words[i > 0 && i < len ? i : 0]); /* as before: not xavier is he */
    case NETFILE_FLOAT: return snprintf(out, n, "%.9g", CFIELD(sp, o->off, float));
    }
    return -1;
}
