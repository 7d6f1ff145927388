/* dropout.c - inverted dropout: in training each value is zeroed with
 * probability `rate` and the rest are scaled by 1 / (1 - rate), so
 * evaluation is the identity.
 *
 * The keep/drop decision for element i of the batch tensor is a pure
 * function of (run seed, run step, layer index, i) through the counter-based
 * hash of core/rng.h: no generator state, so a forward is reproducible from
 * its step and independent of the thread count, and i counts from the
 * step's first image, so the mask does not depend on which process of a
 * data-parallel run holds the image. The mask is kept for
 * backward. */
#include "net/layer.h"
#include <stdlib.h>
#include <string.h>

#define DROPOUT_STREAM 0xd40b0u /* separates these draws from other users of the hash */

typedef struct {
    uint8_t *keep;
    size_t cap;
    int masked;                /* 1: the last forward applied keep[] */
} dropout_priv;

static int dropout_setup(ccnn_layer *l, char *err, size_t errlen)
{
    float p = l->spec.rate;
    if (!(p >= 0 && p < 1))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "rate must be in [0, 1) (got %g)", p);
    l->out_shape = l->in_shape[0];
    l->flops = (double)ccnn_shape_size(l->in_shape[0]);
    return CCNN_OK;
}

static int dropout_reserve(ccnn_layer *l, int batch)
{
    dropout_priv *pv = l->priv;
    if (!pv) {
        if (!(pv = calloc(1, sizeof *pv))) return CCNN_ENOMEM;
        l->priv = pv;
    }
    size_t need = (size_t)batch * ccnn_shape_size(l->in_shape[0]);
    if (need > pv->cap) {
        uint8_t *k = realloc(pv->keep, need);
        if (!k) return CCNN_ENOMEM;
        pv->keep = k;
        pv->cap = need;
    }
    return CCNN_OK;
}

static int dropout_forward(ccnn_layer *l, const ccnn_run *run)
{
    dropout_priv *pv = l->priv;
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->in_shape[0]);
    const double p = l->spec.rate;
    pv->masked = run->train && p > 0;
    if (!pv->masked) {
        memcpy(l->out, l->in[0], (size_t)n * sizeof(float));
        return CCNN_OK;
    }
    const float scale = (float)(1.0 / (1.0 - p));
    const uint64_t key = ccnn_hash3(run->seed, run->step, (uint64_t)l->index);
    /* element i of this call is element i0 + i of the step's batch tensor */
    const uint64_t i0 = (uint64_t)run->first * ccnn_shape_size(l->in_shape[0]);
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) {
        uint8_t k = ccnn_u01(ccnn_hash3(key, i0 + (uint64_t)i, DROPOUT_STREAM)) >= p;
        pv->keep[i] = k;
        l->out[i] = k ? l->in[0][i] * scale : 0.0f;
    }
    return CCNN_OK;
}

static int dropout_backward(ccnn_layer *l, const ccnn_run *run)
{
    if (!l->din[0]) return CCNN_OK;
    const dropout_priv *pv = l->priv;
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->in_shape[0]);
    const float scale = (float)(1.0 / (1.0 - l->spec.rate));
    float *dx = l->din[0];
    const float *dy = l->dout;
    if (!pv->masked) {
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
        return CCNN_OK;
    }
    for (int64_t i = 0; i < n; i++) dx[i] += pv->keep[i] ? dy[i] * scale : 0.0f;
    return CCNN_OK;
}

static void dropout_destroy(ccnn_layer *l)
{
    dropout_priv *pv = l->priv;
    if (pv) { free(pv->keep); free(pv); }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_dropout_ops = {
    .type_name  = "dropout",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = dropout_setup,
    .reserve    = dropout_reserve,
    .forward    = dropout_forward,
    .backward   = dropout_backward,
    .destroy    = dropout_destroy,
};
