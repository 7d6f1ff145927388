/* net.c - the network engine: building a graph of layers, owning its
 * memory, and running forward and backward over it. */
#include "net/net_internal.h"
#include "dist/dist.h"
#include <math.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

ccnn_train_config ccnn_train_config_default(void)
{
    ccnn_train_config c;
    memset(&c, 0, sizeof c);
    c.optimizer = CCNN_OPT_ADAM;
    c.lr = 1e-3f;
    c.momentum = 0.9f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.adam_eps = 1e-8f;
    c.schedule = CCNN_SCHED_CONSTANT;
    c.step_epochs = 10;
    c.gamma = 0.1f;
    c.epochs = 2;
    c.batch = 64;
    c.seed = 1;
    return c;
}

int ccnn_net_create(ccnn_net **out, const ccnn_input_spec *input)
{
    if (!out || !input || input->c <= 0 || input->h <= 0 || input->w <= 0 ||
        input->c > CCNN_MAX_CHANNELS)
        return CCNN_EINVAL;
    for (int c = 0; c < input->c; c++)
        if (!(input->std[c] >= 0) || !isfinite(input->mean[c]) || !isfinite(input->std[c]))
            return CCNN_EINVAL;
    ccnn_net *net = calloc(1, sizeof *net);
    if (!net) return CCNN_ENOMEM;
    net->input = *input;
    for (int c = 0; c < input->c; c++)
        if (net->input.std[c] == 0) net->input.std[c] = 1;
    net->train = ccnn_train_config_default();
    *out = net;
    return CCNN_OK;
}

static void free_activations(ccnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        if (l->relu_after) l->out = l->dout = NULL; /* the fused ReLU's buffers */
        l->relu_after = l->fused = 0;
    }
    for (int i = 0; i < net->n_layers; i++) {
        free(net->layers[i]->out);
        free(net->layers[i]->dout);
        net->layers[i]->out = net->layers[i]->dout = NULL;
    }
    free(net->dx);
    net->dx = NULL;
    net->batch_cap = 0;
}

void ccnn_net_free(ccnn_net *net)
{
    if (!net) return;
    free_activations(net);
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        if (l->ops->destroy) l->ops->destroy(l);
        free(l);
    }
    for (int i = 0; i < net->n_tensors; i++) free(net->tensor_names[i]);
    free(net->tensor_names);
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->state);
    free(net->chunk_grads);
    free(net);
}

int ccnn_net_find(const ccnn_net *net, const char *name)
{
    if (strcmp(name, "input") == 0) return -1;
    for (int i = 0; i < net->n_layers; i++)
        if (strcmp(net->layers[i]->spec.name, name) == 0) return i;
    return -2;
}

static ccnn_shape shape_of(const ccnn_net *net, int idx)
{
    if (idx < 0) return (ccnn_shape){net->input.c, net->input.h, net->input.w};
    return net->layers[idx]->out_shape;
}

/* Points every layer's params/grads/state at the (possibly moved) arrays. */
static void relink(ccnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        l->params = l->n_params ? net->params + l->param_offset : NULL;
        l->grads = l->n_params ? net->grads + l->param_offset : NULL;
        l->state = l->n_state ? net->state + l->state_offset : NULL;
    }
}

static int grow(float **a, size_t n)
{
    float *p = realloc(*a, (n ? n : 1) * sizeof(float));
    if (!p) return CCNN_ENOMEM;
    *a = p;
    return CCNN_OK;
}

