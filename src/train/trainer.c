/* trainer.c - the training loop: shuffled mini-batches, augmentation,
 * forward, loss, backward, optimizer step; and evaluation.
 *
 * Reproducibility: the shuffle is a function of (seed, epoch), and the
 * augmentation and dropout draws of (seed, step), so a run resumed from a
 * model file (params, running stats, optimizer moments, counters) continues
 * exactly as the uninterrupted run would have. */
#include "net/net_internal.h"
#include "train/optim.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ccnn_trainer {
    ccnn_net *net;
    float *m, *v;              /* optimizer moments, one per parameter */
    int epochs_done;
    uint64_t steps;
    float *x;                  /* one batch of inputs */
    uint8_t *labels;
    int *order;                /* this epoch's permutation */
    char **names;              /* of the optimizer tensors */
    int n_names;
    int batch_cap, order_cap;
};

int ccnn_trainer_create(ccnn_trainer **out, ccnn_net *net)
{
    if (!out || !net) return CCNN_EINVAL;
    ccnn_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return CCNN_ENOMEM;
    size_t n = net->n_params ? net->n_params : 1;
    tr->net = net;
    tr->m = calloc(n, sizeof(float));
    tr->v = calloc(n, sizeof(float));
    if (!tr->m || !tr->v) { ccnn_trainer_free(tr); return CCNN_ENOMEM; }
    *out = tr;
    return CCNN_OK;
}

void ccnn_trainer_free(ccnn_trainer *tr)
{
    if (!tr) return;
    free(tr->m); free(tr->v); free(tr->x); free(tr->labels); free(tr->order);
    for (int i = 0; i < tr->n_names; i++) free(tr->names[i]);
    free(tr->names);
    free(tr);
}

int ccnn_trainer_epochs_done(const ccnn_trainer *tr) { return tr->epochs_done; }

void ccnn_trainer_get_counters(const ccnn_trainer *tr, int *epochs_done, uint64_t *steps)
{
    if (epochs_done) *epochs_done = tr->epochs_done;
    if (steps) *steps = tr->steps;
}

void ccnn_trainer_set_counters(ccnn_trainer *tr, int epochs_done, uint64_t steps)
{
    tr->epochs_done = epochs_done;
    tr->steps = steps;
}

/* The optimizer's tensors mirror the net's parameter tensors: "optim.m.NAME"
 * and, for Adam/AdamW, "optim.v.NAME". */
static int n_param_tensors(const ccnn_net *net)
{
    int n = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int t = 0; t < net->layers[i]->n_tensors; t++) n += !net->layers[i]->tensors[t].is_state;
    return n;
}

static int uses_v(const ccnn_trainer *tr) { return tr->net->train.optimizer != CCNN_OPT_SGD; }

int ccnn_trainer_num_tensors(const ccnn_trainer *tr)
{
    return n_param_tensors(tr->net) * (uses_v(tr) ? 2 : 1);
}

int ccnn_trainer_tensor(ccnn_trainer *tr, int i, ccnn_tensor_info *info)
{
    int per = n_param_tensors(tr->net), total = ccnn_trainer_num_tensors(tr);
    if (i < 0 || i >= total || !info) return CCNN_EINVAL;
    if (!tr->names) { /* built on first use; the trainer owns them */
        if (!(tr->names = calloc((size_t)total, sizeof *tr->names))) return CCNN_ENOMEM;
        tr->n_names = total;
    }
    int which = i / per, k = i % per;
    for (int t = 0; t < tr->net->n_tensors; t++) {
        ccnn_tensor_info ti;
        ccnn_net_tensor(tr->net, t, &ti);
        if (ti.is_state || k--) continue;
        if (!tr->names[i]) {
            size_t len = strlen(ti.name) + 10;
            if (!(tr->names[i] = malloc(len))) return CCNN_ENOMEM;
            snprintf(tr->names[i], len, "optim.%s.%s", which ? "v" : "m", ti.name);
        }
        *info = ti;
        info->name = tr->names[i];
        info->data = (which ? tr->v : tr->m) + (ti.data - tr->net->params);
        return CCNN_OK;
    }
    return CCNN_EINVAL;
}

static int reserve(ccnn_trainer *tr, int batch, int n)
{
    size_t in = (size_t)tr->net->input.c * tr->net->input.h * tr->net->input.w;
    if (batch > tr->batch_cap) {
        float *x = realloc(tr->x, (size_t)batch * in * sizeof(float));
        if (!x) return CCNN_ENOMEM;
        tr->x = x;
        uint8_t *l = realloc(tr->labels, (size_t)batch);
        if (!l) return CCNN_ENOMEM;
        tr->labels = l;
        tr->batch_cap = batch;
    }
    if (n > tr->order_cap) {
        int *o = realloc(tr->order, (size_t)n * sizeof(int));
        if (!o) return CCNN_ENOMEM;
        tr->order = o;
        tr->order_cap = n;
    }
    return CCNN_OK;
}

