/* dense.c - fully connected: y[n,o] = b[o] + sum_i W[o,i] x[n,i], with the
 * input flattened (i runs over C*H*W). W is O x I (PyTorch's Linear). */
#include "net/layer.h"
#include "kernels/gemm.h"
#include <math.h>

static int dense_setup(ccnn_layer *l, char *err, size_t errlen)
{
    if (l->spec.filters <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "the number of outputs must be > 0");
    size_t in = ccnn_shape_size(l->in_shape[0]);
    if (in > (size_t)INT32_MAX || (double)in * l->spec.filters > 1e9)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%zu x %d weights are too many",
                                in, l->spec.filters);
    l->out_shape = (ccnn_shape){l->spec.filters, 1, 1};
    ccnn_layer_add_tensor(l, "weight", 0, 2, l->spec.filters, (int)in, 0, 0);
    if (!l->spec.no_bias) ccnn_layer_add_tensor(l, "bias", 0, 1, l->spec.filters, 0, 0, 0);
    l->flops = 2.0 * (double)in * l->spec.filters;
    return CCNN_OK;
}

static void dense_init(ccnn_layer *l, ccnn_rng *rng)
{
    double in = (double)ccnn_shape_size(l->in_shape[0]), out = l->spec.filters;
    double std = l->spec.init == CCNN_INIT_XAVIER ? sqrt(2.0 / (in + out)) : sqrt(2.0 / in);
    ccnn_init_normal(l->params, (size_t)(in * out), std, rng);
}

static int dense_forward(ccnn_layer *l, const ccnn_run *run)
{
    int64_t N = run->batch, O = l->spec.filters, I = (int64_t)ccnn_shape_size(l->in_shape[0]);
    /* Y (N x O) = X (N x I) * W^T */
    ccnn_sgemm(0, 1, N, O, I, l->in[0], I, l->params, I, 0.0f, l->out, O);
    if (!l->spec.no_bias) {
        const float *b = l->params + l->tensors[1].offset;
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < O; o++) l->out[n * O + o] += b[o];
    }
    return CCNN_OK;
}

static int dense_backward(ccnn_layer *l, const ccnn_run *run)
{
    int64_t N = run->batch, O = l->spec.filters, I = (int64_t)ccnn_shape_size(l->in_shape[0]);
    /* dW (O x I) += dY^T (O x N) * X (N x I) */
    ccnn_sgemm(1, 0, O, I, N, l->dout, O, l->in[0], I, 1.0f, l->grads, I);
    if (!l->spec.no_bias) {
        float *db = l->grads + l->tensors[1].offset;
        for (int64_t o = 0; o < O; o++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += l->dout[n * O + o];
            db[o] += (float)s;
        }
    }
    /* dX (N x I) += dY (N x O) * W (O x I) */
    if (l->din[0]) ccnn_sgemm(0, 0, N, I, O, l->dout, O, l->params, I, 1.0f, l->din[0], I);
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_dense_ops = {
    "dense", 1, 1, dense_setup, dense_init, NULL, dense_forward, dense_backward, NULL,
    0, /* set_din: adds into din */
};
