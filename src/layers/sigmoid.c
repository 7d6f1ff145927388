/* sigmoid.c - y = 1 / (1 + exp(-x)); dy/dx = y (1 - y), from the saved output. */
#include "net/layer.h"
#include <math.h>

#define PAR_MIN (1 << 14) /* element-wise: thread count cannot change results */

static int sigmoid_setup(ccnn_layer *l, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    l->out_shape = l->in_shape[0];
    l->flops = 4.0 * (double)ccnn_shape_size(l->out_shape); /* exp, add, divide, sign test */
    return CCNN_OK;
}

/* exp of a non-positive number only, so nothing overflows for large |x|. */
static inline float sigmoidf(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static int sigmoid_forward(ccnn_layer *l, const ccnn_run *run)
{
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *x = l->in[0];
    float *y = l->out;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = sigmoidf(x[i]);
    return CCNN_OK;
}

static int sigmoid_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *y = l->out, *dy = l->dout;
    float *dx = l->din[0];
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_sigmoid_ops = {
    .type_name  = "sigmoid",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = sigmoid_setup,
    .forward    = sigmoid_forward,
    .backward   = sigmoid_backward,
};
