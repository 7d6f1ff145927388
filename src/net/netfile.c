/* netfile.c - the network file format (docs/netfile.md): reading it into a
 * net, and writing a net back as text that reads back to the same net.
 *
 *   # comment                      blank lines and comments anywhere
 *   input 1x28x28 mean=0.286 std=0.353
 *   conv filters=32 size=3 pad=1
 *   relu
 *   ...
 *   softmax
 *   train optimizer=adam lr=0.001 batch=64
 *
 * Every error is "FILE:LINE: what is wrong". */
#include "net/net_internal.h"
#include "net/netfile_opts.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *file;
    int line;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *ps, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *ps, int code, const char *fmt, ...)
{
    if (ps->err && ps->errlen) {
        int n = ps->line > 0 ? snprintf(ps->err, ps->errlen, "%s:%d: ", ps->file, ps->line)
                             : snprintf(ps->err, ps->errlen, "%s: ", ps->file); /* not about a line */
        if (n >= 0 && (size_t)n < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

/* ---- the train line ------------------------------------------------------ */

static int set_train_option(ccnn_train_config *c, const char *key, const char *val)
{
    float f;
    int i;
    if (!strcmp(key, "optimizer")) {
        if (!strcmp(val, "sgd")) c->optimizer = CCNN_OPT_SGD;
        else if (!strcmp(val, "adam")) c->optimizer = CCNN_OPT_ADAM;
        else if (!strcmp(val, "adamw")) c->optimizer = CCNN_OPT_ADAMW;
        else return -1;
        return 0;
    }
    if (!strcmp(key, "schedule")) {
        if (!strcmp(val, "constant")) c->schedule = CCNN_SCHED_CONSTANT;
        else if (!strcmp(val, "step")) c->schedule = CCNN_SCHED_STEP;
        else if (!strcmp(val, "cosine")) c->schedule = CCNN_SCHED_COSINE;
        else return -1;
        return 0;
    }
    if (!strcmp(key, "seed")) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || end == val || *end || *val == '-') return -1;
        c->seed = v;
        return 0;
    }
    struct { const char *key; int *ip; float *fp; double lo, hi; } num[] = {
        {"lr", NULL, &c->lr, 1e-12, 10}, {"momentum", NULL, &c->momentum, 0, 0.999999},
        {"nesterov", &c->nesterov, NULL, 0, 1}, {"weight_decay", NULL, &c->weight_decay, 0, 1},
        {"beta1", NULL, &c->beta1, 0, 0.999999}, {"beta2", NULL, &c->beta2, 0, 0.999999999},
        {"eps", NULL, &c->adam_eps, 1e-30, 1}, {"step", &c->step_epochs, NULL, 1, 100000},
        {"gamma", NULL, &c->gamma, 1e-9, 1}, {"epochs", &c->epochs, NULL, 1, 100000},
        {"batch", &c->batch, NULL, 1, 65536}, {"crop", &c->augment_crop, NULL, 0, 64},
        {"flip", &c->augment_flip, NULL, 0, 1},
    };
    for (size_t k = 0; k < sizeof num / sizeof num[0]; k++) {
        if (strcmp(key, num[k].key)) continue;
        if (num[k].ip) {
            if (netfile_parse_int(val, (long)num[k].lo, (long)num[k].hi, &i)) return -1;
            *num[k].ip = i;
        } else {
            if (netfile_parse_float(val, &f) || f < num[k].lo || f > num[k].hi) return -1;
            *num[k].fp = f;
        }
        return 0;
    }
    return -2; /* unknown key */
}

static const char train_keys[] =
    "optimizer, lr, momentum, nesterov, weight_decay, beta1, beta2, eps, schedule, step, gamma, "
    "epochs, batch, crop, flip, seed";

/* ---- the input line ------------------------------------------------------ */

static int parse_floats(const char *s, float *out, int n_max, int *n)
{
    char buf[512], *tok, *save;
    if (strlen(s) >= sizeof buf || netfile_empty_item(s)) return -1;
    strcpy(buf, s);
    *n = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == n_max || netfile_parse_float(tok, &out[*n])) return -1;
        (*n)++;
    }
    return *n ? 0 : -1;
}

