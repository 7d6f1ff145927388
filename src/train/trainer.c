/* trainer.c - the training loop: shuffled mini-batches, augmentation,
 * forward, loss, backward, optimizer step; and evaluation.
 *
 * Reproducibility: the shuffle is a function of (seed, epoch), and the
 * augmentation and dropout draws of (seed, step), so a run resumed from a
 * model file (params, running stats, optimizer moments, counters) continues
 * exactly as the uninterrupted run would have.
 *
 * Data-parallel (ccnn_trainer_set_comm, docs/distributed.md): every process
 * draws the same shuffle and takes its share of each step's chunks
 * (dist_share); the engine sums the weight gradients across the processes
 * in chunk order and batch norm takes the whole batch's statistics, so
 * every process applies the update the single-process run applies. */
#include "net/net_internal.h"
#include "dist/dist.h"
#include "train/optim.h"
#include <math.h>
#include <signal.h>
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
    uint64_t epoch_step;       /* steps of the current epoch done */
    ccnn_dist *dist;           /* NULL: one process */
    volatile sig_atomic_t stop;/* ccnn_trainer_request_stop */
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
    ccnn_dist_free(tr->dist);
    free(tr);
}

int ccnn_trainer_epochs_done(const ccnn_trainer *tr) { return tr->epochs_done; }
uint64_t ccnn_trainer_epoch_step(const ccnn_trainer *tr) { return tr->epoch_step; }
void ccnn_trainer_set_epoch_step(ccnn_trainer *tr, uint64_t step) { tr->epoch_step = step; }
void ccnn_trainer_request_stop(ccnn_trainer *tr) { tr->stop = 1; }

int ccnn_trainer_set_comm(ccnn_trainer *tr, const void *comm)
{
    if (!tr) return CCNN_EINVAL;
    ccnn_dist *d = NULL;
    if (comm) {
        int rc = ccnn_dist_create(&d, comm);
        if (rc) return rc;
    }
    ccnn_dist_free(tr->dist);
    tr->dist = d;
    return CCNN_OK;
}

void ccnn_trainer_get_rank(const ccnn_trainer *tr, int *rank, int *size)
{
    if (rank) *rank = tr && tr->dist ? ccnn_dist_rank(tr->dist) : 0;
    if (size) *size = tr && tr->dist ? ccnn_dist_size(tr->dist) : 1;
}

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
    int n_batches = (n + batch - 1) / batch, size = tr->dist ? ccnn_dist_size(tr->dist) : 1, f, c;
    /* every step must give every process a chunk (the last step included) */
    if (ccnn_dist_share(batch < n ? batch : n, 0, size, &f, &c) ||
        (n % batch && ccnn_dist_share(n % batch, 0, size, &f, &c)) || tr->epoch_step >= (uint64_t)n_batches)
        return CCNN_EINVAL;
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
    int stop = 0;
    for (int b = (int)tr->epoch_step; b < n_batches && !stop; b++) {
        int count = n - b * batch < batch ? n - b * batch : batch, first = 0;
        uint64_t step = tr->steps;
        if (tr->dist) { /* this process's share of the step */
            if ((rc = ccnn_dist_set_step(tr->dist, count))) return rc;
            first = ccnn_dist_get_step(tr->dist)->first;
            count = ccnn_dist_get_step(tr->dist)->count;
        }
        const int *idx = tr->order + (size_t)b * batch + first;
        if ((rc = ccnn_normalize(train, &net->input, idx, count, tr->x))) return rc;
        if ((cfg->augment_crop || cfg->augment_flip) &&
            (rc = ccnn_augment_at(tr->x, count, net->input.c, net->input.h, net->input.w,
                                  cfg->augment_crop, cfg->augment_flip, cfg->seed, step, first)))
            return rc;
        for (int i = 0; i < count; i++) tr->labels[i] = train->labels[idx[i]];
        double loss;
        net->dist = tr->dist;
        rc = ccnn_net_forward(net, tr->x, count, 1, step);
        if (rc == CCNN_OK) rc = ccnn_net_loss(net, tr->labels, &loss);
        /* a non-finite loss on one process must not leave the others waiting */
        if (rc == CCNN_OK || (rc == CCNN_ENONFINITE && tr->dist)) {
            int brc = ccnn_net_backward(net, tr->labels, NULL);
            if (rc == CCNN_OK) rc = brc;
        }
        net->dist = NULL;
        if (rc == CCNN_OK && !all_finite(net->grads, net->n_params)) rc = CCNN_ENONFINITE;
        /* a failure on one process (a non-finite loss on its images) stops all */
        if (tr->dist && rc != CCNN_EDIST) {
            int agreed = ccnn_dist_min(tr->dist, rc, &rc);
            if (agreed) rc = agreed;
        }
        if (rc) {
            if (rc == CCNN_ENONFINITE && bad_step) *bad_step = step;
            return rc;
        }
        ccnn_optim_step(cfg, lr, step + 1, net->params, net->grads, tr->m, tr->v, net->n_params);
        tr->steps++;
        tr->epoch_step = (uint64_t)b + 1;
        const float *p = ccnn_net_output(net);
        for (int i = 0; i < count; i++) correct += argmax(p + (size_t)i * classes, classes) == tr->labels[i];
        loss_sum += loss * count;
        seen += count;
        if (progress) {
            double el = now() - t0;
            if (progress(user, tr->epochs_done + 1, b + 1, n_batches, loss_sum / seen,
                         el > 0 ? seen / el : 0))
                tr->stop = 1;
        }
        stop = tr->stop;
        if (tr->dist && (rc = ccnn_dist_any(tr->dist, stop, &stop))) return rc;
    }
    if (tr->epoch_step == (uint64_t)n_batches) {
        tr->epochs_done++;
        tr->epoch_step = 0;
    }
    if (tr->dist) { /* the epoch's numbers over all processes, and the replicas agree */
        double v[3] = {loss_sum, (double)correct, (double)seen};
        if ((rc = ccnn_dist_sum(tr->dist, v, 3))) return rc;
        loss_sum = v[0];
        correct = (long)v[1];
        seen = (long)v[2];
        if ((rc = ccnn_trainer_check_replicas(tr))) return rc;
    }
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
    if (stop) {
        tr->stop = 0;
        return CCNN_EINTR;
    }
    return CCNN_OK;
}

