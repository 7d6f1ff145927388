/* deconv.c - transposed convolution, PyTorch's ConvTranspose2d.
 *
 * A deconv is the backward-data pass of the conv that maps its output back
 * to its input: that conv has c = filters channels of H_out x W_out, k = C_in
 * filters, and the same kernel, stride, padding, dilation and groups, and
 * its K x C/g x R x S weights are exactly the deconv's C_in x filters/g x
 * R x S. So
 *     forward          = conv backward_data(dy = deconv input)
 *     backward data    = conv forward(x = dout), no bias
 *     backward weights = conv backward_weights(x = dout, dy = deconv input)
 * and the bias gradient is the sum of dout over n, h, w.
 *
 *     H_out = (H-1)*stride - pad_top - pad_bottom + dilation*(R-1) + output_pad + 1
 *
 * The padding crops the full scatter; output padding adds rows/columns at
 * the bottom/right. That conv's output height is H + floor(output_pad /
 * stride), so when output_pad >= stride (allowed if < dilation) it would
 * have too many rows. The extra output padding is first taken out of
 * pad_bottom; what remains is cropped from the bottom of the conv's input
 * (rows the scatter never reaches: they hold only the bias), and the conv
 * then works on an H_c x W_c top-left part of the output. */
#include "net/layer.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The conv seen along one axis: its input length and bottom (right) pad. */
static void axis(long long in, int k, int st, int pad0, int pad1, int dil, int opad,
                 long long *out, long long *conv_len, int *conv_pad1)
{
    long long len = (in - 1) * st - pad0 - pad1 + (long long)dil * (k - 1) + opad + 1;
    long long extra = (long long)(opad / st) * st; /* rows that would make the conv too tall */
    long long p1 = pad1 - extra;
    *out = len;
    *conv_len = p1 < 0 ? len + p1 : len;
    *conv_pad1 = p1 < 0 ? 0 : (int)p1;
}

/* The conv (see above) for `batch` samples; *hc x *wc is the part of the
 * output it covers. Call only after setup succeeded. */
static ccnn_conv2d_params deconv_conv(const ccnn_layer *l, int batch, int *hc, int *wc)
{
    const ccnn_layer_spec *s = &l->spec;
    ccnn_shape in = l->in_shape[0];
    long long ho, wo, lh, lw;
    int pb, pr;
    axis(in.h, s->size_h, s->stride_h, s->pad_top, s->pad_bottom, s->dilation_h, s->output_pad_h, &ho, &lh, &pb);
    axis(in.w, s->size_w, s->stride_w, s->pad_left, s->pad_right, s->dilation_w, s->output_pad_w, &wo, &lw, &pr);
    *hc = (int)lh;
    *wc = (int)lw;
    ccnn_conv2d_params p = {
        batch, s->filters, (int)lh, (int)lw, in.c, s->size_h, s->size_w, s->stride_h, s->stride_w,
        s->pad_top, pb, s->pad_left, pr, s->dilation_h, s->dilation_w, s->groups};
    return p;
}

