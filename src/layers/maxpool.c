/* maxpool.c - max pooling over size_h x size_w windows, and the window
 * geometry that avgpool.c shares.
 *
 * Geometry rules, checked in setup (the same for maxpool and avgpool):
 *   - stride 0 means the kernel size (PyTorch's default);
 *   - dilation must be 0 or 1: pools have none;
 *   - each pad must be smaller than the kernel along its axis
 *     (pad_top, pad_bottom < size_h; pad_left, pad_right < size_w). This is
 *     looser than PyTorch's "at most half of the kernel" and allows different
 *     pads per side, yet still makes every window overlap the input by at
 *     least one pixel, so a max never comes from padding alone;
 *   - floor mode: P = (H + pad_top + pad_bottom - size_h) / stride_h + 1.
 *
 * Padding counts as -inf: it is never the maximum. Ties go to the first
 * maximum in row-major scan order; a NaN in a window wins (it propagates,
 * as in PyTorch). Forward stores the winner of each output, and backward
 * adds the output gradient to it. */
#include "net/layer.h"
#include "kernels/eltwise.h"
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

int ccnn_pool2d_setup(ccnn_layer *l, char *err, size_t errlen)
{
    ccnn_layer_spec *s = &l->spec;
    ccnn_shape in = l->in_shape[0];
    if (s->size_h <= 0 || s->size_w <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "size must be > 0 (got %dx%d)",
                                s->size_h, s->size_w);
    if (s->stride_h < 0 || s->stride_w < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "stride must be >= 0");
    if (!s->stride_h) s->stride_h = s->size_h;
    if (!s->stride_w) s->stride_w = s->size_w;
    if (s->dilation_h < 0 || s->dilation_h > 1 || s->dilation_w < 0 || s->dilation_w > 1)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "pools have no dilation (got %d,%d)",
                                s->dilation_h, s->dilation_w);
    s->dilation_h = s->dilation_w = 1;
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "padding must be >= 0");
    if (s->pad_top >= s->size_h || s->pad_bottom >= s->size_h ||
        s->pad_left >= s->size_w || s->pad_right >= s->size_w)
        return ccnn_errf(err, errlen, CCNN_EINVAL,
                                "pad %d,%d,%d,%d (top,bottom,left,right) must be smaller than the "
                                "%dx%d kernel on each side",
                                s->pad_top, s->pad_bottom, s->pad_left, s->pad_right,
                                s->size_h, s->size_w);
    int64_t span_h = (int64_t)in.h + s->pad_top + s->pad_bottom;
    int64_t span_w = (int64_t)in.w + s->pad_left + s->pad_right;
    if (span_h < s->size_h || span_w < s->size_w)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                "a %dx%d kernel does not fit the %dx%d input with padding %d,%d,%d,%d",
                                s->size_h, s->size_w, in.h, in.w,
                                s->pad_top, s->pad_bottom, s->pad_left, s->pad_right);
    if ((int64_t)in.h * in.w > INT32_MAX)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "a %dx%d input plane is too large",
                                in.h, in.w);
    l->out_shape = (ccnn_shape){in.c, (int)((span_h - s->size_h) / s->stride_h + 1),
                                (int)((span_w - s->size_w) / s->stride_w + 1)};
    l->flops = (double)ccnn_shape_size(l->out_shape) * s->size_h * s->size_w;
    return CCNN_OK;
}

/* The winner of each output element: its index within its input plane. */
typedef struct { int32_t *argmax; size_t cap; } maxpool_priv;

static int maxpool_reserve(ccnn_layer *l, int batch)
{
    maxpool_priv *pv = l->priv;
    if (!pv) {
        if (!(pv = calloc(1, sizeof *pv))) return CCNN_ENOMEM;
        l->priv = pv;
    }
    size_t need = (size_t)batch * ccnn_shape_size(l->out_shape);
    if (need > pv->cap) {
        int32_t *a = realloc(pv->argmax, need * sizeof *a);
        if (!a) return CCNN_ENOMEM;
        pv->argmax = a;
        pv->cap = need;
    }
    return CCNN_OK;
}

