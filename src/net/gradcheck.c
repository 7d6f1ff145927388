/* gradcheck.c - finite-difference check of a whole network's gradients:
 * every parameter tensor and the input, on a random batch.
 *
 * The loss is the network's own (mean cross-entropy of its softmax) on
 * random labels, computed in double from float activations. A step of 1e-2
 * keeps float rounding noise (~1e-7 / step) well below the truncation error
 * of smooth layers; a kink (ReLU at 0, a max-pool tie) crossed by the step
 * shows up as a local error, which is why the error of each tensor is
 * measured relative to that tensor's largest gradient. */
#include "net/net_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_STEP 1e-3
#define GC_SEED_STEP 7 /* the dropout "step": same masks in every forward */
#define GC_NOISE 2e-4       /* float rounding in a difference quotient at GC_STEP */

static int loss_at(ccnn_net *net, const float *x, int batch, const uint8_t *labels, double *loss)
{
    int rc = ccnn_net_forward(net, x, batch, 1, GC_SEED_STEP);
    return rc ? rc : ccnn_net_loss(net, labels, loss);
}

/* Forward and backward difference quotients of the loss in v[i] (l0 is the
 * loss at v). Their mean is the central difference. */
static int quotients(ccnn_net *net, const float *x, int batch, const uint8_t *labels, float *v,
                     size_t i, double l0, double *fwd, double *bwd)
{
    float keep = v[i];
    double lp = 0, lm = 0; /* read only when rc is 0, but computed before */
    v[i] = keep + (float)GC_STEP;
    int rc = loss_at(net, x, batch, labels, &lp);
    v[i] = keep - (float)GC_STEP;
    if (!rc) rc = loss_at(net, x, batch, labels, &lm);
    v[i] = keep;
    /* divide by the steps actually taken in float */
    *fwd = (lp - l0) / ((double)(keep + (float)GC_STEP) - (double)keep);
    *bwd = (l0 - lm) / ((double)keep - (double)(keep - (float)GC_STEP));
    return rc;
}

typedef struct gc_result {
    double worst;
    double floor;              /* smallest scale a tensor's error is judged against */
    long checked, kinks;
} gc_result;

/* Worst error over `count` evenly spread elements of v against analytic g.
 * Where the forward and backward quotients disagree, a kink (ReLU at 0, a
 * max-pool switch) lies within the step and the quotient is no derivative:
 * such an element is counted and skipped. On a smooth stretch the two agree
 * to O(step * curvature) whatever the analytic gradient says, so skipping
 * cannot hide a wrong gradient. */
static int check_values(ccnn_net *net, const float *x, int batch, const uint8_t *labels,
                        double l0, float *v, const float *g, size_t n, size_t count, gc_result *res,
                        const char *name, char *where, size_t wlen)
{
    size_t worst_i = 0;
    double worst_num = 0, max_err = 0, scale = 0;
    if (count == 0 || count > n) count = n;
    for (size_t j = 0; j < count; j++) {
        size_t i = count == n ? j : (size_t)((double)j * (double)n / (double)count);
        double fwd, bwd;
        int rc = quotients(net, x, batch, labels, v, i, l0, &fwd, &bwd);
        if (rc) return rc;
        if (fabs(fwd - bwd) > 0.01 * fmax(fabs(fwd), fabs(bwd)) + 2 * GC_NOISE) { res->kinks++; continue; }
        double n1 = 0.5 * (fwd + bwd);
        res->checked++;
        if (fabs(n1 - g[i]) > max_err) { max_err = fabs(n1 - g[i]); worst_i = i; worst_num = n1; }
        scale = fmax(scale, fmax(fabs(n1), fabs((double)g[i])));
    }
    /* float forward passes leave ~GC_NOISE in a numeric gradient: a tensor
     * whose gradient is all below the floor (a bias before batch norm) is
     * judged against the floor, not against its own noise */
    double rel = max_err / fmax(scale, res->floor);
    if (rel > res->worst || isnan(rel)) {
        res->worst = rel;
        if (where && wlen)
            snprintf(where, wlen, "%s[%zu]: analytic %.6g, numeric %.6g (largest gradient %.3g)", name,
                     worst_i, (double)g[worst_i], worst_num, scale);
    }
    return CCNN_OK;
}