static int deconv_setup(ccnn_layer *l, char *err, size_t errlen)
{
    ccnn_layer_spec *s = &l->spec;
    ccnn_shape in = l->in_shape[0];
    if (s->filters <= 0) return ccnn_errf(err, errlen, CCNN_EINVAL, "filters must be > 0");
    if (s->size_h <= 0 || s->size_w <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "size must be > 0");
    if (s->stride_h < 0 || s->stride_w < 0 || s->dilation_h < 0 || s->dilation_w < 0 || s->groups < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "stride, dilation and groups must be > 0");
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0 ||
        s->output_pad_h < 0 || s->output_pad_w < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "padding and output padding must be >= 0");
    if (!s->stride_h) s->stride_h = 1;
    if (!s->stride_w) s->stride_w = 1;
    if (!s->dilation_h) s->dilation_h = 1;
    if (!s->dilation_w) s->dilation_w = 1;
    if (!s->groups) s->groups = 1;
    if (in.c % s->groups || s->filters % s->groups)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                "groups=%d must divide the %d input channels and the %d filters",
                                s->groups, in.c, s->filters);
    /* PyTorch's rule: beyond this the extra rows would be outside any scatter */
    if (s->output_pad_h >= s->stride_h && s->output_pad_h >= s->dilation_h)
        return ccnn_errf(err, errlen, CCNN_EINVAL,
                                "output_pad_h=%d must be smaller than stride_h=%d or dilation_h=%d",
                                s->output_pad_h, s->stride_h, s->dilation_h);
    if (s->output_pad_w >= s->stride_w && s->output_pad_w >= s->dilation_w)
        return ccnn_errf(err, errlen, CCNN_EINVAL,
                                "output_pad_w=%d must be smaller than stride_w=%d or dilation_w=%d",
                                s->output_pad_w, s->stride_w, s->dilation_w);

    long long ho, wo, lh, lw;
    int pb, pr;
    axis(in.h, s->size_h, s->stride_h, s->pad_top, s->pad_bottom, s->dilation_h, s->output_pad_h, &ho, &lh, &pb);
    axis(in.w, s->size_w, s->stride_w, s->pad_left, s->pad_right, s->dilation_w, s->output_pad_w, &wo, &lw, &pr);
    if (ho < 1 || wo < 1)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                "padding %d,%d,%d,%d leaves an empty %lldx%lld output for the %dx%d input",
                                s->pad_top, s->pad_bottom, s->pad_left, s->pad_right, ho, wo, in.h, in.w);
    if (ho > INT_MAX || wo > INT_MAX)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "output %lldx%lld is too large", ho, wo);
    if (lh < 1 || lw < 1)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                "pad_top/pad_left crop away every output the kernel reaches");

    /* The conv must map H_c x W_c back to exactly H x W; it also checks sizes. */
    int hc, wc, P, Q;
    ccnn_conv2d_params p = deconv_conv(l, 1, &hc, &wc);
    int rc = ccnn_conv2d_output_size(&p, &P, &Q);
    if (rc) return ccnn_errf(err, errlen, rc, "%s", ccnn_strerror(rc));
    if (P != in.h || Q != in.w)
        return ccnn_errf(err, errlen, CCNN_ESHAPE, "internal: conv gives %dx%d, not %dx%d",
                                P, Q, in.h, in.w);

    l->out_shape = (ccnn_shape){s->filters, (int)ho, (int)wo};
    ccnn_layer_add_tensor(l, "weight", 0, 4, in.c, s->filters / s->groups, s->size_h, s->size_w);
    if (!s->no_bias) ccnn_layer_add_tensor(l, "bias", 0, 1, s->filters, 0, 0, 0);
    /* every input value scatters into filters/g x R x S outputs */
    l->flops = 2.0 * (double)ccnn_shape_size(in) * (s->filters / s->groups) * s->size_h * s->size_w;
    return CCNN_OK;
}

/* fan_in: the terms summed into one output, on average (a stride spreads the
 * taps over stride_h*stride_w output phases); fan_out: the outputs one input
 * value reaches. */
static void deconv_init(ccnn_layer *l, ccnn_rng *rng)
{
    const ccnn_layer_spec *s = &l->spec;
    const int *d = l->tensors[0].dims;
    double taps = (double)s->size_h * s->size_w;
    double fan_in = fmax(1.0, (double)(l->in_shape[0].c / s->groups) * taps / ((double)s->stride_h * s->stride_w));
    double fan_out = (double)(s->filters / s->groups) * taps;
    double std = s->init == CCNN_INIT_XAVIER ? sqrt(2.0 / (fan_in + fan_out)) : sqrt(2.0 / fan_in);
    ccnn_init_normal(l->params, (size_t)d[0] * d[1] * d[2] * d[3], std, rng);
}

/* The op overwrites its outputs; the layer contract is to add. So the op
 * writes to scratch (dw, dx) that is then added; `crop` holds the H_c x W_c
 * part of the output or of dout when the conv does not cover all of it. */
typedef struct {
    float *dw, *dx, *crop;
    size_t dx_cap, crop_cap;
    ccnn_conv2d_workspace *ws; /* the op's scratch, kept across steps */
} deconv_priv;

static int grow(float **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return CCNN_OK;
    float *p = realloc(*buf, need * sizeof(float));
    if (!p) return CCNN_ENOMEM;
    *buf = p;
    *cap = need;
    return CCNN_OK;
}

static int deconv_reserve(ccnn_layer *l, int batch)
{
    deconv_priv *pv = l->priv;
    if (!pv) {
        pv = calloc(1, sizeof *pv);
        if (!pv) return CCNN_ENOMEM;
        l->priv = pv;
    }
    if (!pv->dw && !(pv->dw = malloc(l->n_params * sizeof(float)))) return CCNN_ENOMEM;
    if (!pv->ws && !(pv->ws = ccnn_conv2d_workspace_create())) return CCNN_ENOMEM;
    int hc, wc;
    deconv_conv(l, batch, &hc, &wc);
    int rc = grow(&pv->dx, &pv->dx_cap, (size_t)batch * ccnn_shape_size(l->in_shape[0]));
    if (!rc && (hc != l->out_shape.h || wc != l->out_shape.w))
        rc = grow(&pv->crop, &pv->crop_cap, (size_t)batch * l->out_shape.c * hc * wc);
    return rc;
}

