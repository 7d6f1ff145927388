/* flatten.c - C x H x W becomes (C*H*W) x 1 x 1; the data (NCHW, contiguous)
 * is already in that order, so forward is a copy and backward an add. */
#include "net/layer.h"
#include <limits.h>
#include <string.h>

static int flatten_setup(ccnn_layer *l, char *err, size_t errlen)
{
    size_t n = ccnn_shape_size(l->in_shape[0]);
    if (n > INT_MAX)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%zu values per sample do not fit an int", n);
    l->out_shape = (ccnn_shape){(int)n, 1, 1};
    return CCNN_OK;
}

static int flatten_forward(ccnn_layer *l, const ccnn_run *run)
{
    memcpy(l->out, l->in[0], (size_t)run->batch * ccnn_shape_size(l->out_shape) * sizeof(float));
    return CCNN_OK;
}

static int flatten_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    size_t n = (size_t)run->batch * ccnn_shape_size(l->out_shape);
    for (size_t i = 0; i < n; i++) l->din[0][i] += l->dout[i];
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_flatten_ops = {
    .type_name  = "flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = flatten_setup,
    .forward    = flatten_forward,
    .backward   = flatten_backward,
};
