/* batchnorm.c - batch normalisation per channel, over (N, H, W): PyTorch's
 * BatchNorm2d, and BatchNorm1d for C x 1 x 1 inputs (after a dense layer).
 *
 *   y = gamma * (x - mean) / sqrt(var + eps) + beta
 *
 * Training uses the batch mean and biased variance, and moves the running
 * statistics: running = (1 - momentum) * running + momentum * batch_stat,
 * with the unbiased variance for running_var (as PyTorch does). Evaluation
 * uses the running statistics. A training batch of one value per channel
 * (N = 1 after a dense layer) has no variance: y = beta, and running_var is
 * left unchanged (PyTorch raises an error there instead).
 *
 * Sums are taken in double in a fixed order per channel, so results do not
 * depend on the thread count. */
#include "net/layer.h"
#include <math.h>
#include <stdlib.h>

enum { T_WEIGHT, T_BIAS, T_RUNNING_MEAN, T_RUNNING_VAR };

/* What backward needs from the last forward, per channel. */
typedef struct {
    double *mean, *inv_std;
    int batch_stats;           /* 1: the last forward normalised with batch statistics */
} bn_priv;

static int bn_setup(ccnn_layer *l, char *err, size_t errlen)
{
    ccnn_layer_spec *s = &l->spec;
    if (s->eps == 0) s->eps = 1e-5f;
    if (s->momentum == 0) s->momentum = 0.1f;
    if (!(s->eps > 0) || !isfinite(s->eps))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "eps must be > 0 (got %g)", s->eps);
    if (!(s->momentum > 0 && s->momentum <= 1))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "momentum must be in (0, 1] (got %g)",
                                s->momentum);
    int c = l->in_shape[0].c;
    l->out_shape = l->in_shape[0];
    ccnn_layer_add_tensor(l, "weight", 0, 1, c, 0, 0, 0);
    ccnn_layer_add_tensor(l, "bias", 0, 1, c, 0, 0, 0);
    ccnn_layer_add_tensor(l, "running_mean", 1, 1, c, 0, 0, 0);
    ccnn_layer_add_tensor(l, "running_var", 1, 1, c, 0, 0, 0);
    l->flops = 2.0 * (double)ccnn_shape_size(l->in_shape[0]); /* a multiply-add per value */
    return CCNN_OK;
}

static void bn_init(ccnn_layer *l, ccnn_rng *rng)
{
    (void)rng;
    int c = l->in_shape[0].c;
    for (int i = 0; i < c; i++) {
        l->params[l->tensors[T_WEIGHT].offset + i] = 1.0f;
        l->params[l->tensors[T_BIAS].offset + i] = 0.0f;
        l->state[l->tensors[T_RUNNING_MEAN].offset + i] = 0.0f;
        l->state[l->tensors[T_RUNNING_VAR].offset + i] = 1.0f;
    }
}

static int bn_reserve(ccnn_layer *l, int batch)
{
    (void)batch;
    if (l->priv) return CCNN_OK;
    bn_priv *pv = calloc(1, sizeof *pv);
    if (!pv) return CCNN_ENOMEM;
    pv->mean = malloc((size_t)l->in_shape[0].c * sizeof(double));
    pv->inv_std = malloc((size_t)l->in_shape[0].c * sizeof(double));
    if (!pv->mean || !pv->inv_std) {
        free(pv->mean); free(pv->inv_std); free(pv);
        return CCNN_ENOMEM;
    }
    l->priv = pv;
    return CCNN_OK;
}

/* Sums over one plane. The simd reductions fix their order at compile
 * time (by vector width), never by thread count, so results stay bitwise
 * the same for any number of threads. */
static double plane_sum(const float *x, int64_t n)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

static double plane_sq_dev(const float *x, int64_t n, double mean)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += ((double)x[i] - mean) * ((double)x[i] - mean);
    return s;
}