static int all_finite(const float *a, size_t n)
{
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= isfinite(a[i]);
    return ok;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int argmax(const float *p, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

static int check_data(const ccnn_net *net, const ccnn_dataset *ds)
{
    if (!ds || ds->n <= 0 || ds->c != net->input.c || ds->h != net->input.h || ds->w != net->input.w)
        return CCNN_ESHAPE;
    if (ds->n_classes > ccnn_net_num_classes(net)) return CCNN_ESHAPE;
    return CCNN_OK;
}

int ccnn_trainer_epoch(ccnn_trainer *tr, const ccnn_dataset *train, ccnn_epoch_stats *stats,
                       ccnn_progress_fn progress, void *user, uint64_t *bad_step)
{
    ccnn_net *net = tr->net;
    const ccnn_train_config *cfg = &net->train;
    int rc = check_data(net, train);
    if (rc) return rc;
    int batch = cfg->batch, n = train->n, classes = ccnn_net_num_classes(net);
    if ((rc = reserve(tr, batch, n))) return rc;

    /* Fisher-Yates from (seed, epoch) */
    ccnn_rng rng = {ccnn_hash3(cfg->seed, (uint64_t)tr->epochs_done, 0x5a17f1e)};
    for (int i = 0; i < n; i++) tr->order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ccnn_rng_below(&rng, (uint64_t)i + 1), t = tr->order[i];
        tr->order[i] = tr->order[j];
        tr->order[j] = t;
    }

    double lr = ccnn_schedule_lr(cfg, tr->epochs_done), loss_sum = 0, t0 = now();
    long correct = 0, seen = 0;
    int n_batches = (n + batch - 1) / batch;
    for (int b = 0; b < n_batches; b++) {
        int count = n - b * batch < batch ? n - b * batch : batch;
        const int *idx = tr->order + (size_t)b * batch;
        uint64_t step = tr->steps;
        if ((rc = ccnn_normalize(train, &net->input, idx, count, tr->x))) return rc;
        if ((cfg->augment_crop || cfg->augment_flip) &&
            (rc = ccnn_augment(tr->x, count, net->input.c, net->input.h, net->input.w,
                               cfg->augment_crop, cfg->augment_flip, cfg->seed, step)))
            return rc;
        for (int i = 0; i < count; i++) tr->labels[i] = train->labels[idx[i]];
        double loss;
        if ((rc = ccnn_net_forward(net, tr->x, count, 1, step))) return rc;
        rc = ccnn_net_loss(net, tr->labels, &loss);
        if (rc == CCNN_OK) rc = ccnn_net_backward(net, tr->labels, NULL);
        if (rc == CCNN_OK && !all_finite(net->grads, net->n_params)) rc = CCNN_ENONFINITE;
        if (rc) {
            if (rc == CCNN_ENONFINITE && bad_step) *bad_step = step;
            return rc;
        }
        ccnn_optim_step(cfg, lr, step + 1, net->params, net->grads, tr->m, tr->v, net->n_params);
        tr->steps++;
        const float *p = ccnn_net_output(net);
        for (int i = 0; i < count; i++) correct += argmax(p + (size_t)i * classes, classes) == tr->labels[i];
        loss_sum += loss * count;
        seen += count;
        if (progress) {
            double el = now() - t0;
            if (progress(user, tr->epochs_done + 1, b + 1, n_batches, loss_sum / seen,
                         el > 0 ? seen / el : 0))
                return CCNN_EINVAL;
        }
    }
    tr->epochs_done++;
    if (stats) {
        double el = now() - t0;
        memset(stats, 0, sizeof *stats);
        stats->epoch = tr->epochs_done;
        stats->loss = loss_sum / seen;
        stats->train_acc = (double)correct / seen;
        stats->seconds = el;
        stats->images_per_s = el > 0 ? seen / el : 0;
        stats->lr = lr;
        stats->test_acc = NAN; /* filled by the caller if it evaluates */
    }
    return CCNN_OK;
}

int ccnn_evaluate(ccnn_net *net, const ccnn_dataset *ds, int batch, double *accuracy,
                  double *loss, int *confusion)
{
    if (!net || batch <= 0) return CCNN_EINVAL;
    int rc = check_data(net, ds);
    if (rc) return rc;
    int classes = ccnn_net_num_classes(net);
    size_t in = (size_t)net->input.c * net->input.h * net->input.w;
    float *x = malloc((size_t)batch * in * sizeof(float));
    int *idx = malloc((size_t)batch * sizeof(int));
    if (!x || !idx) { free(x); free(idx); return CCNN_ENOMEM; }
    if (confusion) memset(confusion, 0, (size_t)classes * classes * sizeof(int));
    long correct = 0;
    double loss_sum = 0;
    for (int start = 0; start < ds->n && !rc; start += batch) {
        int count = ds->n - start < batch ? ds->n - start : batch;
        for (int i = 0; i < count; i++) idx[i] = start + i;
        rc = ccnn_normalize(ds, &net->input, idx, count, x);
        if (!rc) rc = ccnn_net_forward(net, x, count, 0, 0);
        double l = 0;
        if (!rc) rc = ccnn_net_loss(net, ds->labels + start, &l);
        if (rc) break;
        loss_sum += l * count;
        const float *p = ccnn_net_output(net);
        for (int i = 0; i < count; i++) {
            int pred = argmax(p + (size_t)i * classes, classes), truth = ds->labels[start + i];
            correct += pred == truth;
            if (confusion) confusion[truth * classes + pred]++;
        }
    }
    free(x);
    free(idx);
    if (rc) return rc;
    if (accuracy) *accuracy = (double)correct / ds->n;
    if (loss) *loss = loss_sum / ds->n;
    return CCNN_OK;
}
