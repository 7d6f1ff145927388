/* tanh.c - y = tanh(x); dy/dx = 1 - y^2, from the saved output. */
#include "net/layer.h"
#include <math.h>

#define PAR_MIN (1 << 14) /* element-wise: thread count cannot change results */

static int tanh_setup(ccnn_layer *l, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    l->out_shape = l->in_shape[0];
    l->flops = 4.0 * (double)ccnn_shape_size(l->out_shape); /* about one exp and a divide */
    return CCNN_OK;
}

static int tanh_forward(ccnn_layer *l, const ccnn_run *run)
{
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *x = l->in[0];
    float *y = l->out;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
    return CCNN_OK;
}

static int tanh_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *y = l->out, *dy = l->dout;
    float *dx = l->din[0];
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_tanh_ops = {
    .type_name  = "tanh",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = tanh_setup,
    .forward    = tanh_forward,
    .backward   = tanh_backward,
};
