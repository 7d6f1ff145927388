/* netfile_write.c - a net as network-file text. Every option is written
 * with its resolved value, so the text says exactly what the net is, and
 * floats use 9 significant digits so they read back bit for bit. The layer
 * options are the table's (netfile_opts.h). */
#include "net/net_internal.h"
#include "net/netfile_opts.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf { char *s; size_t len, cap; int oom; } buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        size_t cap = 2 * b->cap + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = 1; return; }
        b->s = s;
        b->cap = cap;
    }
}

static void put_floats(buf *b, const char *key, const float *v, int n)
{
    put(b, " %s=", key);
    for (int i = 0; i < n; i++) put(b, "%s%.9g", i ? "," : "", v[i]);
}

/* The options of the table (netfile_opts.c) that the layer's type takes, in
 * table order; a name is left out when it is the automatic one, and an
 * input list when the layer reads the previous layer. */
static void put_layer(buf *b, const ccnn_layer *l)
{
    const ccnn_layer_spec *s = &l->spec;
    char autoname[CCNN_NAME_MAX], val[CCNN_MAX_INPUTS * CCNN_NAME_MAX + 64];
    snprintf(autoname, sizeof autoname, "%s%d", l->ops->type_name, l->index + 1);
    put(b, "%s", l->ops->type_name);
    for (size_t k = 0; k < netfile_n_layer_opts; k++) {
        const netfile_opt *o = &netfile_layer_opts[k];
        if (!(o->types & NETFILE_BIT(s->type))) continue;
        if (o->kind == NETFILE_NAME && !strcmp(autoname, s->name)) continue;
        if (o->kind == NETFILE_INPUTS && !s->n_inputs) continue;
        int n = netfile_opt_format(o, s, val, sizeof val);
        if (n < 0 || (size_t)n >= sizeof val) { b->oom = 1; return; } /* cannot happen: val holds any value */
        put(b, " %s=%s", o->key, val);
    }
    put(b, "\n");
}

int ccnn_net_to_text(const ccnn_net *net, char **text)
{
    if (!net || !text) return CCNN_EINVAL;
    buf b = {malloc(1024), 0, 1024, 0};
    if (!b.s) return CCNN_ENOMEM;
    b.s[0] = 0;
    const ccnn_input_spec *in = &net->input;
    put(&b, "input %dx%dx%d", in->c, in->h, in->w);
    put_floats(&b, "mean", in->mean, in->c);
    put_floats(&b, "std", in->std, in->c);
    put(&b, "\n");
    for (int i = 0; i < net->n_layers; i++) put_layer(&b, net->layers[i]);
    const ccnn_train_config *c = &net->train;
    static const char *opt[] = {"sgd", "adam", "adamw"}, *sched[] = {"constant", "step", "cosine"};
    put(&b, "train optimizer=%s lr=%.9g momentum=%.9g nesterov=%d weight_decay=%.9g beta1=%.9g "
            "beta2=%.9g eps=%.9g schedule=%s step=%d gamma=%.9g epochs=%d batch=%d crop=%d flip=%d "
            "seed=%llu\n",
        opt[c->optimizer], c->lr, c->momentum, c->nesterov, c->weight_decay, c->beta1, c->beta2,
        c->adam_eps, sched[c->schedule], c->step_epochs, c->gamma, c->epochs, c->batch,
        c->augment_crop, c->augment_flip, (unsigned long long)c->seed);
    if (b.oom) { free(b.s); return CCNN_ENOMEM; }
    *text = b.s;
    return CCNN_OK;
}