/* FNV-1a over 32-bit words: every bit of the replicas' state counts. */
static uint64_t hash_floats(uint64_t h, const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t w;
        memcpy(&w, &a[i], sizeof w);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return h;
}

int ccnn_trainer_check_replicas(ccnn_trainer *tr)
{
    if (!tr) return CCNN_EINVAL;
    if (!tr->dist) return CCNN_OK;
    const ccnn_net *net = tr->net;
    uint64_t h = 0xcbf29ce484222325ULL ^ tr->steps;
    h = hash_floats(h, net->params, net->n_params);
    h = hash_floats(h, net->state, net->n_state);
    h = hash_floats(h, tr->m, net->n_params);
    h = hash_floats(h, tr->v, net->n_params);
    int same = 0, rc = ccnn_dist_same(tr->dist, h, &same);
    return rc ? rc : same ? CCNN_OK : CCNN_EDIST;
}

int ccnn_trainer_evaluate(ccnn_trainer *tr, const ccnn_dataset *ds, int batch, double *accuracy,
                          double *loss, int *confusion)
{
    if (!tr) return CCNN_EINVAL;
    if (!tr->dist) return ccnn_evaluate(tr->net, ds, batch, accuracy, loss, confusion);
    if (!ds || ds->n <= 0 || batch <= 0) return CCNN_EINVAL;
    /* process r evaluates images [n r / N, n (r + 1) / N) */
    int r = ccnn_dist_rank(tr->dist), size = ccnn_dist_size(tr->dist), classes = ccnn_net_num_classes(tr->net);
    int a = (int)((int64_t)ds->n * r / size), b = (int)((int64_t)ds->n * (r + 1) / size);
    size_t nc = (size_t)classes * classes;
    double *v = calloc(2 + nc, sizeof *v);
    int *conf = calloc(nc ? nc : 1, sizeof *conf);
    int rc = v && conf ? CCNN_OK : CCNN_ENOMEM;
    if (!rc && b > a) {
        ccnn_dataset part = *ds;
        part.n = b - a;
        part.images += (size_t)a * ds->c * ds->h * ds->w;
        part.labels += a;
        double acc = 0, l = 0;
        rc = ccnn_evaluate(tr->net, &part, batch, &acc, &l, conf);
        v[0] = (double)llround(acc * part.n);
        v[1] = l * part.n;
        for (size_t i = 0; i < nc; i++) v[2 + i] = conf[i];
    }
    /* every process reaches the sum, failed or not, so none waits forever */
    int any = 0, rc2 = ccnn_dist_any(tr->dist, rc != CCNN_OK, &any);
    if (!rc2 && !any) rc2 = ccnn_dist_sum(tr->dist, v, (int)(2 + nc));
    if (!rc && (rc2 || any)) rc = rc2 ? rc2 : CCNN_EDIST;
    if (!rc) {
        if (accuracy) *accuracy = v[0] / ds->n;
        if (loss) *loss = v[1] / ds->n;
        for (size_t i = 0; confusion && i < nc; i++) confusion[i] = (int)v[2 + i];
    }
    free(v);
    free(conf);
    return rc;
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
