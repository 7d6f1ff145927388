/* relu.c - y = max(x, 0); the gradient passes where the output is positive.
 * Both loops are written branch-free (a select, not an if) so that they
 * vectorise: on random signs a branch mispredicts half the time. */
#include "net/layer.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768

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
#pragma omp parallel for simd num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    return CCNN_OK;
}

static int relu_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    size_t n = (size_t)run->batch * ccnn_shape_size(l->out_shape);
    const float *y = l->out, *dy = l->dout;
    float *dx = l->din[0];
#pragma omp parallel for simd num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded unconditionally: a select, not a branch */
        dx[i] += y[i] > 0 ? g : 0.0f;
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_relu_ops = {
    "relu", 1, 1, relu_setup, NULL, NULL, relu_forward, relu_backward, NULL,
};
