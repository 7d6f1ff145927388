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
 * Statistics are taken per plane (one sample, one channel), in the order
 * planes lie in memory, so the passes stream through the tensor instead of
 * striding across it channel by channel (twice as fast here). For each
 * plane the vector kernels (kernels/eltwise.h: float lanes, fixed tree)
 * return its sum s, and the squared deviations q from its own float mean
 * c = s / hw: a two-pass variance, on a plane that is still in L1. The
 * planes of a channel are then combined in double, in plane order, with the
 * exact identity sum (x - mean)^2 = sum over planes of
 * q + 2 (c - mean) (s - hw c) + hw (c - mean)^2, every term of which is
 * small or positive: no E[x^2] - E[x]^2 cancellation. Each plane's numbers
 * come from one kernel call whichever thread makes it, and the combination
 * order is fixed, so results do not depend on the thread count.
 *
 * Data-parallel training (dist/dist.h): each process holds some images of
 * the batch; the per-plane numbers of all of them are gathered (in image
 * order) before the planes are combined, so every process takes the whole
 * batch's statistics in the same order as one process would: the same
 * bits, whatever the number of processes. */
#include "net/layer.h"
#include "kernels/eltwise.h"
#include "dist/dist.h"
#include <math.h>
#include <stdlib.h>

enum { T_WEIGHT, T_BIAS, T_RUNNING_MEAN, T_RUNNING_VAR };

/* What backward needs from the last forward, per channel, and room for
 * the per-plane sums of either pass. */
typedef struct {
    double *mean, *inv_std;
    float *fa, *fb, *fc;       /* per channel: y = x * fa + fb; dx += fa dy + fb x + fc */
    float *plane;              /* 3 floats per plane */
    size_t plane_cap;          /* planes */
    float *all;                /* data-parallel: the planes of every process */
    size_t all_cap;            /* floats */
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
    const size_t C = (size_t)l->in_shape[0].c, planes = (size_t)batch * C;
    bn_priv *pv = l->priv;
    if (!pv) {
        if (!(pv = calloc(1, sizeof *pv))) return CCNN_ENOMEM;
        l->priv = pv; /* bn_destroy frees whatever was allocated */
    }
    if (!pv->mean) {
        double *mean = malloc(C * sizeof(double)), *inv = malloc(C * sizeof(double));
        float *fa = malloc(C * sizeof(float)), *fb = malloc(C * sizeof(float)), *fc = malloc(C * sizeof(float));
        if (!mean || !inv || !fa || !fb || !fc) {
            free(mean); free(inv); free(fa); free(fb); free(fc);
            return CCNN_ENOMEM;
        }
        pv->mean = mean; pv->inv_std = inv; pv->fa = fa; pv->fb = fb; pv->fc = fc;
    }
    if (planes > pv->plane_cap) {
        float *p = realloc(pv->plane, planes * 3 * sizeof(float));
        if (!p) return CCNN_ENOMEM;
        pv->plane = p;
        pv->plane_cap = planes;
    }
    return CCNN_OK;
}

/* Threads split the planes of the two streaming passes (whole planes: a
 * plane's numbers do not depend on which thread computes them) and the
 * channels in between; one parallel region, three loops. */
/* The per-plane numbers (per_plane floats each) of the whole batch: this
 * call's alone, or in data-parallel training all processes' (*n images). */
static int all_planes(bn_priv *pv, const ccnn_run *run, int64_t C, int per_plane, const float **ps,
                      int64_t *n)
{
    if (!run->dist) return CCNN_OK;
    size_t need = (size_t)run->global_batch * (size_t)C * (size_t)per_plane;
    if (need > pv->all_cap) {
        float *p = realloc(pv->all, need * sizeof(float));
        if (!p) return CCNN_ENOMEM;
        pv->all = p;
        pv->all_cap = need;
    }
    int rc = ccnn_dist_allgather(run->dist, *ps, (size_t)C * per_plane, pv->all);
    if (rc) return rc;
    *ps = pv->all;
    *n = run->global_batch;
    return CCNN_OK;
}