static int parse_input_line(parser *ps, char **tok, int ntok, ccnn_input_spec *in)
{
    memset(in, 0, sizeof *in);
    /* three bounded numbers (sscanf's %d wrapped 4294967324 round to 28) */
    char dims[64], *x1 = NULL, *x2 = NULL;
    int bad = ntok < 2 || strlen(tok[1]) >= sizeof dims;
    if (!bad) {
        strcpy(dims, tok[1]);
        bad = !(x1 = strchr(dims, 'x')) || !(x2 = strchr(x1 + 1, 'x'));
    }
    if (!bad) {
        *x1 = *x2 = 0;
        bad = netfile_parse_int(dims, 1, CCNN_MAX_CHANNELS, &in->c) ||
              netfile_parse_int(x1 + 1, 1, 1 << 26, &in->h) || netfile_parse_int(x2 + 1, 1, 1 << 26, &in->w) ||
              (long)in->h * in->w > (1L << 26);
    }
    if (bad)
        return fail(ps, CCNN_EINVAL, "input: expected 'input CxHxW' with C from 1 to %d, got '%s'",
                    CCNN_MAX_CHANNELS, ntok > 1 ? tok[1] : "");
    for (int c = 0; c < CCNN_MAX_CHANNELS; c++) in->std[c] = 1;
    for (int i = 2; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) return fail(ps, CCNN_EINVAL, "input: expected key=value, got '%s'", tok[i]);
        *eq = 0;
        float v[CCNN_MAX_CHANNELS];
        int n;
        int is_mean = !strcmp(tok[i], "mean"), is_std = !strcmp(tok[i], "std");
        if (!is_mean && !is_std)
            return fail(ps, CCNN_EINVAL, "input: unknown option '%s' (known: mean, std)", tok[i]);
        if (parse_floats(eq + 1, v, CCNN_MAX_CHANNELS, &n) || (n != 1 && n != in->c))
            return fail(ps, CCNN_EINVAL, "input: bad value '%s' for %s: expected one number or %d separated by commas",
                        eq + 1, tok[i], in->c);
        for (int c = 0; c < in->c; c++) {
            float x = v[n == 1 ? 0 : c];
            if (is_std && !(x > 0)) return fail(ps, CCNN_EINVAL, "input: std must be > 0");
            (is_mean ? in->mean : in->std)[c] = x;
        }
    }
    return CCNN_OK;
}

/* ---- lines --------------------------------------------------------------- */

/* Splits a line into words at blanks; strips a comment. */
static int split(char *line, char **tok, int max)
{
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    int n = 0;
    for (char *p = line; *p;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (n == max) return -1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (*p) *p++ = 0;
    }
    return n;
}

static int parse_layer_line(parser *ps, ccnn_net *net, char **tok, int ntok)
{
    int type = ccnn_layer_type_from_name(tok[0]);
    if (type < 0)
        return fail(ps, CCNN_EINVAL, "unknown layer '%s' (known: conv, deconv, dense, relu, leaky_relu, "
                    "sigmoid, tanh, maxpool, avgpool, global_avgpool, batchnorm, dropout, flatten, add, "
                    "concat, softmax)", tok[0]);
    ccnn_layer_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.type = (ccnn_layer_type)type;
    const unsigned bit = NETFILE_BIT(type);
    uint64_t seen = 0; /* bit k: row k was given */
    netfile_opts_start(&sp);
    for (int i = 1; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) return fail(ps, CCNN_EINVAL, "%s: expected key=value, got '%s'", tok[0], tok[i]);
        *eq = 0;
        const char *key = tok[i], *val = eq + 1;
        const netfile_opt *opt = netfile_layer_opt(key);
        if (!opt || !(opt->types & bit)) {
            char known[256] = "";
            for (size_t k = 0; k < netfile_n_layer_opts; k++)
                if (netfile_layer_opts[k].types & bit) {
                    size_t n = strlen(known);
                    snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", netfile_layer_opts[k].key);
                }
            return fail(ps, CCNN_EINVAL, "%s: unknown option '%s' (known: %s)", tok[0], key, known);
        }
        if (netfile_opt_set(opt, &sp, val))
            return fail(ps, CCNN_EINVAL, "%s: bad value '%s' for %s: expected %s", tok[0], val, key, opt->expect);
        seen |= 1ull << (opt - netfile_layer_opts);
    }
    const netfile_opt *missing = NULL; /* the first to report: lowest `required` */
    for (size_t k = 0; k < netfile_n_layer_opts; k++) {
        const netfile_opt *o = &netfile_layer_opts[k];
        if (o->required && (o->types & bit) && !(seen >> k & 1) && (!missing || o->required < missing->required))
            missing = o;
    }
    if (missing) return fail(ps, CCNN_EINVAL, "%s: %s= is required", tok[0], missing->key);
    char msg[256] = "";
    int rc = ccnn_net_add(net, &sp, msg, sizeof msg);
    if (rc) return fail(ps, rc, "%s", msg[0] ? msg : ccnn_strerror(rc));
    return CCNN_OK;
}

/* After the whole text is known good: the parameters' memory against the
 * limit (and against the tensor data a model file holds), then allocated. */
static int allocate(parser *ps, ccnn_net *net, uint64_t max_tensor_bytes)
{
    char need[32], have[32];
    double tensors = ((double)net->n_params + net->n_state) * sizeof(float);
    if (max_tensor_bytes != UINT64_MAX && tensors > (double)max_tensor_bytes)
        return fail(ps, CCNN_EFORMAT, "the network's tensors take %s, the file holds only %s of tensor data",
                    ccnn_format_bytes((uint64_t)tensors, need, sizeof need),
                    ccnn_format_bytes(max_tensor_bytes, have, sizeof have));
    ccnn_memory_estimate m;
    ccnn_net_memory(net, 1, &m);
    if (m.params > ccnn_memory_limit())
        return fail(ps, CCNN_ELIMIT, "the network's %zu parameters need %s (with their gradients), over the "
                    "memory limit of %s (CCNN_MEMORY_LIMIT or --memory-limit raises it)", net->n_params,
                    ccnn_format_bytes(m.params, need, sizeof need),
                    ccnn_format_bytes(ccnn_memory_limit(), have, sizeof have));
    if (ccnn_net_alloc_params(net))
        return fail(ps, CCNN_ENOMEM, "out of memory allocating the parameters (%s)",
                    ccnn_format_bytes(m.params, need, sizeof need));
    return CCNN_OK;
}

