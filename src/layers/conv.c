/* conv.c - the convolution layer: a thin wrapper over the conv op
 * (src/ops/), with weight init and the layer bookkeeping. */
#include "net/layer.h"
#include <math.h>
#include <stdlib.h>

/* The op's parameters for this layer and a batch. */
static ccnn_conv2d_params conv_params(const ccnn_layer *l, int batch)
{
    const ccnn_layer_spec *s = &l->spec;
    ccnn_conv2d_params p = {
        batch, l->in_shape[0].c, l->in_shape[0].h, l->in_shape[0].w,
        s->filters, s->size_h, s->size_w, s->stride_h, s->stride_w,
        s->pad_top, s->pad_bottom, s->pad_left, s->pad_right,
        s->dilation_h, s->dilation_w, s->groups};
    return p;
}

static int conv_setup(ccnn_layer *l, char *err, size_t errlen)
{
    ccnn_layer_spec *s = &l->spec;
    if (s->filters <= 0) return ccnn_errf(err, errlen, CCNN_EINVAL, "filters must be > 0");
    if (s->size_h <= 0 || s->size_w <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "size must be > 0");
    if (!s->stride_h) s->stride_h = 1;
    if (!s->stride_w) s->stride_w = 1;
    if (!s->dilation_h) s->dilation_h = 1;
    if (!s->dilation_w) s->dilation_w = 1;
    if (!s->groups) s->groups = 1;
    int c = l->in_shape[0].c;
    ccnn_conv2d_params p = conv_params(l, 1);
    int P, Q, rc = ccnn_conv2d_check(&p, err, errlen); /* its messages are `ccnn explain`'s too */
    if (rc) return rc;
    ccnn_conv2d_output_size(&p, &P, &Q);
    l->out_shape = (ccnn_shape){s->filters, P, Q};
    ccnn_layer_add_tensor(l, "weight", 0, 4, s->filters, c / s->groups, s->size_h, s->size_w);
    if (!s->no_bias) ccnn_layer_add_tensor(l, "bias", 0, 1, s->filters, 0, 0, 0);
    l->flops = 2.0 * s->filters * P * Q * (double)(c / s->groups) * s->size_h * s->size_w;
    return CCNN_OK;
}

static void conv_init(ccnn_layer *l, ccnn_rng *rng)
{
    const ccnn_layer_spec *s = &l->spec;
    double fan_in = (double)(l->in_shape[0].c / s->groups) * s->size_h * s->size_w;
    double fan_out = (double)(s->filters / s->groups) * s->size_h * s->size_w;
    double std = s->init == CCNN_INIT_XAVIER ? sqrt(2.0 / (fan_in + fan_out)) : sqrt(2.0 / fan_in);
    ccnn_init_normal(l->params, (size_t)l->tensors[0].dims[0] * l->tensors[0].dims[1] *
                                    l->tensors[0].dims[2] * l->tensors[0].dims[3], std, rng);
}

static const float *conv_bias(const ccnn_layer *l, const float *base)
{
    return l->spec.no_bias ? NULL : base + l->tensors[1].offset;
}

/* The op overwrites its outputs; the layer contract is to add, so the op
 * writes to a scratch buffer that is then added - except into a din that is
 * this layer's alone and not yet written (run->din_fresh), which the op
 * writes directly. ws: the op's scratch, kept across steps. */
typedef struct { float *dw, *dx; size_t dx_cap; ccnn_conv2d_workspace *ws; } conv_priv;

static int conv_forward(ccnn_layer *l, const ccnn_run *run)
{
    const conv_priv *pv = l->priv;
    ccnn_conv2d_params p = conv_params(l, run->batch);
    return ccnn_conv2d_forward_ws(pv ? pv->ws : NULL, &p, l->in[0], l->params,
                                  conv_bias(l, l->params), l->out);
}

static int conv_reserve(ccnn_layer *l, int batch)
{
    conv_priv *pv = l->priv;
    if (!pv) {
        pv = calloc(1, sizeof *pv);
        if (!pv) return CCNN_ENOMEM;
        l->priv = pv;
    }
    if (!pv->dw && !(pv->dw = malloc(l->n_params * sizeof(float)))) return CCNN_ENOMEM;
    if (!pv->ws && !(pv->ws = ccnn_conv2d_workspace_create())) return CCNN_ENOMEM;
    size_t need = (size_t)batch * ccnn_shape_size(l->in_shape[0]);
    if (need > pv->dx_cap) {
        float *p = realloc(pv->dx, need * sizeof(float));
        if (!p) return CCNN_ENOMEM;
        pv->dx = p;
        pv->dx_cap = need;
    }
    return CCNN_OK;
}

static int conv_backward(ccnn_layer *l, const ccnn_run *run)
{
    conv_priv *pv = l->priv;
    ccnn_conv2d_params p = conv_params(l, run->batch);
    int rc = ccnn_conv2d_backward_weights_ws(pv->ws, &p, l->in[0], l->dout, pv->dw,
                                             l->spec.no_bias ? NULL : pv->dw + l->tensors[1].offset);
    if (rc) return rc;
    for (size_t i = 0; i < l->n_params; i++) l->grads[i] += pv->dw[i];
    if (l->din[0] && run->din_fresh) /* din is ours alone and unwritten: the op writes it */
        return ccnn_conv2d_backward_data_ws(pv->ws, &p, l->dout, l->params, l->din[0]);
    if (l->din[0]) {
        rc = ccnn_conv2d_backward_data_ws(pv->ws, &p, l->dout, l->params, pv->dx);
        if (rc) return rc;
        const size_t n = (size_t)run->batch * ccnn_shape_size(l->in_shape[0]);
        float *restrict din = l->din[0];
        const float *restrict dx = pv->dx;
        #pragma omp parallel for simd num_threads(ccnn_threads()) schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++) din[i] += dx[i];
    }
    return CCNN_OK;
}

static void conv_destroy(ccnn_layer *l)
{
    conv_priv *pv = l->priv;
    if (pv) {
        free(pv->dw);
        free(pv->dx);
        ccnn_conv2d_workspace_free(pv->ws);
        free(pv);
    }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_conv_ops = {
    .type_name  = "conv",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = conv_setup,
    .init       = conv_init,
    .reserve    = conv_reserve,
    .forward    = conv_forward,
    .backward   = conv_backward,
    .destroy    = conv_destroy,
    .set_din    = 1,
};
