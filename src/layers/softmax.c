/* softmax.c - softmax with cross-entropy, the loss layer: forward gives the
 * class probabilities; backward gives d(mean loss)/dz = (p - onehot) / N.
 * The loss value itself is computed by ccnn_net_loss from the logits. */
#include "net/layer.h"
#include <math.h>

static int softmax_setup(ccnn_layer *l, char *err, size_t errlen)
{
    size_t n = ccnn_shape_size(l->in_shape[0]);
    if (n < 2)
        return ccnn_errf(err, errlen, CCNN_ESHAPE, "needs at least 2 classes, the input has %zu values", n);
    l->out_shape = (ccnn_shape){(int)n, 1, 1};
    l->flops = 3.0 * (double)n;
    return CCNN_OK;
}

static int softmax_forward(ccnn_layer *l, const ccnn_run *run)
{
    int64_t K = l->out_shape.c;
    for (int64_t n = 0; n < run->batch; n++) {
        const float *z = l->in[0] + n * K;
        float *p = l->out + n * K;
        float m = z[0];
        for (int64_t k = 1; k < K; k++) m = fmaxf(m, z[k]);
        double s = 0;
        for (int64_t k = 0; k < K; k++) s += exp((double)z[k] - m);
        for (int64_t k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - m) / s);
    }
    return CCNN_OK;
}

static int softmax_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    int64_t K = l->out_shape.c;
    /* the mean over the whole step's batch, which a process may hold part of */
    float inv = 1.0f / (float)(run->global_batch ? run->global_batch : run->batch);
    for (int64_t n = 0; n < run->batch; n++) {
        const float *p = l->out + n * K;
        float *dz = l->din[0] + n * K;
        for (int64_t k = 0; k < K; k++)
            dz[k] += (p[k] - (k == run->labels[n] ? 1.0f : 0.0f)) * inv;
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_softmax_ops = {
    .type_name  = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = softmax_setup,
    .forward    = softmax_forward,
    .backward   = softmax_backward,
};
