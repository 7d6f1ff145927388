/* conv_depthwise.c - depthwise convolution (one input channel per group,
 * groups > 1) for the fast path. A GEMM with one row is all overhead, so
 * plain loops over output planes: each tap adds its weight times a shifted
 * input row. Every plane (and, for the weights, every filter) is summed by
 * one thread in a fixed order. */
#include "ops/conv_internal.h"
#include <string.h>

/* y (P x Q) = b + sum over taps of w[r][s] * x (H x W) shifted. */
static void dw_forward_plane(const ccnn_conv_dims *d, const float *x, const float *w, float b,
                             float *restrict y)
{
#pragma omp simd
    for (int64_t i = 0; i < d->p * d->q; i++) y[i] = b;
    for (int64_t r = 0; r < d->r; r++)
    for (int64_t s = 0; s < d->s; s++) {
        float wv = w[r * d->s + s];
        int64_t off = s * d->dw - d->pl, lo, hi;
        q_range(d, off, &lo, &hi);
        for (int64_t p = 0; p < d->p; p++) {
            int64_t ih = p * d->sh + r * d->dh - d->pt;
            if (ih < 0 || ih >= d->h) continue;
            const float *restrict xr = x + ih * d->w;
            float *restrict yr = y + p * d->q;
            if (d->sw == 1) {
#pragma omp simd
                for (int64_t q = lo; q < hi; q++) yr[q] += wv * xr[q + off];
            } else {
                for (int64_t q = lo; q < hi; q++) yr[q] += wv * xr[q * d->sw + off];
            }
        }
    }
}

/* dx (H x W) += the adjoint of dw_forward_plane applied to dy (P x Q). */
static void dw_backward_data_plane(const ccnn_conv_dims *d, const float *dy, const float *w,
                                   float *restrict dx)
{
    for (int64_t r = 0; r < d->r; r++)
    for (int64_t s = 0; s < d->s; s++) {
        float wv = w[r * d->s + s];
        int64_t off = s * d->dw - d->pl, lo, hi;
        q_range(d, off, &lo, &hi);
        for (int64_t p = 0; p < d->p; p++) {
            int64_t ih = p * d->sh + r * d->dh - d->pt;
            if (ih < 0 || ih >= d->h) continue;
            const float *restrict dyr = dy + p * d->q;
            float *restrict dxr = dx + ih * d->w;
            if (d->sw == 1) {
#pragma omp simd
                for (int64_t q = lo; q < hi; q++) dxr[q + off] += wv * dyr[q];
            } else {
                for (int64_t q = lo; q < hi; q++) dxr[q * d->sw + off] += wv * dyr[q];
            }
        }
    }
}

void ccnn_conv_dw_forward(const ccnn_conv_dims *d, const float *x, const float *w, const float *bias,
                       float *y)
{
    const int64_t pq = d->p * d->q, planes = d->n * d->k;
    int nt = item_threads(planes, conv_flops(d));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / d->k, k = i % d->k, c = k / d->kg;
        dw_forward_plane(d, x + (n * d->c + c) * d->h * d->w, w + k * d->r * d->s,
                         bias ? bias[k] : 0.0f, y + i * pq);
    }
}

void ccnn_conv_dw_backward_data(const ccnn_conv_dims *d, const float *dy, const float *w, float *dx)
{
    const int64_t hw = d->h * d->w, pq = d->p * d->q, planes = d->n * d->c;
    int nt = item_threads(planes, conv_flops(d));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / d->c, c = i % d->c;
        memset(dx + i * hw, 0, sizeof(float) * (size_t)hw);
        for (int64_t k = c * d->kg; k < (c + 1) * d->kg; k++)
            dw_backward_data_plane(d, dy + (n * d->k + k) * pq, w + k * d->r * d->s, dx + i * hw);
    }
}

void ccnn_conv_dw_backward_weights(const ccnn_conv_dims *d, const float *x, const float *dy,
                                float *dw, float *dbias)
{
    const int64_t hw = d->h * d->w, pq = d->p * d->q;
    int nt = item_threads(d->k, conv_flops(d));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < d->k; k++) {
        int64_t c = k / d->kg;
        for (int64_t r = 0; r < d->r; r++)
        for (int64_t s = 0; s < d->s; s++) {
            int64_t off = s * d->dw - d->pl, lo, hi;
            q_range(d, off, &lo, &hi);
            double acc = 0.0;
            for (int64_t n = 0; n < d->n; n++)
            for (int64_t p = 0; p < d->p; p++) {
                int64_t ih = p * d->sh + r * d->dh - d->pt;
                if (ih < 0 || ih >= d->h) continue;
                const float *dyr = dy + (n * d->k + k) * pq + p * d->q;
                const float *xr = x + (n * d->c + c) * hw + ih * d->w;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t q = lo; q < hi; q++) sum += dyr[q] * xr[q * d->sw + off];
                acc += sum;
            }
            dw[(k * d->r + r) * d->s + s] = (float)acc;
        }
        if (dbias) dbias[k] = conv_bias_grad(d, dy, k, 0, d->n);
    }
}

