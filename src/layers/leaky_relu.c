/* leaky_relu.c - y = x for x > 0, slope * x otherwise (slope 0 means 0.01,
 * PyTorch's default). */
#include "net/layer.h"
#include <math.h>

/* Element-wise, so the thread count cannot change any result. */
#define PAR_MIN (1 << 15)

static int leaky_setup(ccnn_layer *l, char *err, size_t errlen)
{
    if (!isfinite(l->spec.slope))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "slope must be finite");
    if (l->spec.slope == 0) l->spec.slope = 0.01f;
    l->out_shape = l->in_shape[0];
    l->flops = (double)ccnn_shape_size(l->out_shape);
    return CCNN_OK;
}

static int leaky_forward(ccnn_layer *l, const ccnn_run *run)
{
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *x = l->in[0];
    float *y = l->out, a = l->spec.slope;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a * x[i];
    return CCNN_OK;
}

/* From the input, not the output: a negative slope flips the output's sign. */
static int leaky_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *x = l->in[0], *dy = l->dout;
    float *dx = l->din[0], a = l->spec.slope;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : a * dy[i];
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_leaky_relu_ops = {
    .type_name  = "leaky_relu",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = leaky_setup,
    .forward    = leaky_forward,
    .backward   = leaky_backward,
};
