/* relu.c - y = max(x, 0); the gradient passes where the output is positive.
 * The loops are the element-wise kernels of kernels/eltwise.h (branch-free
 * selects: on random signs a branch mispredicts half the time), run over
 * fixed blocks split among threads. */
#include "net/layer.h"
#include "kernels/eltwise.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768
/* Elements per kernel call: big enough to amortise the call, small enough
 * that two threads get an even share. */
#define BLOCK 8192

static int relu_setup(ccnn_layer *l, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    l->out_shape = l->in_shape[0];
    return CCNN_OK;
}

static int relu_forward(ccnn_layer *l, const ccnn_run *run)
{
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->out_shape);
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    const float *x = l->in[0];
    float *y = l->out;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i += BLOCK) k->relu(x + i, n - i < BLOCK ? n - i : BLOCK, y + i);
    return CCNN_OK;
}

static int relu_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->out_shape);
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    const float *y = l->out, *dy = l->dout;
    float *dx = l->din[0];
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i += BLOCK)
        k->relu_grad(y + i, dy + i, n - i < BLOCK ? n - i : BLOCK, dx + i, run->din_fresh);
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_relu_ops = {
    .type_name  = "relu",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = relu_setup,
    .forward    = relu_forward,
    .backward   = relu_backward,
    .set_din    = 1,
};