int ccnn_net_valid_name(const char *s)
{
    if (!*s || strlen(s) >= CCNN_NAME_MAX || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    if (!strcmp(s, "input")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

int ccnn_net_add(ccnn_net *net, const ccnn_layer_spec *spec, char *err, size_t errlen)
{
    if (!net || !spec) return ccnn_errf(err, errlen, CCNN_EINVAL, "no network or layer");
    const ccnn_layer_ops *ops = ccnn_layer_ops_for(spec->type);
    if (!ops) return ccnn_errf(err, errlen, CCNN_EINVAL, "unknown layer type %d", (int)spec->type);
    if (net->n_layers && net->layers[net->n_layers - 1]->spec.type == CCNN_LAYER_SOFTMAX)
        return ccnn_errf(err, errlen, CCNN_ESHAPE, "%s: no layer may follow softmax (the loss)",
                                ops->type_name);
    if (memchr(spec->name, 0, CCNN_NAME_MAX) == NULL)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "layer name too long");
    if (spec->name[0] && !ccnn_net_valid_name(spec->name))
        return ccnn_errf(err, errlen, CCNN_EINVAL,
                         "%s: bad name '%s' (a letter or _, then letters, digits, _ or -; "
                         "not 'input')", ops->type_name, spec->name);

    if (net->n_layers >= CCNN_MAX_LAYERS)
        return ccnn_errf(err, errlen, CCNN_ELIMIT, "more than %d layers", CCNN_MAX_LAYERS);
    ccnn_layer *l = calloc(1, sizeof *l);
    if (!l) return ccnn_errf(err, errlen, CCNN_ENOMEM, "out of memory for a layer (%zu bytes)", sizeof *l);
    l->ops = ops;
    l->spec = *spec;
    l->index = net->n_layers;
    if (!l->spec.name[0])
        snprintf(l->spec.name, CCNN_NAME_MAX, "%s%d", ops->type_name, net->n_layers + 1);
    int rc = CCNN_OK;
    if (ccnn_net_find(net, l->spec.name) != -2) {
        rc = ccnn_errf(err, errlen, CCNN_EINVAL, "%s: the name '%s' is already used",
                              ops->type_name, l->spec.name);
        goto fail;
    }
    int n_in = spec->n_inputs;
    if (n_in < 0 || n_in > CCNN_MAX_INPUTS) {
        rc = ccnn_errf(err, errlen, CCNN_EINVAL, "%s: %d inputs", ops->type_name, n_in);
        goto fail;
    }
    if (n_in == 0) {
        l->n_in = 1;
        l->in_idx[0] = net->n_layers - 1; /* -1: the net input */
    } else {
        l->n_in = n_in;
        for (int i = 0; i < n_in; i++) {
            int idx = ccnn_net_find(net, spec->inputs[i]);
            if (idx == -2) {
                rc = ccnn_errf(err, errlen, CCNN_EINVAL, "%s: no earlier layer is named '%s'",
                                      ops->type_name, spec->inputs[i]);
                goto fail;
            }
            l->in_idx[i] = idx;
        }
    }
    if (l->n_in < ops->min_inputs || l->n_in > ops->max_inputs) {
        rc = ccnn_errf(err, errlen, CCNN_EINVAL, "%s takes %d to %d inputs, not %d",
                              ops->type_name, ops->min_inputs, ops->max_inputs, l->n_in);
        goto fail;
    }
    for (int i = 0; i < l->n_in; i++) l->in_shape[i] = shape_of(net, l->in_idx[i]);
    char msg[256] = "";
    rc = ops->setup(l, msg, sizeof msg);
    if (rc) {
        ccnn_errf(err, errlen, rc, "%s: %s", ops->type_name, msg);
        goto fail;
    }
    if (l->out_shape.c <= 0 || l->out_shape.h <= 0 || l->out_shape.w <= 0) {
        rc = ccnn_errf(err, errlen, CCNN_ESHAPE, "%s: empty output %dx%dx%d", ops->type_name,
                              l->out_shape.c, l->out_shape.h, l->out_shape.w);
        goto fail;
    }

    /* Grow the layer list, names and parameter arrays; commit only when all
     * allocations succeeded. */
    if (net->n_layers == net->cap_layers) {
        int cap = net->cap_layers ? 2 * net->cap_layers : 16;
        ccnn_layer **ls = realloc(net->layers, (size_t)cap * sizeof *ls);
        if (!ls) { rc = CCNN_ENOMEM; goto fail; }
        net->layers = ls;
        net->cap_layers = cap;
    }
    char **names = realloc(net->tensor_names, (size_t)(net->n_tensors + l->n_tensors + 1) * sizeof *names);
    if (!names) { rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory for the tensor names", ops->type_name); goto fail; }
    net->tensor_names = names;
    size_t np = net->n_params + l->n_params, ns = net->n_state + l->n_state;
    if (!net->deferred && (grow(&net->params, np) || grow(&net->grads, np) || grow(&net->state, ns))) {
        relink(net);
        rc = ccnn_errf(err, errlen, CCNN_ENOMEM,
                       "%s: out of memory growing the parameters to %zu floats (and as many gradients)",
                       ops->type_name, np);
        goto fail;
    }
    for (int t = 0; t < l->n_tensors; t++) {
        size_t len = strlen(l->spec.name) + strlen(l->tensors[t].suffix) + 2;
        char *nm = malloc(len);
        if (!nm) {
            for (int u = 0; u < t; u++) free(names[net->n_tensors + u]);
            if (!net->deferred) relink(net);
            rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory for a tensor name", ops->type_name);
            goto fail;
        }
        snprintf(nm, len, "%s.%s", l->spec.name, l->tensors[t].suffix);
        names[net->n_tensors + t] = nm;
    }
    free_activations(net); /* sized again on the next forward */
    l->param_offset = net->n_params;
    l->state_offset = net->n_state;
    if (!net->deferred) {
        memset(net->params + net->n_params, 0, l->n_params * sizeof(float));
        memset(net->grads + net->n_params, 0, l->n_params * sizeof(float));
        memset(net->state + net->n_state, 0, l->n_state * sizeof(float));
    }
    net->n_params = np;
    net->n_state = ns;
    net->n_tensors += l->n_tensors;
    net->layers[net->n_layers++] = l;
    if (!net->deferred) relink(net);
    return CCNN_OK;
fail:
    if (l->ops->destroy) l->ops->destroy(l);
    free(l);
    return rc;
}

int ccnn_net_alloc_params(ccnn_net *net)
{
    float *p = calloc(net->n_params ? net->n_params : 1, sizeof(float));
    float *g = calloc(net->n_params ? net->n_params : 1, sizeof(float));
    float *s = calloc(net->n_state ? net->n_state : 1, sizeof(float));
    if (!p || !g || !s) {
        free(p); free(g); free(s);
        return CCNN_ENOMEM;
    }
    free(net->params); free(net->grads); free(net->state);
    net->params = p; net->grads = g; net->state = s;
    net->deferred = 0;
    relink(net);
    return CCNN_OK;
}

ccnn_train_config *ccnn_net_train_config(ccnn_net *net) { return &net->train; }
ccnn_input_spec *ccnn_net_input(ccnn_net *net) { return &net->input; }
int ccnn_net_num_layers(const ccnn_net *net) { return net->n_layers; }
size_t ccnn_net_num_params(const ccnn_net *net) { return net->n_params; }
float *ccnn_net_params(ccnn_net *net) { return net->params; }
float *ccnn_net_grads(ccnn_net *net) { return net->grads; }
size_t ccnn_net_num_state(const ccnn_net *net) { return net->n_state; }
float *ccnn_net_state(ccnn_net *net) { return net->state; }
int ccnn_net_num_tensors(const ccnn_net *net) { return net->n_tensors; }

int ccnn_net_num_classes(const ccnn_net *net)
{
    if (!net->n_layers) return 0;
    return (int)ccnn_shape_size(net->layers[net->n_layers - 1]->out_shape);
}

int ccnn_net_layer_info(const ccnn_net *net, int i, ccnn_layer_info *info)
{
    if (!net || !info || i < 0 || i >= net->n_layers) return CCNN_EINVAL;
    const ccnn_layer *l = net->layers[i];
    info->name = l->spec.name;
    info->type = l->ops->type_name;
    info->c = l->out_shape.c;
    info->h = l->out_shape.h;
    info->w = l->out_shape.w;
    info->params = l->n_params;
    info->flops = l->flops;
    return CCNN_OK;
}

int ccnn_net_tensor(ccnn_net *net, int i, ccnn_tensor_info *info)
{
    if (!net || !info || i < 0 || i >= net->n_tensors) return CCNN_EINVAL;
    int t = i;
    for (int j = 0; j < net->n_layers; j++) {
        ccnn_layer *l = net->layers[j];
        if (t >= l->n_tensors) { t -= l->n_tensors; continue; }
        const ccnn_layer_tensor *lt = &l->tensors[t];
        info->name = net->tensor_names[i];
        info->ndim = lt->ndim;
        for (int d = 0; d < 4; d++) info->dims[d] = d < lt->ndim ? lt->dims[d] : 1;
        info->is_state = lt->is_state;
        info->data = (lt->is_state ? l->state : l->params) + lt->offset;
        return CCNN_OK;
    }
    return CCNN_EINVAL;
}

int ccnn_net_find_tensor(ccnn_net *net, const char *name, ccnn_tensor_info *info)
{
    if (!net || !name || !info) return CCNN_EINVAL;
    for (int i = 0; i < net->n_tensors; i++)
        if (!strcmp(net->tensor_names[i], name)) return ccnn_net_tensor(net, i, info);
    return CCNN_ENOTFOUND;
}

int ccnn_net_init(ccnn_net *net, uint64_t seed)
{
    if (!net) return CCNN_EINVAL;
    memset(net->params, 0, net->n_params * sizeof(float));
    memset(net->state, 0, net->n_state * sizeof(float));
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        ccnn_rng rng = {ccnn_hash3(seed, (uint64_t)i, 0x1a17)};
        if (l->ops->init) l->ops->init(l, &rng);
    }
    return CCNN_OK;
}

/* A ReLU that is the only reader of a layer able to apply it (batch norm,
 * add: ops->fuse_relu) is done by that layer: conv-bn-relu and the residual
 * add-relu then take one pass over the activations less each way, and the
 * producer's own output and gradient buffers are never needed. The
 * arithmetic of every value is unchanged (layer.h, relu_after). */
static void plan_fusion(ccnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) net->layers[i]->n_consumers = 0;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i]->n_in; j++)
            if (net->layers[i]->in_idx[j] >= 0) net->layers[net->layers[i]->in_idx[j]]->n_consumers++;
    if (net->no_fusion) return;
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *r = net->layers[i];
        if (r->spec.type != CCNN_LAYER_RELU || r->n_in != 1 || r->in_idx[0] < 0) continue;
        ccnn_layer *p = net->layers[r->in_idx[0]];
        if (!p->ops->fuse_relu || p->n_consumers != 1 || p->relu_after) continue;
        p->relu_after = 1;
        r->fused = 1;
    }
}

