/* model.c - model files: a safetensors file holding every parameter and
 * state tensor of a net (and, optionally, the optimizer state), with the
 * network text and the training counters in its metadata.
 *
 * Metadata: "format": "ccnn-model-1", "ccnn.net": network-file text,
 * "ccnn.epochs_done" and "ccnn.steps" (decimal, only with a trainer),
 * "ccnn.epoch_step" (decimal, only when saved mid-epoch: the steps of the
 * epoch in progress already done),
 * "ccnn.metrics": caller-supplied JSON (optional). Optimizer tensors are
 * named "optim.*". */
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FORMAT "ccnn-model-1"
#define OPTIM_PREFIX "optim."
#define ERRF(code, ...) ccnn_errf(err, errlen, code, __VA_ARGS__)

static int is_optim(const char *name)
{
    return !strncmp(name, OPTIM_PREFIX, strlen(OPTIM_PREFIX));
}

/* The tensors of net (and tr, if not NULL): *out has *n entries (malloc'ed). */
static int list_tensors(ccnn_net *net, ccnn_trainer *tr, ccnn_tensor_info **out, int *n_net,
                        int *n_all, const char *path, char *err, size_t errlen)
{
    int nn = ccnn_net_num_tensors(net), nt = tr ? ccnn_trainer_num_tensors(tr) : 0;
    if (nn < 0 || nt < 0)
        return ERRF(nn < 0 ? nn : nt, "%s: cannot list the tensors: %s", path,
                    ccnn_strerror(nn < 0 ? nn : nt));
    ccnn_tensor_info *info = calloc((size_t)(nn + nt) + 1, sizeof *info);
    if (!info) return ERRF(CCNN_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < nn + nt; i++) {
        int rc = i < nn ? ccnn_net_tensor(net, i, &info[i]) : ccnn_trainer_tensor(tr, i - nn, &info[i]);
        if (!rc && (!info[i].name || info[i].ndim < 0 || info[i].ndim > 4))
            rc = CCNN_EINVAL;
        if (!rc && i >= nn && !is_optim(info[i].name))
            rc = CCNN_EINVAL; /* the loader tells optimizer tensors by their prefix */
        if (rc) {
            free(info);
            return ERRF(rc, "%s: %s tensor %d: %s", path, i < nn ? "network" : "optimizer",
                        i < nn ? i : i - nn, ccnn_strerror(rc));
        }
    }
    *out = info;
    *n_net = nn;
    *n_all = nn + nt;
    return 0;
}

int ccnn_model_save(const char *path, ccnn_net *net, ccnn_trainer *tr, const char *extra_json,
                    char *err, size_t errlen)
{
    if (!path || !*path || !net) return ERRF(CCNN_EINVAL, "ccnn_model_save: a path and a net are needed");
    ccnn_tensor_info *info = NULL;
    ccnn_st_out *outs = NULL;
    char *text = NULL, epochs_s[32], steps_s[32], estep_s[32];
    int n_net, n_all;
    int rc = list_tensors(net, tr, &info, &n_net, &n_all, path, err, errlen);
    if (rc) return rc;
    outs = calloc((size_t)n_all + 1, sizeof *outs);
    if (!outs) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", path); goto out; }
    for (int i = 0; i < n_all; i++)
        outs[i] = (ccnn_st_out){info[i].name, info[i].dims, info[i].ndim, info[i].data};
    rc = ccnn_net_to_text(net, &text);
    if (rc) { rc = ERRF(rc, "%s: cannot describe the network: %s", path, ccnn_strerror(rc)); goto out; }

    ccnn_st_kv meta[6];
    int n_meta = 0;
    meta[n_meta++] = (ccnn_st_kv){"format", MODEL_FORMAT};
    meta[n_meta++] = (ccnn_st_kv){"ccnn.net", text};
    if (tr) {
        int epochs;
        uint64_t steps;
        ccnn_trainer_get_counters(tr, &epochs, &steps);
        snprintf(epochs_s, sizeof epochs_s, "%d", epochs);
        snprintf(steps_s, sizeof steps_s, "%" PRIu64, steps);
        meta[n_meta++] = (ccnn_st_kv){"ccnn.epochs_done", epochs_s};
        meta[n_meta++] = (ccnn_st_kv){"ccnn.steps", steps_s};
        if (ccnn_trainer_epoch_step(tr)) {
            snprintf(estep_s, sizeof estep_s, "%" PRIu64, ccnn_trainer_epoch_step(tr));
            meta[n_meta++] = (ccnn_st_kv){"ccnn.epoch_step", estep_s};
        }
    }
    if (extra_json) meta[n_meta++] = (ccnn_st_kv){"ccnn.metrics", extra_json};

    ccnn_atomic_file af;
    rc = ccnn_atomic_open(&af, path, err, errlen);
    if (rc) goto out;
    rc = ccnn_st_write(af.f, path, outs, n_all, meta, n_meta, err, errlen);
    if (rc) ccnn_atomic_abort(&af);
    else rc = ccnn_atomic_commit(&af, err, errlen);
out:
    free(text);
    free(outs);
    free(info);
    return rc;
}