int ccnn_net_gradcheck(ccnn_net *net, int batch, int max_checks, uint64_t seed,
                       double *worst_rel_err, char *err, size_t errlen)
{
    if (!net || batch <= 0 || max_checks < 0 || !worst_rel_err)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "bad arguments");
    if (!net->n_layers || net->layers[net->n_layers - 1]->spec.type != CCNN_LAYER_SOFTMAX)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "the network must end with softmax (the loss)");
    size_t in_size = (size_t)net->input.c * net->input.h * net->input.w, nx = in_size * batch;
    int classes = ccnn_net_num_classes(net);
    float *x = malloc(nx * sizeof(float)), *dx = malloc(nx * sizeof(float));
    float *g = malloc((net->n_params ? net->n_params : 1) * sizeof(float));
    float *state = malloc((net->n_state ? net->n_state : 1) * sizeof(float));
    uint8_t *labels = malloc((size_t)batch);
    int rc = CCNN_ENOMEM;
    if (!x || !dx || !g || !state || !labels) goto done;

    ccnn_rng rng = {seed};
    for (size_t i = 0; i < nx; i++) x[i] = (float)ccnn_rng_normal(&rng);
    for (int n = 0; n < batch; n++) labels[n] = (uint8_t)ccnn_rng_below(&rng, (uint64_t)classes);
    memcpy(state, net->state, net->n_state * sizeof(float)); /* forwards move running stats */

    double l0;
    rc = loss_at(net, x, batch, labels, &l0);
    if (!rc) rc = ccnn_net_backward(net, labels, dx);
    if (rc) { ccnn_errf(err, errlen, rc, "forward/backward failed: %s", ccnn_strerror(rc)); goto done; }
    memcpy(g, net->grads, net->n_params * sizeof(float));

    int groups = 1;
    for (int t = 0; t < net->n_tensors; t++) {
        ccnn_tensor_info ti;
        ccnn_net_tensor(net, t, &ti);
        groups += !ti.is_state;
    }
    size_t per = max_checks ? (size_t)(max_checks / groups > 0 ? max_checks / groups : 1) : 0;
    /* the floor: rounding noise, or 2% of the net's largest gradient */
    double gmax = 0;
    for (size_t i = 0; i < net->n_params; i++) gmax = fmax(gmax, fabs((double)g[i]));
    for (size_t i = 0; i < nx; i++) gmax = fmax(gmax, fabs((double)dx[i]));
    gc_result res = {0, fmax(10 * GC_NOISE, 0.02 * gmax), 0, 0};
    for (int t = 0; t < net->n_tensors && !rc; t++) {
        ccnn_tensor_info ti;
        ccnn_net_tensor(net, t, &ti);
        if (ti.is_state) continue;
        size_t n = 1;
        for (int d = 0; d < ti.ndim; d++) n *= (size_t)ti.dims[d];
        rc = check_values(net, x, batch, labels, l0, ti.data, g + (ti.data - net->params), n, per, &res,
                          ti.name, err, errlen);
    }
    if (!rc) rc = check_values(net, x, batch, labels, l0, x, dx, nx, per, &res, "input", err, errlen);
    if (rc) ccnn_errf(err, errlen, rc, "forward failed: %s", ccnn_strerror(rc));
    else {
        *worst_rel_err = res.worst;
        if (err && errlen) {
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, "; %ld elements checked, %ld skipped at kinks",
                     res.checked, res.kinks);
        }
        /* a check that skipped most elements checked nothing */
        if (res.kinks > res.checked) *worst_rel_err = fmax(res.worst, 1.0);
    }
    memcpy(net->state, state, net->n_state * sizeof(float));
    memcpy(net->grads, g, net->n_params * sizeof(float));
done:
    free(x); free(dx); free(g); free(state); free(labels);
    return rc;
}