/* Activation buffers for `batch` samples, grown only when needed. */
static int reserve(ccnn_net *net, int batch)
{
    if (batch <= net->batch_cap) return CCNN_OK;
    ccnn_memory_estimate m;
    if (ccnn_net_memory(net, batch, &m) || m.params + m.activations > ccnn_memory_limit()) return CCNN_ELIMIT;
    free_activations(net);
    plan_fusion(net);
    size_t in_size = (size_t)net->input.c * net->input.h * net->input.w;
    net->dx = malloc((size_t)batch * in_size * sizeof(float));
    if (!net->dx) return CCNN_ENOMEM;
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        size_t n = (size_t)batch * ccnn_shape_size(l->out_shape);
        if (!l->relu_after) { /* that one gets the ReLU's buffers */
            l->out = malloc(n * sizeof(float));
            l->dout = malloc(n * sizeof(float));
            if (!l->out || !l->dout) { free_activations(net); return CCNN_ENOMEM; }
        }
        if (l->fused) {
            ccnn_layer *p = net->layers[l->in_idx[0]];
            p->out = l->out;
            p->dout = l->dout;
        }
    }
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        if (l->ops->reserve) {
            int rc = l->ops->reserve(l, batch);
            if (rc) { free_activations(net); return rc; }
        }
    }
    net->batch_cap = batch;
    return CCNN_OK;
}