/* Strict decimal number in 0..max. */
static int parse_counter(const char *s, uint64_t max, uint64_t *v)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max) return -1;
    *v = x;
    return 0;
}

/* "format" must be ccnn-model-1; when !required a file without it (a plain
 * safetensors file) passes too. */
static int check_format(const ccnn_st_file *f, int required, const char *path, char *err, size_t errlen)
{
    const char *fmt = ccnn_st_meta(f, "format");
    if (!fmt && !required) return 0;
    if (!fmt)
        return ERRF(CCNN_EFORMAT, "%s: not a ccnn model (no \"format\": \"" MODEL_FORMAT
                    "\" in its metadata)", path);
    if (strcmp(fmt, MODEL_FORMAT))
        return ERRF(CCNN_EFORMAT, "%s: model format \"%.40s\" is not " MODEL_FORMAT
                    ", the one this ccnn reads", path, fmt);
    return 0;
}

/* Checks that the file has a tensor of the right shape for every tensor of
 * net (and tr) and no tensor the net lacks (file tensors named optim.* are
 * ignored without tr), then copies them. Nothing is written unless all
 * checks pass. Mismatches return `code`. */
static int load_tensors(const ccnn_st_file *f, ccnn_net *net, ccnn_trainer *tr, int code,
                        const char *path, char *err, size_t errlen)
{
    ccnn_tensor_info *info = NULL;
    const ccnn_st_tensor **src = NULL;
    unsigned char *used = NULL;
    int n_net, n_all, rc = list_tensors(net, tr, &info, &n_net, &n_all, path, err, errlen);
    if (rc) return rc;
    src = calloc((size_t)n_all + 1, sizeof *src);
    used = calloc((size_t)f->n_tensors + 1, 1);
    if (!src || !used) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", path); goto out; }

    for (int i = 0; i < n_all && !rc; i++) {
        char have[160], need[160];
        int64_t dims[4];
        for (int d = 0; d < info[i].ndim; d++) dims[d] = info[i].dims[d];
        ccnn_st_shape_str(dims, info[i].ndim, need, sizeof need);
        const ccnn_st_tensor *t = ccnn_st_find(f, info[i].name);
        if (!t && i < n_net)
            rc = ERRF(code, "%s: tensor %s is missing (the network needs %s)", path, info[i].name, need);
        else if (!t)
            rc = ERRF(code, "%s: optimizer tensor %s is missing, so training cannot resume exactly "
                      "(the model was saved without the optimizer state, or for another optimizer)",
                      path, info[i].name);
        else if (t->ndim != info[i].ndim || memcmp(t->dims, dims, (size_t)t->ndim * sizeof *dims))
            rc = ERRF(code, "%s: tensor %s has shape %s, the network needs %s", path, info[i].name,
                      ccnn_st_shape_str(t->dims, t->ndim, have, sizeof have), need);
        else if (t->count && !info[i].data)
            rc = ERRF(CCNN_EINVAL, "%s: tensor %s has no storage in the network", path, info[i].name);
        else {
            src[i] = t;
            used[t - f->tensors] = 1;
        }
    }
    for (int j = 0; j < f->n_tensors && !rc; j++) {
        const char *name = f->tensors[j].name;
        if (used[j] || (!tr && is_optim(name))) continue;
        rc = ERRF(code, is_optim(name) ? "%s: optimizer tensor %s is in the file but not in the trainer"
                                       : "%s: tensor %s is in the file but not in the network",
                  path, name);
    }
    if (!rc)
        for (int i = 0; i < n_all; i++) ccnn_st_copy(src[i], info[i].data);
out:
    free(used);
    free(src);
    free(info);
    return rc;
}

