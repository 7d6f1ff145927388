/* relu.c - y = max(x, 0); the gradient passes where the output is positive. */
#include "net/layer.h"

static int relu_setup(ccnn_layer *l, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    l->out_shape = l->in_shape[0];
    return CCNN_OK;
}

static int relu_forward(ccnn_layer *l, const ccnn_run *run)
{
    size_t n = (size_t)run->batch * ccnn_shape_size(l->out_shape);
    const float *x = l->in[0];
    float *y = l->out;
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    return CCNN_OK;
}

static int relu_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    size_t n = (size_t)run->batch * ccnn_shape_size(l->out_shape);
    const float *y = l->out, *dy = l->dout;
    float *dx = l->din[0];
    for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0 ? dy[i] : 0.0f;
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_relu_ops = {
    "relu", 1, 1, relu_setup, NULL, NULL, relu_forward, relu_backward, NULL,
};