/* A data-parallel step's place of this process's images (dist/dist.h). */
static void set_dist(const ccnn_net *net, ccnn_run *run)
{
    if (!net->dist) return;
    const ccnn_dist_step *st = ccnn_dist_get_step(net->dist);
    run->dist = net->dist;
    run->first = st->first;
    run->global_batch = st->global_batch;
}

int ccnn_net_forward(ccnn_net *net, const float *x, int batch, int train, uint64_t step)
{
    if (!net || !x || batch <= 0 || net->n_layers == 0) return CCNN_EINVAL;
    int rc = reserve(net, batch);
    if (rc) return rc;
    ccnn_run run = {batch, train != 0, net->train.seed, step, NULL, 0, NULL, 0, batch};
    if (train) set_dist(net, &run);
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        if (l->fused) continue; /* done by its input layer */
        for (int j = 0; j < l->n_in; j++)
            l->in[j] = l->in_idx[j] < 0 ? x : net->layers[l->in_idx[j]]->out;
        rc = l->ops->forward(l, &run);
        if (rc) return rc;
    }
    net->x = x;
    net->last_batch = batch;
    net->last_train = train != 0;
    net->last_step = step;
    return CCNN_OK;
}

const float *ccnn_net_output(const ccnn_net *net)
{
    return net && net->n_layers ? net->layers[net->n_layers - 1]->out : NULL;
}

