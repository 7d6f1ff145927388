/* avgpool.c - average pooling over size_h x size_w windows, and global
 * average pooling (C x H x W -> C x 1 x 1).
 *
 * avgpool has the window geometry of maxpool (rules in maxpool.c) and
 * counts padding as zeros: every window is divided by size_h * size_w,
 * PyTorch's count_include_pad=True. With the floor-mode output size no
 * window reaches past the padding, so this is exactly PyTorch's divisor, and
 * asymmetric padding means the same as F.pad with zeros then pad=0. */
#include "net/layer.h"
#include <stdint.h>


/* A pool window clipped to the input: rows [hs, he), columns [ws, we). */
#define POOL_WINDOW(s, p, q, H, W)                                                   \
    int h0 = (p) * (s)->stride_h - (s)->pad_top, w0 = (q) * (s)->stride_w - (s)->pad_left; \
    int hs = h0 > 0 ? h0 : 0, he = h0 + (s)->size_h < (H) ? h0 + (s)->size_h : (H);  \
    int ws = w0 > 0 ? w0 : 0, we = w0 + (s)->size_w < (W) ? w0 + (s)->size_w : (W)

static int avgpool_forward(ccnn_layer *l, const ccnn_run *run)
{
    const ccnn_layer_spec *s = &l->spec;
    const int H = l->in_shape[0].h, W = l->in_shape[0].w, P = l->out_shape.h, Q = l->out_shape.w;
    const int64_t planes = (int64_t)run->batch * l->out_shape.c;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)P * Q;
    const double inv = 1.0 / ((double)s->size_h * s->size_w);
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)out_plane > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = l->in[0] + (size_t)pl * in_plane;
        float *y = l->out + (size_t)pl * out_plane;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                POOL_WINDOW(s, p, q, H, W);
                double sum = 0;
                for (int h = hs; h < he; h++)
                    for (int w = ws; w < we; w++) sum += x[h * W + w];
                y[p * Q + q] = (float)(sum * inv);
            }
    }
    return CCNN_OK;
}

static int avgpool_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    const ccnn_layer_spec *s = &l->spec;
    const int H = l->in_shape[0].h, W = l->in_shape[0].w, P = l->out_shape.h, Q = l->out_shape.w;
    const int64_t planes = (int64_t)run->batch * l->out_shape.c;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)P * Q;
    const float inv = (float)(1.0 / ((double)s->size_h * s->size_w));
    /* windows of one plane may overlap: one thread per plane, fixed order */
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)out_plane > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = l->din[0] + (size_t)pl * in_plane;
        const float *dy = l->dout + (size_t)pl * out_plane;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                POOL_WINDOW(s, p, q, H, W);
                float g = dy[p * Q + q] * inv;
                for (int h = hs; h < he; h++)
                    for (int w = ws; w < we; w++) dx[h * W + w] += g;
            }
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_avgpool_ops = {
    .type_name  = "avgpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = ccnn_pool2d_setup,
    .forward    = avgpool_forward,
    .backward   = avgpool_backward,
};

/* ---- global average pooling ---------------------------------------------- */

static int gap_setup(ccnn_layer *l, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    l->out_shape = (ccnn_shape){l->in_shape[0].c, 1, 1};
    l->flops = (double)ccnn_shape_size(l->in_shape[0]);
    return CCNN_OK;
}

static int gap_forward(ccnn_layer *l, const ccnn_run *run)
{
    const int64_t planes = (int64_t)run->batch * l->in_shape[0].c;
    const size_t hw = (size_t)l->in_shape[0].h * l->in_shape[0].w;
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)hw > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = l->in[0] + (size_t)pl * hw;
        double sum = 0;
        for (size_t i = 0; i < hw; i++) sum += x[i];
        l->out[pl] = (float)(sum / (double)hw);
    }
    return CCNN_OK;
}

static int gap_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    const int64_t planes = (int64_t)run->batch * l->in_shape[0].c;
    const size_t hw = (size_t)l->in_shape[0].h * l->in_shape[0].w;
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) \
        if (planes * (int64_t)hw > 8192)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = l->din[0] + (size_t)pl * hw;
        float g = (float)(l->dout[pl] / (double)hw);
        for (size_t i = 0; i < hw; i++) dx[i] += g;
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_global_avgpool_ops = {
    "global_avgpool", 1, 1, gap_setup, NULL, NULL, gap_forward, gap_backward, NULL,
    0, /* set_din: adds into din */
    0, /* fuse_relu */
};