static int deconv_forward(ccnn_layer *l, const ccnn_run *run)
{
    deconv_priv *pv = l->priv;
    int hc, wc, F = l->out_shape.c, H = l->out_shape.h, W = l->out_shape.w;
    ccnn_conv2d_params p = deconv_conv(l, run->batch, &hc, &wc);
    size_t plane = (size_t)H * W, planes = (size_t)run->batch * F;
    int cropped = hc != H || wc != W;
    int rc = ccnn_conv2d_backward_data_ws(pv->ws, &p, l->in[0], l->params, cropped ? pv->crop : l->out);
    if (rc) return rc;
    if (cropped) /* the rows and columns past H_c x W_c get nothing but the bias */
        for (size_t i = 0; i < planes; i++)
            for (int h = 0; h < H; h++) {
                float *y = l->out + i * plane + (size_t)h * W;
                int n = h < hc ? wc : 0;
                if (n) memcpy(y, pv->crop + (i * hc + h) * wc, (size_t)wc * sizeof(float));
                memset(y + n, 0, (size_t)(W - n) * sizeof(float));
            }
    if (!l->spec.no_bias) {
        const float *b = l->params + l->tensors[1].offset;
        for (size_t i = 0; i < planes; i++) {
            float *y = l->out + i * plane, bi = b[i % F];
            for (size_t j = 0; j < plane; j++) y[j] += bi;
        }
    }
    return CCNN_OK;
}

static int deconv_backward(ccnn_layer *l, const ccnn_run *run)
{
    deconv_priv *pv = l->priv;
    int hc, wc, F = l->out_shape.c, H = l->out_shape.h, W = l->out_shape.w;
    ccnn_conv2d_params p = deconv_conv(l, run->batch, &hc, &wc);
    size_t plane = (size_t)H * W, planes = (size_t)run->batch * F;
    const float *dy = l->dout;
    if (hc != H || wc != W) { /* the conv sees only the H_c x W_c part */
        for (size_t i = 0; i < planes; i++)
            for (int h = 0; h < hc; h++)
                memcpy(pv->crop + (i * hc + h) * wc, l->dout + i * plane + (size_t)h * W,
                       (size_t)wc * sizeof(float));
        dy = pv->crop;
    }
    int rc = ccnn_conv2d_backward_weights_ws(pv->ws, &p, dy, l->in[0], pv->dw, NULL);
    if (rc) return rc;
    size_t nw = l->tensors[0].dims[0] * (size_t)l->tensors[0].dims[1] * l->tensors[0].dims[2] *
                l->tensors[0].dims[3];
    for (size_t i = 0; i < nw; i++) l->grads[i] += pv->dw[i];
    if (!l->spec.no_bias) { /* over the whole output: the bias reaches every element */
        float *db = l->grads + l->tensors[1].offset;
        for (int f = 0; f < F; f++) {
            double sum = 0;
            for (int n = 0; n < run->batch; n++) {
                const float *g = l->dout + ((size_t)n * F + f) * plane;
                for (size_t j = 0; j < plane; j++) sum += g[j];
            }
            db[f] += (float)sum;
        }
    }
    if (l->din[0]) {
        rc = ccnn_conv2d_forward_ws(pv->ws, &p, dy, l->params, NULL, pv->dx);
        if (rc) return rc;
        size_t n = (size_t)run->batch * ccnn_shape_size(l->in_shape[0]);
        for (size_t i = 0; i < n; i++) l->din[0][i] += pv->dx[i];
    }
    return CCNN_OK;
}

static void deconv_destroy(ccnn_layer *l)
{
    deconv_priv *pv = l->priv;
    if (pv) {
        free(pv->dw);
        free(pv->dx);
        free(pv->crop);
        ccnn_conv2d_workspace_free(pv->ws);
        free(pv);
    }
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_deconv_ops = {
    .type_name  = "deconv",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = deconv_setup,
    .init       = deconv_init,
    .reserve    = deconv_reserve,
    .forward    = deconv_forward,
    .backward   = deconv_backward,
    .destroy    = deconv_destroy,
};
