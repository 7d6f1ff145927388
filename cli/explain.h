/* explain.h - `ccnn explain`: one convolution's backward pass worked out.
 * cmd_explain.c reads the options and computes the example with the
 * library's reference convolution; explain_text.c, explain_json.c and
 * explain_html.c (with its SVG figures, also used for docs/figures/) write
 * it. Everything here only reads an explain_t. */
#ifndef CCNN_CLI_EXPLAIN_H
#define CCNN_CLI_EXPLAIN_H
#include "ccnn.h"
#include <stdint.h>
#include <stdio.h>

typedef struct explain_t {
    ccnn_conv2d_params p;   /* every field set: no 0-means-1 left */
    int bias;               /* the layer has a bias */
    unsigned long long seed;
    int P, Q, cg, kg;       /* output size; channels and filters per group */
    int rem_h, rem_w;       /* padded rows/columns past the last window's reach */
    int numbers;            /* the tensors below were computed */
    int printable;          /* small enough to print them as grids */
    /* NCHW / KCRS, malloc'ed; b and db NULL without a bias */
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} explain_t;

/* Element counts of the tensors. */
int64_t explain_count_x(const explain_t *e);
int64_t explain_count_w(const explain_t *e);
int64_t explain_count_y(const explain_t *e);

/* How many output windows read input row h (vertical != 0) or column h;
 * 0 means that row's gradient is 0. */
int explain_windows_reading(const explain_t *e, int vertical, int h);

/* Pads of the zero-inserted delta for the full correlation (negative:
 * crop): pads[4] = top, bottom, left, right. Its size before padding is
 * ((P-1)*sh+1) x ((Q-1)*sw+1). */
void explain_delta_pads(const explain_t *e, int pads[4]);

/* Multiply-adds: the dense count of each pass (im2col + GEMM), the products
 * that read a real (not padded) input, and the zero-inserted full
 * correlation's count for dx. */
typedef struct explain_macs {
    double forward, backward_data, backward_weights, bias_adds;
    double real_products, dx_full_correlation;
} explain_macs;
explain_macs explain_count_macs(const explain_t *e);

/* x[n,c,h,w] with 0 outside the input (the padding). */
float explain_x_at(const explain_t *e, int n, int c, int h, int w);

/* Index expressions for the equations: explain_index gives "2p + r - 1"
 * (input row read by output row p through tap r), explain_quotient
 * "(h + 1 - r)/2" (output row reading input row h through tap r). */
void explain_index(char *buf, size_t len, int stride, const char *out, int dil, const char *tap, int pad);
void explain_quotient(char *buf, size_t len, const char *in, int pad, int dil, const char *tap, int stride);
/* Why no window reads row (column) h, for one with explain_windows_reading 0. */
const char *explain_unread_reason(const explain_t *e, int vertical, int h);
/* The entries worked out term by term: the dx entry of the last sample and
 * channel with the most terms; the dw tap of the last filter and channel
 * with the fewest real (unpadded) terms. idx = n,c,h,w or k,c',r,s. */
void explain_pick_dx(const explain_t *e, int idx[4]);
void explain_pick_dw(const explain_t *e, int idx[4]);

int explain_write_text(FILE *f, const explain_t *e);
int explain_write_json(FILE *f, const explain_t *e);
int explain_write_html(FILE *f, const explain_t *e);

/* The figures, each a complete <svg> element (explain_html.c). */
void explain_svg_windows(FILE *f, const explain_t *e);   /* padded input, two windows */
void explain_svg_delta(FILE *f, const explain_t *e);     /* zero-inserted padded delta, flipped kernel */
void explain_svg_kernels(FILE *f, const explain_t *e);   /* K x Cg kernels and their transpose */
#endif
