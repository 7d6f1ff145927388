/* explain_common.c - what every `ccnn explain` writer derives from the
 * configuration: counts, which windows read a row, the delta's pads, index
 * expressions, and the entries worked out term by term. */
#include "explain.h"
#include <stdio.h>
#include <string.h>

int64_t explain_count_x(const explain_t *e)
{
    return (int64_t)e->p.n * e->p.c * e->p.h * e->p.w;
}

int64_t explain_count_w(const explain_t *e)
{
    return (int64_t)e->p.k * e->cg * e->p.r * e->p.s;
}

int64_t explain_count_y(const explain_t *e)
{
    return (int64_t)e->p.n * e->p.k * e->P * e->Q;
}

int explain_windows_reading(const explain_t *e, int vertical, int h)
{
    int out = vertical ? e->P : e->Q, taps = vertical ? e->p.r : e->p.s;
    int st = vertical ? e->p.stride_h : e->p.stride_w, dil = vertical ? e->p.dilation_h : e->p.dilation_w;
    int pad = vertical ? e->p.pad_top : e->p.pad_left, count = 0;
    for (int p = 0; p < out; p++)
        for (int r = 0; r < taps; r++)
            if (p * st + r * dil - pad == h) { count++; break; }
    return count;
}

void explain_delta_pads(const explain_t *e, int pads[4])
{
    pads[0] = (e->p.r - 1) * e->p.dilation_h - e->p.pad_top;
    pads[1] = (e->p.r - 1) * e->p.dilation_h - e->p.pad_bottom + e->rem_h;
    pads[2] = (e->p.s - 1) * e->p.dilation_w - e->p.pad_left;
    pads[3] = (e->p.s - 1) * e->p.dilation_w - e->p.pad_right + e->rem_w;
}

/* (p, r) pairs (or (q, s)) whose tap lands on a real row (column). */
static double real_taps(int out, int taps, int st, int dil, int pad, int size)
{
    double n = 0;
    for (int p = 0; p < out; p++)
        for (int r = 0; r < taps; r++) {
            int h = p * st + r * dil - pad;
            n += h >= 0 && h < size;
        }
    return n;
}

explain_macs explain_count_macs(const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    explain_macs m;
    double dense = (double)p->n * p->k * e->P * e->Q * e->cg * p->r * p->s;
    m.forward = m.backward_data = m.backward_weights = dense;
    m.bias_adds = e->bias ? (double)p->n * p->k * e->P * e->Q : 0;
    m.real_products = (double)p->n * p->k * e->cg *
                      real_taps(e->P, p->r, p->stride_h, p->dilation_h, p->pad_top, p->h) *
                      real_taps(e->Q, p->s, p->stride_w, p->dilation_w, p->pad_left, p->w);
    m.dx_full_correlation = (double)p->n * p->c * p->h * p->w * e->kg * p->r * p->s;
    return m;
}

float explain_x_at(const explain_t *e, int n, int c, int h, int w)
{
    if (h < 0 || h >= e->p.h || w < 0 || w >= e->p.w) return 0;
    return e->x[(((int64_t)n * e->p.c + c) * e->p.h + h) * e->p.w + w];
}


/* "2p + r - 1": the input row read by output row p through tap r. */
void explain_index(char *buf, size_t len, int stride, const char *out, int dil, const char *tap, int pad)
{
    char a[32], b[32], c[32] = "";
    if (stride == 1) snprintf(a, sizeof a, "%s", out);
    else snprintf(a, sizeof a, "%d%s", stride, out);
    if (dil == 1) snprintf(b, sizeof b, " + %s", tap);
    else snprintf(b, sizeof b, " + %d%s", dil, tap);
    if (pad) snprintf(c, sizeof c, " - %d", pad);
    snprintf(buf, len, "%s%s%s", a, b, c);
}

/* "(h + 1 - r)/2": the output row that reads input row h through tap r. */
void explain_quotient(char *buf, size_t len, const char *in, int pad, int dil, const char *tap, int stride)
{
    char a[32] = "", b[32];
    if (pad) snprintf(a, sizeof a, " + %d", pad);
    if (dil == 1) snprintf(b, sizeof b, " - %s", tap);
    else snprintf(b, sizeof b, " - %d%s", dil, tap);
    if (stride == 1) snprintf(buf, len, "%s%s%s", in, a, b);
    else snprintf(buf, len, "(%s%s%s)/%d", in, a, b, stride);
}

const char *explain_unread_reason(const explain_t *e, int vertical, int h)
{
    int out = vertical ? e->P : e->Q, taps = vertical ? e->p.r : e->p.s;
    int st = vertical ? e->p.stride_h : e->p.stride_w, dil = vertical ? e->p.dilation_h : e->p.dilation_w;
    int pad = vertical ? e->p.pad_top : e->p.pad_left;
    for (int p = 0; p < out; p++)
        if (h >= p * st - pad && h <= p * st - pad + dil * (taps - 1)) return "in a dilation gap of a window";
    if (h > (out - 1) * st - pad + dil * (taps - 1)) return "below the last window";
    return "between two windows (the stride is longer than the dilated kernel)";
}

/* Terms of dx[n,c,h,w] in equation (2). */
static int dx_terms(const explain_t *e, int c, int h, int w)
{
    int t = 0;
    (void)c; /* every channel has the same taps; the filters of its group */
    for (int r = 0; r < e->p.r; r++)
        for (int s = 0; s < e->p.s; s++) {
            int ph = h + e->p.pad_top - r * e->p.dilation_h, qw = w + e->p.pad_left - s * e->p.dilation_w;
            if (ph < 0 || qw < 0 || ph % e->p.stride_h || qw % e->p.stride_w) continue;
            if (ph / e->p.stride_h < e->P && qw / e->p.stride_w < e->Q) t++;
        }
    return t * e->kg;
}

void explain_pick_dx(const explain_t *e, int idx[4])
{
    int best = -1;
    idx[0] = idx[1] = idx[2] = idx[3] = 0;
    for (int h = 0; h < e->p.h; h++)
        for (int w = 0; w < e->p.w; w++) {
            int t = dx_terms(e, e->p.c - 1, h, w);
            if (t > best) { best = t; idx[1] = e->p.c - 1; idx[2] = h; idx[3] = w; }
        }
    idx[0] = e->p.n - 1;
}

void explain_pick_dw(const explain_t *e, int idx[4])
{
    int best = -1;
    idx[0] = e->p.k - 1;
    idx[1] = e->cg - 1;
    idx[2] = idx[3] = 0;
    for (int r = 0; r < e->p.r; r++)
        for (int s = 0; s < e->p.s; s++) {
            int t = 0;
            for (int p = 0; p < e->P; p++)
                for (int q = 0; q < e->Q; q++) {
                    int ih = p * e->p.stride_h + r * e->p.dilation_h - e->p.pad_top;
                    int iw = q * e->p.stride_w + s * e->p.dilation_w - e->p.pad_left;
                    t += ih >= 0 && ih < e->p.h && iw >= 0 && iw < e->p.w;
                }
            /* the fewest real terms but at least one: shows padded taps dropping out */
            int key = t ? t : 1 << 30;
            if (best < 0 || key < best) { best = key; idx[2] = r; idx[3] = s; }
        }
}