int ccnn_model_load(const char *path, ccnn_net **net_out, ccnn_trainer **tr_out, char *err, size_t errlen)
{
    if (!path || !net_out) return ERRF(CCNN_EINVAL, "ccnn_model_load: a path and a net pointer are needed");
    ccnn_st_file f;
    ccnn_net *net = NULL;
    ccnn_trainer *tr = NULL;
    char *label = NULL;
    uint64_t epochs = 0, steps = 0, estep = 0;
    int rc = ccnn_st_read_file(path, &f, err, errlen);
    if (rc) return rc;
    rc = check_format(&f, 1, path, err, errlen);
    if (rc) goto out;
    const char *text = ccnn_st_meta(&f, "ccnn.net");
    if (!text) { rc = ERRF(CCNN_EFORMAT, "%s: no network (ccnn.net) in the metadata", path); goto out; }
    if (tr_out && (parse_counter(ccnn_st_meta(&f, "ccnn.epochs_done"), INT32_MAX, &epochs) ||
                   parse_counter(ccnn_st_meta(&f, "ccnn.steps"), UINT64_MAX, &steps) ||
                   (ccnn_st_meta(&f, "ccnn.epoch_step") &&
                    parse_counter(ccnn_st_meta(&f, "ccnn.epoch_step"), steps, &estep)))) {
        rc = ERRF(CCNN_EFORMAT, "%s: no valid training counters (ccnn.epochs_done, ccnn.steps) "
                  "in the metadata; the model was saved without a trainer", path);
        goto out;
    }
    size_t len = strlen(path) + sizeof ":ccnn.net";
    label = malloc(len);
    if (!label) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", path); goto out; }
    snprintf(label, len, "%s:ccnn.net", path);
    /* nothing is allocated for a network whose tensors the file cannot hold */
    rc = ccnn_net_parse_bounded(text, label, f.size - f.data_start, &net, err, errlen);
    if (rc) {
        if (rc != CCNN_ENOMEM && rc != CCNN_ELIMIT) rc = CCNN_EFORMAT; /* the stored text is the file's fault */
        net = NULL;
        goto out;
    }
    if (tr_out) {
        rc = ccnn_trainer_create(&tr, net);
        if (rc) {
            rc = ERRF(rc, "%s: cannot create a trainer: %s", path, ccnn_strerror(rc));
            tr = NULL;
            goto out;
        }
    }
    rc = load_tensors(&f, net, tr, CCNN_EFORMAT, path, err, errlen);
    if (rc) goto out;
    if (tr) {
        ccnn_trainer_set_counters(tr, (int)epochs, steps);
        ccnn_trainer_set_epoch_step(tr, estep);
    }
    *net_out = net;
    if (tr_out) *tr_out = tr;
out:
    if (rc) {
        if (tr) ccnn_trainer_free(tr);
        ccnn_net_free(net);
    }
    free(label);
    ccnn_st_free(&f);
    return rc;
}

int ccnn_model_load_weights(const char *path, ccnn_net *net, char *err, size_t errlen)
{
    if (!path || !net) return ERRF(CCNN_EINVAL, "ccnn_model_load_weights: a path and a net are needed");
    ccnn_st_file f;
    int rc = ccnn_st_read_file(path, &f, err, errlen);
    if (rc) return rc;
    rc = check_format(&f, 0, path, err, errlen);
    if (!rc) rc = load_tensors(&f, net, NULL, CCNN_ESHAPE, path, err, errlen);
    ccnn_st_free(&f);
    return rc;
}