static int bn_forward(ccnn_layer *l, const ccnn_run *run)
{
    bn_priv *pv = l->priv;
    const int64_t C = l->in_shape[0].c, N = run->batch;
    const int64_t hw = (int64_t)l->in_shape[0].h * l->in_shape[0].w, M = N * hw;
    const float *gamma = l->params + l->tensors[T_WEIGHT].offset;
    const float *beta = l->params + l->tensors[T_BIAS].offset;
    float *rmean = l->state + l->tensors[T_RUNNING_MEAN].offset;
    float *rvar = l->state + l->tensors[T_RUNNING_VAR].offset;
    const double mom = l->spec.momentum, eps = l->spec.eps;
    pv->batch_stats = run->train;
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (C * M > 16384)
    for (int64_t c = 0; c < C; c++) {
        double mean, var;
        if (run->train) {
            double sum = 0, sq = 0;
            for (int64_t n = 0; n < N; n++) sum += plane_sum(l->in[0] + (size_t)(n * C + c) * hw, hw);
            mean = sum / (double)M;
            for (int64_t n = 0; n < N; n++) /* two passes: no cancellation */
                sq += plane_sq_dev(l->in[0] + (size_t)(n * C + c) * hw, hw, mean);
            var = sq / (double)M;
            rmean[c] = (float)((1 - mom) * rmean[c] + mom * mean);
            if (M > 1) rvar[c] = (float)((1 - mom) * rvar[c] + mom * sq / (double)(M - 1));
        } else {
            mean = rmean[c];
            var = rvar[c];
        }
        double inv = 1.0 / sqrt(var + eps);
        pv->mean[c] = mean;
        pv->inv_std[c] = inv;
        /* y = x * scale + shift, in float: the statistics were the part
         * that needed double */
        const float scale = (float)(gamma[c] * inv), shift = (float)(beta[c] - mean * gamma[c] * inv);
        for (int64_t n = 0; n < N; n++) {
            const float *x = l->in[0] + (size_t)(n * C + c) * hw;
            float *y = l->out + (size_t)(n * C + c) * hw;
#pragma omp simd
            for (int64_t i = 0; i < hw; i++) y[i] = x[i] * scale + shift;
        }
    }
    return CCNN_OK;
}

/* With xhat = (x - mean) * inv_std and batch statistics:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * inv_std * (dy - dbeta / M - xhat * dgamma / M);
 * with running statistics (constants) only dx = gamma * inv_std * dy. */
static int bn_backward(ccnn_layer *l, const ccnn_run *run)
{
    const bn_priv *pv = l->priv;
    const int64_t C = l->in_shape[0].c, N = run->batch;
    const int64_t hw = (int64_t)l->in_shape[0].h * l->in_shape[0].w, M = N * hw;
    const float *gamma = l->params + l->tensors[T_WEIGHT].offset;
    float *dgamma = l->grads + l->tensors[T_WEIGHT].offset;
    float *dbeta = l->grads + l->tensors[T_BIAS].offset;
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (C * M > 16384)
    for (int64_t c = 0; c < C; c++) {
        const double mean = pv->mean[c], inv = pv->inv_std[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = l->in[0] + (size_t)(n * C + c) * hw;
            const float *dy = l->dout + (size_t)(n * C + c) * hw;
            double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
            for (int64_t i = 0; i < hw; i++) {
                a += dy[i];
                b += (double)dy[i] * ((double)x[i] - mean);
            }
            sdy += a;
            sdyx += b * inv;
        }
        dgamma[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!l->din[0]) continue;
        const double k = gamma[c] * inv;
        const double mdy = pv->batch_stats ? sdy / (double)M : 0;
        const double mdyx = pv->batch_stats ? sdyx / (double)M : 0;
        /* dx += k*dy - k*mdy - k*inv*mdyx*(x - mean) = fa*dy + fb*x + fc */
        const float fa = (float)k, fb = (float)(-k * inv * mdyx), fc = (float)(-k * mdy + k * inv * mdyx * mean);
        for (int64_t n = 0; n < N; n++) {
            const float *x = l->in[0] + (size_t)(n * C + c) * hw;
            const float *dy = l->dout + (size_t)(n * C + c) * hw;
            float *dx = l->din[0] + (size_t)(n * C + c) * hw;
#pragma omp simd
            for (int64_t i = 0; i < hw; i++) dx[i] += fa * dy[i] + fb * x[i] + fc;
        }
    }
    return CCNN_OK;
}

static void bn_destroy(ccnn_layer *l)
{
    bn_priv *pv = l->priv;
    if (pv) { free(pv->mean); free(pv->inv_std); free(pv); }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_batchnorm_ops = {
    "batchnorm", 1, 1, bn_setup, bn_init, bn_reserve, bn_forward, bn_backward, bn_destroy,
};
