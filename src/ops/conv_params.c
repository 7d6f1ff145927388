/* conv_params.c - validation of convolution parameters and the output size.
 * Every public conv call goes through ccnn_conv_dims_init first, so the
 * kernels can trust their dimensions; ccnn_conv2d_check is the same checks
 * with their messages, for the conv layer and `ccnn explain`. */
#include "ccnn_internal.h"
#include <stdint.h>

/* Largest element count we accept for one tensor or workspace: its size in
 * bytes must fit in ptrdiff_t. */
#define CCNN_MAX_ELEMS ((int64_t)(PTRDIFF_MAX / (ptrdiff_t)sizeof(float)))

/* a * b, or -1 if the product exceeds the limit. a, b >= 0. */
static int64_t mul_checked(int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > CCNN_MAX_ELEMS / a) return -1;
    return a * b;
}

static int64_t count4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t ab = mul_checked(a, b), cd = mul_checked(c, d);
    if (ab < 0 || cd < 0) return -1;
    return mul_checked(ab, cd);
}

/* The checks of every conv call, with their messages (ccnn_conv2d_check's
 * contract; err may be NULL). */
static int dims_init(const ccnn_conv2d_params *p, ccnn_conv_dims *d, char *err, size_t errlen)
{
    if (!p || !d) return ccnn_errf(err, errlen, CCNN_EINVAL, "no parameters");
    if (p->n <= 0 || p->c <= 0 || p->h <= 0 || p->w <= 0 ||
        p->k <= 0 || p->r <= 0 || p->s <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "the sizes must be > 0: input %dx%dx%dx%d, %d filters of %dx%d",
                         p->n, p->c, p->h, p->w, p->k, p->r, p->s);
    if (p->stride_h < 0 || p->stride_w < 0 || p->dilation_h < 0 || p->dilation_w < 0 ||
        p->groups < 0 || p->pad_top < 0 || p->pad_bottom < 0 ||
        p->pad_left < 0 || p->pad_right < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "stride, dilation, groups and padding must be >= 0");

    ccnn_conv_dims t;
    t.n = p->n; t.c = p->c; t.h = p->h; t.w = p->w;
    t.k = p->k; t.r = p->r; t.s = p->s;
    t.sh = p->stride_h ? p->stride_h : 1;
    t.sw = p->stride_w ? p->stride_w : 1;
    t.dh = p->dilation_h ? p->dilation_h : 1;
    t.dw = p->dilation_w ? p->dilation_w : 1;
    t.groups = p->groups ? p->groups : 1;
    t.pt = p->pad_top; t.pb = p->pad_bottom; t.pl = p->pad_left; t.pr = p->pad_right;
    if (t.c % t.groups || t.k % t.groups)
        return ccnn_errf(err, errlen, CCNN_ESHAPE, "groups=%d must divide the %d input channels and the %d filters",
                         (int)t.groups, (int)t.c, (int)t.k);
    t.cg = t.c / t.groups;
    t.kg = t.k / t.groups;

    /* int64 cannot overflow here: every term is below 2^31. */
    int64_t span_h = t.dh * (t.r - 1) + 1, span_w = t.dw * (t.s - 1) + 1;
    int64_t in_h = t.h + t.pt + t.pb, in_w = t.w + t.pl + t.pr;
    if (span_h > in_h || span_w > in_w)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                         "a %dx%d kernel (dilation %d,%d) does not fit the %dx%d input with padding %d,%d,%d,%d",
                         (int)t.r, (int)t.s, (int)t.dh, (int)t.dw, (int)t.h, (int)t.w, (int)t.pt, (int)t.pb,
                         (int)t.pl, (int)t.pr);
    t.p = (in_h - span_h) / t.sh + 1;
    t.q = (in_w - span_w) / t.sw + 1;

    t.x_count = count4(t.n, t.c, t.h, t.w);
    t.w_count = count4(t.k, t.cg, t.r, t.s);
    t.y_count = count4(t.n, t.k, t.p, t.q);
    /* the fast path's column workspace: (C/g * R * S) x (P * Q) */
    int64_t col = count4(t.cg, t.r, t.s, mul_checked(t.p, t.q));
    if (t.x_count < 0 || t.w_count < 0 || t.y_count < 0 || col < 0 ||
        mul_checked(t.p, t.q) < 0)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%s", ccnn_strerror(CCNN_EOVERFLOW));
    *d = t;
    return CCNN_OK;
}

/* The kernels' entry: EINVAL for every shape error, as it always was (the
 * ops' documented codes); ccnn_conv2d_check tells the kinds apart. */
int ccnn_conv_dims_init(const ccnn_conv2d_params *p, ccnn_conv_dims *d)
{
    int rc = dims_init(p, d, NULL, 0);
    return rc == CCNN_ESHAPE ? CCNN_EINVAL : rc;
}

int ccnn_conv2d_check(const ccnn_conv2d_params *p, char *err, size_t errlen)
{
    ccnn_conv_dims d;
    int rc = dims_init(p, &d, err, errlen);
    if (rc) return rc;
    if (d.p > INT32_MAX || d.q > INT32_MAX)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%s", ccnn_strerror(CCNN_EOVERFLOW));
    return CCNN_OK;
}

int ccnn_conv2d_output_size(const ccnn_conv2d_params *p, int *out_h, int *out_w)
{
    ccnn_conv_dims d;
    if (!out_h || !out_w) return CCNN_EINVAL;
    int rc = ccnn_conv_dims_init(p, &d);
    if (rc) return rc;
    if (d.p > INT32_MAX || d.q > INT32_MAX) return CCNN_EOVERFLOW;
    *out_h = (int)d.p;
    *out_w = (int)d.q;
    return CCNN_OK;
}
