/* netfile_write.c - a net as network-file text. Every option is written
 * with its resolved value, so the text says exactly what the net is, and
 * floats use 9 significant digits so they read back bit for bit. */
#include "net/net_internal.h"
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

static void put_layer(buf *b, const ccnn_layer *l)
{
    const ccnn_layer_spec *s = &l->spec;
    char autoname[CCNN_NAME_MAX];
    snprintf(autoname, sizeof autoname, "%s%d", l->ops->type_name, l->index + 1);
    put(b, "%s", l->ops->type_name);
    if (strcmp(autoname, s->name)) put(b, " name=%s", s->name);
    if (s->n_inputs) {
        put(b, " input=");
        for (int i = 0; i < s->n_inputs; i++) put(b, "%s%s", i ? "," : "", s->inputs[i]);
    }
    switch (s->type) {
    case CCNN_LAYER_CONV:
    case CCNN_LAYER_DECONV:
        put(b, " filters=%d size=%dx%d stride=%dx%d pad=%d,%d,%d,%d dilation=%dx%d groups=%d",
            s->filters, s->size_h, s->size_w, s->stride_h, s->stride_w, s->pad_top, s->pad_bottom,
            s->pad_left, s->pad_right, s->dilation_h, s->dilation_w, s->groups);
        if (s->type == CCNN_LAYER_DECONV) put(b, " output_pad=%dx%d", s->output_pad_h, s->output_pad_w);
        put(b, " bias=%d init=%s", !s->no_bias, s->init == CCNN_INIT_XAVIER ? "xavier" : "he");
        break;
    case CCNN_LAYER_DENSE:
        put(b, " units=%d bias=%d init=%s", s->filters, !s->no_bias,
            s->init == CCNN_INIT_XAVIER ? "xavier" : "he");
        break;
    case CCNN_LAYER_MAXPOOL:
    case CCNN_LAYER_AVGPOOL:
        put(b, " size=%dx%d stride=%dx%d pad=%d,%d,%d,%d", s->size_h, s->size_w, s->stride_h,
            s->stride_w, s->pad_top, s->pad_bottom, s->pad_left, s->pad_right);
        break;
    case CCNN_LAYER_LEAKY_RELU: put(b, " slope=%.9g", s->slope); break;
    case CCNN_LAYER_DROPOUT: put(b, " rate=%.9g", s->rate); break;
    case CCNN_LAYER_BATCHNORM: put(b, " eps=%.9g momentum=%.9g", s->eps, s->momentum); break;
    default: break;
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
