/* conv_cases.c - random convolution configurations for the tests. The output
 * size is recomputed here from the formula in the issue, independently of
 * the library. */
#include "conv_cases.h"
#include <stdio.h>

static int dflt(int v) { return v ? v : 1; }

static void out_hw(const ccnn_conv2d_params *p, int *P, int *Q)
{
    *P = (p->h + p->pad_top + p->pad_bottom - dflt(p->dilation_h) * (p->r - 1) - 1) / dflt(p->stride_h) + 1;
    *Q = (p->w + p->pad_left + p->pad_right - dflt(p->dilation_w) * (p->s - 1) - 1) / dflt(p->stride_w) + 1;
}

ccnn_conv2d_params conv_case_random(test_rng *rng, int max_hw, int max_ch, int max_n)
{
    for (;;) {
        ccnn_conv2d_params p = {0};
        int g = test_rand_int(rng, 1, 3);
        int depthwise = test_rand_int(rng, 0, 5) == 0;
        p.n = test_rand_int(rng, 1, max_n);
        p.groups = g == 1 && test_rand_int(rng, 0, 1) ? 0 : g; /* 0 means 1 */
        p.c = g * test_rand_int(rng, 1, max_ch);
        p.k = depthwise ? p.c : g * test_rand_int(rng, 1, max_ch);
        if (depthwise) p.groups = p.c;
        p.r = test_rand_int(rng, 1, 4);
        p.s = test_rand_int(rng, 1, 4);
        p.h = test_rand_int(rng, 1, max_hw);
        p.w = test_rand_int(rng, 1, max_hw);
        p.stride_h = test_rand_int(rng, 0, 3);
        p.stride_w = test_rand_int(rng, 0, 3);
        p.dilation_h = test_rand_int(rng, 0, 3);
        p.dilation_w = test_rand_int(rng, 0, 3);
        p.pad_top = test_rand_int(rng, 0, 2);
        p.pad_bottom = test_rand_int(rng, 0, 2);
        p.pad_left = test_rand_int(rng, 0, 2);
        p.pad_right = test_rand_int(rng, 0, 2);
        int P, Q;
        if (p.h + p.pad_top + p.pad_bottom < dflt(p.dilation_h) * (p.r - 1) + 1) continue;
        if (p.w + p.pad_left + p.pad_right < dflt(p.dilation_w) * (p.s - 1) + 1) continue;
        out_hw(&p, &P, &Q);
        if (P >= 1 && Q >= 1) return p;
    }
}

size_t conv_x_count(const ccnn_conv2d_params *p) { return (size_t)p->n * p->c * p->h * p->w; }
size_t conv_w_count(const ccnn_conv2d_params *p) { return (size_t)p->k * (p->c / dflt(p->groups)) * p->r * p->s; }
size_t conv_y_count(const ccnn_conv2d_params *p)
{
    int P, Q;
    out_hw(p, &P, &Q);
    return (size_t)p->n * p->k * P * Q;
}

void conv_case_print(const ccnn_conv2d_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "N%d C%d %dx%d K%d %dx%d stride %d,%d pad t%d b%d l%d r%d dil %d,%d groups %d",
             p->n, p->c, p->h, p->w, p->k, p->r, p->s, p->stride_h, p->stride_w, p->pad_top,
             p->pad_bottom, p->pad_left, p->pad_right, p->dilation_h, p->dilation_w, p->groups);
}
