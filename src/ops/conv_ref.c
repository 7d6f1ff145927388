/* conv_ref.c - the reference convolution: plain loops written straight from
 * the equations of docs/backprop.md. It is the executable specification the
 * fast path and the tests are measured against, so it favours clarity over
 * speed and accumulates in double.
 *
 * Notation (as in the doc): input x[n][c][h][w], weights w[k][c'][r][s] with
 * c' the channel inside the filter's group, output y[n][k][p][q].
 * Group of filter k: g = k / Kg; its input channels are g*Cg + c', c' < Cg.
 */
#include "ccnn_internal.h"

/* Flat offsets of NCHW-style 4-D tensors. */
#define AT4(d1, d2, d3, i0, i1, i2, i3) ((((i0) * (d1) + (i1)) * (d2) + (i2)) * (d3) + (i3))

/* Equation (1), forward:
 *   y[n,k,p,q] = b[k] + sum_{c'<Cg} sum_{r<R} sum_{s<S}
 *                w[k,c',r,s] * x[n, g*Cg+c', p*sh + r*dh - pt, q*sw + s*dw - pl]
 * where x is zero outside 0 <= h < H, 0 <= w < W (the padding). */
int ccnn_conv2d_forward_ref(const ccnn_conv2d_params *prm, const float *x, const float *w,
                            const float *bias, float *y)
{
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(prm, &d);
    if (rc) return rc;
    if (!x || !w || !y) return CCNN_EINVAL;

    for (int64_t n = 0; n < d.n; n++)
    for (int64_t k = 0; k < d.k; k++) {
        int64_t g = k / d.kg;
        for (int64_t p = 0; p < d.p; p++)
        for (int64_t q = 0; q < d.q; q++) {
            double acc = bias ? bias[k] : 0.0;
            for (int64_t cc = 0; cc < d.cg; cc++)
            for (int64_t r = 0; r < d.r; r++)
            for (int64_t s = 0; s < d.s; s++) {
                int64_t ih = p * d.sh + r * d.dh - d.pt;
                int64_t iw = q * d.sw + s * d.dw - d.pl;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue; /* padding */
                int64_t c = g * d.cg + cc;
                acc += (double)w[AT4(d.cg, d.r, d.s, k, cc, r, s)] *
                       (double)x[AT4(d.c, d.h, d.w, n, c, ih, iw)];
            }
            y[AT4(d.k, d.p, d.q, n, k, p, q)] = (float)acc;
        }
    }
    return CCNN_OK;
}

/* Equation (2), gradient of the input ("delta" for the layer below):
 *   dx[n,c,h,w] = sum_{k in group g(c)} sum_{r<R} sum_{s<S} w[k, c-g*Cg, r, s] * dy[n,k,p,q]
 *     over the (r,s) for which p = (h + pt - r*dh) / sh and q = (w + pl - s*dw) / sw
 *     are whole numbers inside 0 <= p < P, 0 <= q < Q.
 * The divisibility test is the stride's zero-inserted delta; indexing dy at
 * (h - r*dh) is the flipped kernel; summing over k with w[k,c,...] is the
 * swap of the filter and channel axes. */
int ccnn_conv2d_backward_data_ref(const ccnn_conv2d_params *prm, const float *dy, const float *w,
                                  float *dx)
{
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(prm, &d);
    if (rc) return rc;
    if (!dy || !w || !dx) return CCNN_EINVAL;

    for (int64_t n = 0; n < d.n; n++)
    for (int64_t c = 0; c < d.c; c++) {
        int64_t g = c / d.cg, cc = c - g * d.cg;
        for (int64_t ih = 0; ih < d.h; ih++)
        for (int64_t iw = 0; iw < d.w; iw++) {
            double acc = 0.0;
            for (int64_t k = g * d.kg; k < (g + 1) * d.kg; k++)
            for (int64_t r = 0; r < d.r; r++)
            for (int64_t s = 0; s < d.s; s++) {
                int64_t ph = ih + d.pt - r * d.dh; /* = p * sh if this tap was used */
                int64_t qw = iw + d.pl - s * d.dw;
                if (ph < 0 || qw < 0 || ph % d.sh || qw % d.sw) continue;
                int64_t p = ph / d.sh, q = qw / d.sw;
                if (p >= d.p || q >= d.q) continue;
                acc += (double)w[AT4(d.cg, d.r, d.s, k, cc, r, s)] *
                       (double)dy[AT4(d.k, d.p, d.q, n, k, p, q)];
            }
            dx[AT4(d.c, d.h, d.w, n, c, ih, iw)] = (float)acc;
        }
    }
    return CCNN_OK;
}

/* Equations (3) and (4), gradients of the weights and the bias:
 *   dw[k,c',r,s] = sum_{n<N} sum_{p<P} sum_{q<Q}
 *                  dy[n,k,p,q] * x[n, g*Cg+c', p*sh + r*dh - pt, q*sw + s*dw - pl]
 *   db[k]        = sum_{n<N} sum_{p<P} sum_{q<Q} dy[n,k,p,q]
 * (x is zero in the padding, so padded taps add nothing). */
int ccnn_conv2d_backward_weights_ref(const ccnn_conv2d_params *prm, const float *x, const float *dy,
                                     float *dw, float *dbias)
{
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(prm, &d);
    if (rc) return rc;
    if (!x || !dy || !dw) return CCNN_EINVAL;

    for (int64_t k = 0; k < d.k; k++) {
        int64_t g = k / d.kg;
        for (int64_t cc = 0; cc < d.cg; cc++)
        for (int64_t r = 0; r < d.r; r++)
        for (int64_t s = 0; s < d.s; s++) {
            double acc = 0.0;
            for (int64_t n = 0; n < d.n; n++)
            for (int64_t p = 0; p < d.p; p++)
            for (int64_t q = 0; q < d.q; q++) {
                int64_t ih = p * d.sh + r * d.dh - d.pt;
                int64_t iw = q * d.sw + s * d.dw - d.pl;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc += (double)dy[AT4(d.k, d.p, d.q, n, k, p, q)] *
                       (double)x[AT4(d.c, d.h, d.w, n, g * d.cg + cc, ih, iw)];
            }
            dw[AT4(d.cg, d.r, d.s, k, cc, r, s)] = (float)acc;
        }
        if (dbias) {
            double acc = 0.0;
            for (int64_t n = 0; n < d.n; n++)
            for (int64_t p = 0; p < d.p; p++)
            for (int64_t q = 0; q < d.q; q++)
                acc += dy[AT4(d.k, d.p, d.q, n, k, p, q)];
            dbias[k] = (float)acc;
        }
    }
    return CCNN_OK;
}
