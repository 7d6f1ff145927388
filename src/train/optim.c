/* optim.c - SGD (momentum, Nesterov, weight decay), Adam and AdamW, written
 * to match torch.optim update for update. */
#include "train/optim.h"
#include <math.h>

double ccnn_schedule_lr(const ccnn_train_config *c, int epoch)
{
    switch (c->schedule) {
    case CCNN_SCHED_STEP:
        return c->lr * pow(c->gamma, (double)(epoch / (c->step_epochs > 0 ? c->step_epochs : 1)));
    case CCNN_SCHED_COSINE:
        /* CosineAnnealingLR with T_max = epochs, eta_min = 0 */
        return c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)epoch / (double)(c->epochs > 0 ? c->epochs : 1)));
    case CCNN_SCHED_CONSTANT:
    default:
        return c->lr;
    }
}

static void sgd(const ccnn_train_config *c, float lr, float *p, const float *g, float *buf, size_t n)
{
    float mu = c->momentum, wd = c->weight_decay;
    #pragma omp parallel for schedule(static) num_threads(ccnn_get_num_threads()) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (mu != 0) {
            buf[i] = mu * buf[i] + d;
            d = c->nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

/* The two variants are separate loops with restrict pointers so that they
 * vectorise (at -O2 gcc will not version a loop for aliasing); per element
 * the arithmetic is the same as a scalar loop, so are the bits. */
static void adam(const ccnn_train_config *c, float lr, uint64_t t, float *restrict p,
                 const float *restrict g, float *restrict m, float *restrict v, size_t n)
{
    const float b1 = c->beta1, b2 = c->beta2, eps = c->adam_eps, wd = c->weight_decay;
    const float bc1 = (float)(1.0 - pow(b1, (double)t)), bc2 = (float)(1.0 - pow(b2, (double)t));
    const float step = lr / bc1, sbc2 = sqrtf(bc2), keep = 1.0f - lr * wd;
    const int nt = ccnn_get_num_threads();
    if (c->optimizer == CCNN_OPT_ADAMW) { /* decoupled weight decay */
        #pragma omp parallel for simd schedule(static) num_threads(nt) if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            float d = g[i];
            p[i] *= keep;
            m[i] = b1 * m[i] + (1.0f - b1) * d;
            v[i] = b2 * v[i] + (1.0f - b2) * d * d;
            p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
        }
    } else { /* L2 penalty in the gradient */
        #pragma omp parallel for simd schedule(static) num_threads(nt) if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0f - b1) * d;
            v[i] = b2 * v[i] + (1.0f - b2) * d * d;
            p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
        }
    }
}

void ccnn_optim_step(const ccnn_train_config *c, double lr, uint64_t t, float *p, const float *g,
                     float *m, float *v, size_t n)
{
    if (c->optimizer == CCNN_OPT_SGD) sgd(c, (float)lr, p, g, m, n);
    else adam(c, (float)lr, t, p, g, m, v, n);
}