static int bn_forward(ccnn_layer *l, const ccnn_run *run)
{
    bn_priv *pv = l->priv;
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    const int64_t C = l->in_shape[0].c, N = run->batch, NC = N * C;
    const int64_t hw = (int64_t)l->in_shape[0].h * l->in_shape[0].w;
    const float *gamma = l->params + l->tensors[T_WEIGHT].offset;
    const float *beta = l->params + l->tensors[T_BIAS].offset;
    float *rmean = l->state + l->tensors[T_RUNNING_MEAN].offset;
    float *rvar = l->state + l->tensors[T_RUNNING_VAR].offset;
    const double mom = l->spec.momentum, eps = l->spec.eps;
    const float *x = l->in[0];
    float *y = l->out, *pl = pv->plane;
    const int train = run->train;
    pv->batch_stats = train;
    if (train) {
        #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (NC * hw > 16384)
        for (int64_t p = 0; p < NC; p++) {
            const float *xp = x + (size_t)p * hw;
            float s = k->sum(xp, hw), c = s / (float)hw;
            pl[3 * p] = s;
            pl[3 * p + 1] = c;
            pl[3 * p + 2] = k->sq_dev(xp, hw, c);
        }
    }
    const float *ps = pl;
    int64_t NB = N; /* images whose statistics these are */
    if (train) {
        int rc = all_planes(pv, run, C, 3, &ps, &NB);
        if (rc) return rc;
    }
    const int64_t M = NB * hw;
    #pragma omp parallel num_threads(ccnn_threads()) if (NC * hw > 16384)
    {
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            double mean, var;
            if (train) {
                double sum = 0, m2 = 0;
                for (int64_t n = 0; n < NB; n++) sum += ps[3 * (n * C + c)];
                mean = sum / (double)M;
                for (int64_t n = 0; n < NB; n++) {
                    const float *st = ps + 3 * (n * C + c);
                    double d = (double)st[1] - mean, dev = (double)st[0] - (double)hw * st[1];
                    m2 += (double)st[2] + 2 * d * dev + (double)hw * d * d;
                }
                m2 = fmax(m2, 0.0);
                var = m2 / (double)M;
                rmean[c] = (float)((1 - mom) * rmean[c] + mom * mean);
                if (M > 1) rvar[c] = (float)((1 - mom) * rvar[c] + mom * m2 / (double)(M - 1));
            } else {
                mean = rmean[c];
                var = rvar[c];
            }
            double inv = 1.0 / sqrt(var + eps);
            pv->mean[c] = mean;
            pv->inv_std[c] = inv;
            /* y = x * scale + shift, in float: the statistics were the part
             * that needed double */
            pv->fa[c] = (float)(gamma[c] * inv);
            pv->fb[c] = (float)(beta[c] - mean * gamma[c] * inv);
        }
        /* a fused ReLU (layer.h: relu_after) runs on the plane while it is
         * still in L1 */
        const int relu = l->relu_after;
        #pragma omp for schedule(static)
        for (int64_t p = 0; p < NC; p++) {
            float *yp = y + (size_t)p * hw;
            k->scale_shift(x + (size_t)p * hw, hw, pv->fa[p % C], pv->fb[p % C], yp);
            if (relu) k->relu(yp, hw, yp);
        }
    }
    return CCNN_OK;
}

/* With xhat = (x - mean) * inv_std and batch statistics:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * inv_std * (dy - dbeta / M - xhat * dgamma / M);
 * with running statistics (constants) only dx = gamma * inv_std * dy.
 * Two streaming passes, as in forward: both sums per plane at once (about
 * the mean rounded to float), then dx. */
static int bn_backward(ccnn_layer *l, const ccnn_run *run)
{
    bn_priv *pv = l->priv;
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    const int64_t C = l->in_shape[0].c, N = run->batch, NC = N * C;
    const int64_t hw = (int64_t)l->in_shape[0].h * l->in_shape[0].w;
    const float *gamma = l->params + l->tensors[T_WEIGHT].offset;
    float *dgamma = l->grads + l->tensors[T_WEIGHT].offset;
    float *dbeta = l->grads + l->tensors[T_BIAS].offset;
    const float *x = l->in[0], *dy = l->dout;
    float *dx = l->din[0], *pl = pv->plane;
    const int relu = l->relu_after;
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (NC * hw > 16384)
    for (int64_t p = 0; p < NC; p++) {
        /* a fused ReLU's gradient first (layer.h: relu_after), in place */
        if (relu)
            k->relu_grad(l->out + (size_t)p * hw, dy + (size_t)p * hw, hw, l->dout + (size_t)p * hw, 1);
        k->bn_grad_sums(x + (size_t)p * hw, dy + (size_t)p * hw, hw, (float)pv->mean[p % C],
                        &pl[2 * p], &pl[2 * p + 1]);
    }
    const float *ps = pl;
    int64_t NB = N;
    int rc = all_planes(pv, run, C, 2, &ps, &NB);
    if (rc) return rc;
    const int64_t M = NB * hw;
    #pragma omp parallel num_threads(ccnn_threads()) if (NC * hw > 16384)
    {
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < C; c++) {
            const double mean = pv->mean[c], inv = pv->inv_std[c];
            double sdy = 0, sdyx = 0;
            for (int64_t n = 0; n < NB; n++) {
                sdy += ps[2 * (n * C + c)];
                sdyx += ps[2 * (n * C + c) + 1];
            }
            /* sum dy (x - mean) = sum dy (x - mf) + (mf - mean) sum dy */
            sdyx = (sdyx + ((double)(float)mean - mean) * sdy) * inv;
            dgamma[c] += (float)sdyx;
            dbeta[c] += (float)sdy;
            const double kg = gamma[c] * inv;
            const double mdy = pv->batch_stats ? sdy / (double)M : 0;
            const double mdyx = pv->batch_stats ? sdyx / (double)M : 0;
            /* dx += k*dy - k*mdy - k*inv*mdyx*(x - mean) = fa*dy + fb*x + fc */
            pv->fa[c] = (float)kg;
            pv->fb[c] = (float)(-kg * inv * mdyx);
            pv->fc[c] = (float)(-kg * mdy + kg * inv * mdyx * mean);
        }
        if (dx) {
            #pragma omp for schedule(static)
            for (int64_t p = 0; p < NC; p++)
                k->bn_grad_dx(x + (size_t)p * hw, dy + (size_t)p * hw, hw, pv->fa[p % C],
                              pv->fb[p % C], pv->fc[p % C], dx + (size_t)p * hw, run->din_fresh);
        }
    }
    return CCNN_OK;
}

static void bn_destroy(ccnn_layer *l)
{
    bn_priv *pv = l->priv;
    if (pv) {
        free(pv->mean); free(pv->inv_std);
        free(pv->fa); free(pv->fb); free(pv->fc);
        free(pv->plane);
        free(pv->all);
        free(pv);
    }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_batchnorm_ops = {
    .type_name  = "batchnorm",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = bn_setup,
    .init       = bn_init,
    .reserve    = bn_reserve,
    .forward    = bn_forward,
    .backward   = bn_backward,
    .destroy    = bn_destroy,
    .set_din    = 1,
    .fuse_relu  = 1,
};