int ccnn_net_loss(const ccnn_net *net, const uint8_t *labels, double *loss)
{
    if (!net || !labels || !loss || !net->last_batch || !net->n_layers) return CCNN_EINVAL;
    const ccnn_layer *l = net->layers[net->n_layers - 1];
    if (l->spec.type != CCNN_LAYER_SOFTMAX) return CCNN_EINVAL;
    int classes = (int)ccnn_shape_size(l->out_shape);
    double total = 0;
    /* from the logits, so a tiny probability gives a large loss, not inf */
    for (int n = 0; n < net->last_batch; n++) {
        const float *z = l->in[0] + (size_t)n * classes;
        if (labels[n] >= classes) return CCNN_EINVAL;
        double m = z[0], s = 0;
        for (int k = 1; k < classes; k++) m = fmax(m, z[k]);
        for (int k = 0; k < classes; k++) s += exp((double)z[k] - m);
        total += m + log(s) - z[labels[n]];
    }
    *loss = total / net->last_batch;
    return isfinite(*loss) ? CCNN_OK : CCNN_ENONFINITE;
}

/* Zeroes n floats, over the threads when there are many (one thread alone
 * cannot fill the memory bandwidth, and the others would only wait). */
static void zero_floats(float *p, size_t n)
{
    const size_t chunk = (size_t)1 << 16;
    if (n < 4 * chunk || ccnn_threads() < 2) {
        memset(p, 0, n * sizeof(float));
        return;
    }
    const int64_t chunks = (int64_t)((n + chunk - 1) / chunk);
    #pragma omp parallel for num_threads(ccnn_threads()) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        size_t a = (size_t)c * chunk, len = n - a < chunk ? n - a : chunk;
        memset(p + a, 0, len * sizeof(float));
    }
}

/* Layers whose weight gradients are summed chunk by chunk: every layer with
 * parameters but batch norm, whose gradients come from statistics of the
 * whole batch (taken across the processes) and so are the same anywhere. */
static int chunked(const ccnn_layer *l)
{
    return l->n_params && l->spec.type != CCNN_LAYER_BATCHNORM;
}

/* Backward of layer l one chunk of CCNN_CHUNK images at a time; the
 * chunks' weight gradients are added in chunk order into l->grads (across
 * the processes, in rank order, with a communicator). The chunks are
 * independent: such a layer treats every image apart but for the sums
 * over the batch. */
static int backward_chunked(ccnn_net *net, ccnn_layer *l, const ccnn_run *run)
{
    const int batch = run->batch, n_chunks = (batch + CCNN_CHUNK - 1) / CCNN_CHUNK;
    const float *in0[CCNN_MAX_INPUTS];
    float *din0[CCNN_MAX_INPUTS], *dout0 = l->dout, *grads0 = l->grads;
    size_t in_size[CCNN_MAX_INPUTS], out_size = ccnn_shape_size(l->out_shape);
    for (int j = 0; j < l->n_in; j++) {
        in0[j] = l->in[j];
        din0[j] = l->din[j];
        in_size[j] = ccnn_shape_size(l->in_shape[j]);
    }
    /* The first process of the chain (or a process alone) starts the sum:
     * its chunks may go straight into one sum, since a layer adds each
     * chunk's gradient to l->grads as a finished value (g + c_k, the same
     * bits as adding c_k kept apart), which saves the buffers' memory
     * traffic. The others hold theirs apart until the sum before them
     * arrives. */
    const int direct = !run->dist || ccnn_dist_rank(run->dist) == 0;
    float *acc = net->chunk_grads + l->param_offset, *sum = NULL;
    if (run->dist && direct) memset(acc, 0, l->n_params * sizeof(float));
    /* ...or they receive that sum first and add theirs straight on: the
     * communication side times both ways and picks (dist.h) */
    int rc = run->dist && !direct ? ccnn_dist_begin_chunks(run->dist, acc, grads0, l->n_params, l->index, &sum)
                                  : CCNN_OK;
    for (int k = 0; k < n_chunks && !rc; k++) {
        const int a = k * CCNN_CHUNK, count = batch - a < CCNN_CHUNK ? batch - a : CCNN_CHUNK;
        if (direct) {
            l->grads = run->dist ? acc : grads0; /* grads0 was zeroed by the engine */
        } else if (sum) {
            l->grads = sum;
        } else {
            l->grads = acc + (size_t)k * net->n_params;
            memset(l->grads, 0, l->n_params * sizeof(float));
        }
        for (int j = 0; j < l->n_in; j++) {
            l->in[j] = in0[j] + (size_t)a * in_size[j];
            l->din[j] = din0[j] ? din0[j] + (size_t)a * in_size[j] : NULL;
        }
        l->dout = dout0 + (size_t)a * out_size;
        ccnn_run r = *run;
        r.batch = count;
        r.first = run->first + a;
        rc = l->ops->backward(l, &r);
    }
    for (int j = 0; j < l->n_in; j++) {
        l->in[j] = in0[j];
        l->din[j] = din0[j];
    }
    l->dout = dout0;
    l->grads = grads0;
    if (rc || !run->dist) return rc;
    return ccnn_dist_reduce_chunks(run->dist, acc, net->n_params, direct || sum ? 1 : n_chunks, grads0,
                                   l->n_params, l->index);
}