/* The common 2x2, stride-2, unpadded pool: every window is inside the
 * plane, so the vector kernels (kernels/eltwise.h) need no bounds. Same
 * winners as the general loop below. */
static int is_2x2(const ccnn_layer_spec *s)
{
    return s->size_h == 2 && s->size_w == 2 && s->stride_h == 2 && s->stride_w == 2 &&
           !s->pad_top && !s->pad_bottom && !s->pad_left && !s->pad_right;
}

static int maxpool_forward(ccnn_layer *l, const ccnn_run *run)
{
    const ccnn_layer_spec *s = &l->spec;
    const int H = l->in_shape[0].h, W = l->in_shape[0].w, P = l->out_shape.h, Q = l->out_shape.w;
    const int64_t planes = (int64_t)run->batch * l->out_shape.c;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)P * Q;
    maxpool_priv *pv = l->priv;
    const ccnn_eltwise_kernels *k = is_2x2(s) ? ccnn_eltwise_for(ccnn_get_isa()) : NULL;
    /* planes are independent: no race, and the result does not depend on threads */
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)out_plane > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = l->in[0] + (size_t)pl * in_plane;
        float *y = l->out + (size_t)pl * out_plane;
        int32_t *am = pv->argmax + (size_t)pl * out_plane;
        if (k) {
            k->maxpool2x2(x, W, P, Q, y, am);
            continue;
        }
        for (int p = 0; p < P; p++) {
            int h0 = p * s->stride_h - s->pad_top;
            int hs = h0 > 0 ? h0 : 0, he = h0 + s->size_h < H ? h0 + s->size_h : H;
            for (int q = 0; q < Q; q++) {
                int w0 = q * s->stride_w - s->pad_left;
                int ws = w0 > 0 ? w0 : 0, we = w0 + s->size_w < W ? w0 + s->size_w : W;
                /* the rules guarantee hs < he and ws < we: start from a real pixel */
                int32_t best_i = hs * W + ws;
                float best = x[best_i];
                for (int h = hs; h < he; h++)
                    for (int w = ws; w < we; w++) {
                        float v = x[h * W + w];
                        if (v > best || (v != v && best == best)) { best = v; best_i = h * W + w; }
                    }
                y[p * Q + q] = best;
                am[p * Q + q] = best_i;
            }
        }
    }
    return CCNN_OK;
}

static int maxpool_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    const int64_t planes = (int64_t)run->batch * l->out_shape.c;
    const size_t in_plane = ccnn_shape_size(l->in_shape[0]) / l->in_shape[0].c;
    const size_t out_plane = (size_t)l->out_shape.h * l->out_shape.w;
    const maxpool_priv *pv = l->priv;
    const int fresh = run->din_fresh;
    /* overlapping windows may share a winner; each plane is one thread's, in
     * order. (This scalar scatter beat every vector variant tried for the
     * 2x2 case: see kernels/eltwise.h.) A fresh din (set_din) is zeroed
     * here a plane at a time, just before its scatter, by the thread that
     * scatters into it: the plane is then in its cache, where the engine's
     * zeroing of the whole tensor left it in memory. The same bits. */
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)out_plane > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = l->din[0] + (size_t)pl * in_plane;
        const float *dy = l->dout + (size_t)pl * out_plane;
        const int32_t *am = pv->argmax + (size_t)pl * out_plane;
        if (fresh) memset(dx, 0, in_plane * sizeof(float));
        for (size_t o = 0; o < out_plane; o++) dx[am[o]] += dy[o];
    }
    return CCNN_OK;
}

static void maxpool_destroy(ccnn_layer *l)
{
    maxpool_priv *pv = l->priv;
    if (pv) { free(pv->argmax); free(pv); }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_maxpool_ops = {
    .type_name  = "maxpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = ccnn_pool2d_setup,
    .reserve    = maxpool_reserve,
    .forward    = maxpool_forward,
    .backward   = maxpool_backward,
    .destroy    = maxpool_destroy,
    .set_din    = 1,
};
