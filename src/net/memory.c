/* memory.c - how much memory a network needs, from its shapes alone, and
 * the limit it is held to (issue 11: a 70-byte net file asked for 4.7 GB). */
#include "net/net_internal.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Atomic uint64_t g_limit; /* 0: the default */

void ccnn_set_memory_limit(uint64_t bytes) { atomic_store(&g_limit, bytes); }

/* "123", "64M", "2G": bytes, K/M/G/T powers of 1024. 0 when invalid. */
static uint64_t parse_size(const char *s)
{
    if (!s || *s < '0' || *s > '9') return 0;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    int shift = 0;
    switch (*s) {
    case 'K': case 'k': shift = 10; s++; break;
    case 'M': case 'm': shift = 20; s++; break;
    case 'G': case 'g': shift = 30; s++; break;
    case 'T': case 't': shift = 40; s++; break;
    default: break;
    }
    if (*s || (shift && v > (UINT64_MAX >> shift))) return 0;
    return v << shift;
}

uint64_t ccnn_memory_limit(void)
{
    uint64_t v = atomic_load(&g_limit);
    if (v) return v;
    if ((v = parse_size(getenv("CCNN_MEMORY_LIMIT")))) return v;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return (uint64_t)8 << 30; /* unknown: 8 GiB */
    return (uint64_t)pages * (uint64_t)page / 4 * 3;
}

const char *ccnn_format_bytes(uint64_t b, char *buf, size_t len)
{
    if (b < 1000) snprintf(buf, len, "%llu bytes", (unsigned long long)b);
    else if (b < 1000000) snprintf(buf, len, "%.1f kB", b / 1e3);
    else if (b < 1000000000) snprintf(buf, len, "%.1f MB", b / 1e6);
    else snprintf(buf, len, "%.2f GB", b / 1e9);
    return buf;
}

int ccnn_net_memory(const ccnn_net *net, int batch, ccnn_memory_estimate *m)
{
    if (!net || !m || batch <= 0) return CCNN_EINVAL;
    const double f = sizeof(float), b = batch;
    const double in = (double)net->input.c * net->input.h * net->input.w;
    double params = (2.0 * net->n_params + net->n_state) * f;
    double optim = 2.0 * net->n_params * f;      /* trainer.c keeps m and v whatever the optimizer */
    double act = 2.0 * b * in * f;               /* the input batch and its gradient */
    for (int i = 0; i < net->n_layers; i++) {
        const ccnn_layer *l = net->layers[i];
        double out = (double)ccnn_shape_size(l->out_shape), lin = (double)ccnn_shape_size(l->in_shape[0]);
        act += 2.0 * b * out * f;                /* output and its gradient */
        switch (l->spec.type) {
        case CCNN_LAYER_CONV: case CCNN_LAYER_DECONV:
            /* weight-gradient copy, data-gradient buffer, one image's im2col */
            act += (double)l->n_params * f + b * lin * f + lin * l->spec.size_h * l->spec.size_w * f;
            break;
        case CCNN_LAYER_MAXPOOL: act += b * out * 4; break;     /* argmax */
        case CCNN_LAYER_DROPOUT: act += b * out; break;         /* masks */
        case CCNN_LAYER_BATCHNORM: act += 3.0 * b * l->out_shape.c * f; break;
        default: break;
        }
    }
    const double cap = 1.8e19; /* saturate instead of overflowing uint64_t */
    m->params = (uint64_t)(params < cap ? params : cap);
    m->optimizer = (uint64_t)(optim < cap ? optim : cap);
    m->activations = (uint64_t)(act < cap ? act : cap);
    double total = params + optim + act;
    m->total = (uint64_t)(total < cap ? total : cap);
    return CCNN_OK;
}