int ccnn_net_backward(ccnn_net *net, const uint8_t *labels, float *dx)
{
    if (!net || !net->last_train || !net->last_batch) return CCNN_EINVAL;
    ccnn_layer *last = net->layers[net->n_layers - 1];
    int classes = (int)ccnn_shape_size(last->out_shape);
    if (last->spec.type != CCNN_LAYER_SOFTMAX || !labels) return CCNN_EINVAL;
    for (int n = 0; n < net->last_batch; n++)
        if (labels[n] >= classes) return CCNN_EINVAL;
    int batch = net->last_batch;
    ccnn_run run = {batch, 1, net->train.seed, net->last_step, labels, 0, NULL, 0, batch};
    set_dist(net, &run);
    int n_chunks = (batch + CCNN_CHUNK - 1) / CCNN_CHUNK;
    if (run.dist && (size_t)n_chunks * net->n_params > net->chunk_floats) {
        float *c = realloc(net->chunk_grads, (size_t)n_chunks * net->n_params * sizeof(float));
        if (!c) return CCNN_ENOMEM;
        net->chunk_grads = c;
        net->chunk_floats = (size_t)n_chunks * net->n_params;
    }
    memset(net->grads, 0, net->n_params * sizeof(float));
    /* Backward adds into each dout, so it must start at zero - but zeroing
     * all of them up front streams every activation gradient through memory
     * once more. Each is zeroed just before its first adder runs (the
     * highest-numbered layer reading that output), when the buffer is about
     * to be written anyway; outputs nobody reads are zeroed first. */
    for (int i = 0; i < net->n_layers; i++) {
        net->layers[i]->last_consumer = -1;
        net->layers[i]->n_consumers = 0;
    }
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i]->n_in; j++) {
            int idx = net->layers[i]->in_idx[j];
            if (idx < 0) continue;
            net->layers[idx]->last_consumer = i;
            net->layers[idx]->n_consumers++;
        }
    for (int i = 0; i < net->n_layers; i++) {
        ccnn_layer *l = net->layers[i];
        if (l->last_consumer < 0)
            memset(l->dout, 0, (size_t)batch * ccnn_shape_size(l->out_shape) * sizeof(float));
    }
    size_t in_size = (size_t)net->input.c * net->input.h * net->input.w;
    if (dx) memset(net->dx, 0, (size_t)batch * in_size * sizeof(float));
    for (int i = net->n_layers - 1; i >= 0; i--) {
        ccnn_layer *l = net->layers[i];
        if (l->fused) continue; /* its input layer applies its gradient */
        run.din_fresh = 0;
        for (int j = 0; j < l->n_in; j++) {
            int idx = l->in_idx[j];
            l->in[j] = idx < 0 ? net->x : net->layers[idx]->out;
            l->din[j] = idx < 0 ? (dx ? net->dx : NULL) : net->layers[idx]->dout;
            if (idx < 0 || net->layers[idx]->last_consumer != i) continue;
            if (l->ops->set_din && l->n_in == 1 && net->layers[idx]->n_consumers == 1)
                run.din_fresh = 1; /* it writes din[0] itself: no zeroing */
            else
                zero_floats(l->din[j], (size_t)batch * ccnn_shape_size(net->layers[idx]->out_shape));
        }
        int rc = chunked(l) ? backward_chunked(net, l, &run) : l->ops->backward(l, &run);
        if (rc) return rc;
    }
    if (run.dist) {
        int rc = ccnn_dist_wait(run.dist);
        if (rc) return rc;
    }
    if (dx) memcpy(dx, net->dx, (size_t)batch * in_size * sizeof(float));
    return CCNN_OK;
}
