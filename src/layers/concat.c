/* concat.c - 2..4 inputs of equal H x W stacked along channels, in input
 * order: per sample, output channels [0, C0) are input 0, then input 1, ...
 * Backward hands each input its slice of dout. */
#include "net/layer.h"
#include <limits.h>
#include <string.h>

static int concat_setup(ccnn_layer *l, char *err, size_t errlen)
{
    long long c = 0;
    for (int i = 0; i < l->n_in; i++) {
        ccnn_shape a = l->in_shape[0], b = l->in_shape[i];
        if (a.h != b.h || a.w != b.w)
            return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                    "inputs must have the same height and width: %s is %dx%dx%d, %s is %dx%dx%d",
                                    l->spec.inputs[0], a.c, a.h, a.w, l->spec.inputs[i], b.c, b.h, b.w);
        c += b.c;
    }
    if (c > INT_MAX)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%lld channels do not fit an int", c);
    l->out_shape = (ccnn_shape){(int)c, l->in_shape[0].h, l->in_shape[0].w};
    return CCNN_OK;
}

static int concat_forward(ccnn_layer *l, const ccnn_run *run)
{
    size_t out_sz = ccnn_shape_size(l->out_shape);
    for (int n = 0; n < run->batch; n++) {
        float *y = l->out + (size_t)n * out_sz;
        for (int i = 0; i < l->n_in; i++) {
            size_t sz = ccnn_shape_size(l->in_shape[i]);
            memcpy(y, l->in[i] + (size_t)n * sz, sz * sizeof(float));
            y += sz;
        }
    }
    return CCNN_OK;
}

static int concat_backward(ccnn_layer *l, const ccnn_run *run)
{
    size_t out_sz = ccnn_shape_size(l->out_shape);
    for (int n = 0; n < run->batch; n++) {
        const float *dy = l->dout + (size_t)n * out_sz;
        for (int i = 0; i < l->n_in; i++) {
            size_t sz = ccnn_shape_size(l->in_shape[i]);
            float *dx = l->din[i];
            if (dx) {
                dx += (size_t)n * sz;
                for (size_t j = 0; j < sz; j++) dx[j] += dy[j];
            }
            dy += sz;
        }
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_concat_ops = {
    .type_name  = "concat",
    .min_inputs = 2,
    .max_inputs = CCNN_MAX_INPUTS,
    .setup      = concat_setup,
    .forward    = concat_forward,
    .backward   = concat_backward,
};