int ccnn_net_parse(const char *text, const char *filename, ccnn_net **out, char *err, size_t errlen)
{
    return ccnn_net_parse_bounded(text, filename, UINT64_MAX, out, err, errlen);
}

int ccnn_net_parse_bounded(const char *text, const char *filename, uint64_t max_tensor_bytes, ccnn_net **out,
                           char *err, size_t errlen)
{
    parser ps = {filename ? filename : "<net>", 0, err, errlen};
    if (!text || !out) return fail(&ps, CCNN_EINVAL, "no text");
    ccnn_net *net = NULL;
    int rc = CCNN_OK, seen_train = 0, last_layer_line = 0;
    const char *p = text;
    char line[4096];
    while (*p && !rc) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        ps.line++;
        if (len >= sizeof line) { rc = fail(&ps, CCNN_EINVAL, "line longer than %zu characters", sizeof line - 1); break; }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        char *tok[64];
        int ntok = split(line, tok, 64);
        if (ntok < 0) { rc = fail(&ps, CCNN_EINVAL, "too many words"); break; }
        if (ntok == 0) continue;
        if (!net) {
            ccnn_input_spec in;
            if (strcmp(tok[0], "input"))
                rc = fail(&ps, CCNN_EINVAL, "the first line must be 'input CxHxW', not '%s'", tok[0]);
            else if (!(rc = parse_input_line(&ps, tok, ntok, &in)) && (rc = ccnn_net_create(&net, &in)))
                fail(&ps, rc, "input: %s", ccnn_strerror(rc));
            else if (net)
                net->deferred = 1; /* allocated once the whole file is known good */
        } else if (!strcmp(tok[0], "input")) {
            rc = fail(&ps, CCNN_EINVAL, "a second input line");
        } else if (!strcmp(tok[0], "train")) {
            if (seen_train++) { rc = fail(&ps, CCNN_EINVAL, "a second train line"); break; }
            for (int i = 1; i < ntok && !rc; i++) {
                char *eq = strchr(tok[i], '=');
                if (!eq) { rc = fail(&ps, CCNN_EINVAL, "train: expected key=value, got '%s'", tok[i]); break; }
                *eq = 0;
                int r = set_train_option(&net->train, tok[i], eq + 1);
                if (r == -2) rc = fail(&ps, CCNN_EINVAL, "train: unknown option '%s' (known: %s)", tok[i], train_keys);
                else if (r) rc = fail(&ps, CCNN_EINVAL, "train: bad value '%s' for %s", eq + 1, tok[i]);
            }
        } else {
            rc = parse_layer_line(&ps, net, tok, ntok);
            last_layer_line = ps.line;
        }
    }
    if (!rc && !net) { ps.line = ps.line ? ps.line : 1; rc = fail(&ps, CCNN_EINVAL, "no 'input CxHxW' line"); }
    if (!rc && net->n_layers == 0) rc = fail(&ps, CCNN_EINVAL, "the network has no layers");
    if (!rc && net->layers[net->n_layers - 1]->spec.type != CCNN_LAYER_SOFTMAX) {
        ps.line = last_layer_line;
        rc = fail(&ps, CCNN_EINVAL, "the last layer must be softmax (the loss)");
    }
    if (!rc) { ps.line = 0; rc = allocate(&ps, net, max_tensor_bytes); }
    if (rc) { ccnn_net_free(net); return rc; }
    *out = net;
    return CCNN_OK;
}

int ccnn_net_load_file(const char *path, ccnn_net **out, char *err, size_t errlen)
{
    parser ps = {path ? path : "<null>", 0, err, errlen};
    if (!path || !out) return fail(&ps, CCNN_EINVAL, "no path");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&ps, CCNN_EIO, "cannot open: %s", strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = CCNN_OK;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > (64u << 20)) { rc = fail(&ps, CCNN_EFORMAT, "larger than 64 MiB"); break; }
            char *nb = realloc(buf, cap);
            if (!nb) { rc = fail(&ps, CCNN_ENOMEM, "out of memory reading the file (%zu bytes)", cap); break; }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) rc = fail(&ps, CCNN_EIO, "read error: %s", strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!rc) {
        buf[len] = 0;
        size_t nul = strlen(buf);
        if (nul != len) {
            ps.line = 1;
            for (size_t i = 0; i < nul; i++) ps.line += buf[i] == '\n';
            rc = fail(&ps, CCNN_EFORMAT, "not a text file (contains a NUL byte)");
        } else {
            rc = ccnn_net_parse(buf, path, out, err, errlen);
        }
    }
    free(buf);
    return rc;
}
