/* conv_fast.h - what the fast convolution's files share (internal):
 * conv_fast.c (im2col + GEMM) and conv_depthwise.c (one input channel per
 * group). */
#ifndef CCNN_CONV_FAST_H
#define CCNN_CONV_FAST_H

#include "ccnn_internal.h"
#include <omp.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline int is_pointwise(const ccnn_conv_dims *d)
{
    return d->r == 1 && d->s == 1 && d->sh == 1 && d->sw == 1 &&
           d->pt == 0 && d->pb == 0 && d->pl == 0 && d->pr == 0;
}

/* Multiply-adds of one pass, times two. */
static inline double conv_flops(const ccnn_conv_dims *d)
{
    return 2.0 * (double)d->y_count * (double)(d->cg * d->r * d->s);
}

/* Below this many flops a parallel region costs more than it saves. */
#define PAR_MIN_FLOPS 1e6

/* Threads to run over items (images, chunks, planes) of a pass; 1: none
 * (the GEMM may still use them). */
static inline int item_threads(int64_t items, double flops)
{
    int nt = ccnn_threads();
    if (nt <= 1 || omp_in_parallel() || items < nt || flops < PAR_MIN_FLOPS) return 1;
    return nt;
}

/* For images: uneven shares waste a thread for a whole image, so accept
 * them only when each thread has several; else thread inside the GEMM. */
static inline int image_threads(const ccnn_conv_dims *d)
{
    int nt = item_threads(d->n, conv_flops(d));
    return (d->n % nt == 0 || d->n >= 3 * nt) ? nt : 1;
}

/* Output columns q in [lo, hi) read input column q*sw + off inside [0, W). */
static inline void q_range(const ccnn_conv_dims *d, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + d->sw - 1) / d->sw;
    int64_t b = d->w - 1 - off < 0 ? 0 : min64(d->q, (d->w - 1 - off) / d->sw + 1);
    *lo = min64(a, b);
    *hi = b;
}

static inline int is_depthwise(const ccnn_conv_dims *d) { return d->cg == 1 && d->groups > 1; }

/* The bias gradient of filter k over images [n0, n1): each plane summed in
 * float by a simd reduction, the planes in double, in image order. */
static inline float conv_bias_grad(const ccnn_conv_dims *d, const float *dy, int64_t k,
                                   int64_t n0, int64_t n1)
{
    const int64_t pq = d->p * d->q;
    double acc = 0.0;
    for (int64_t n = n0; n < n1; n++) {
        const float *row = dy + (n * d->k + k) * pq;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < pq; i++) sum += row[i];
        acc += sum;
    }
    return (float)acc;
}

/* The direct convolution's pieces (conv_direct.c; tiles in kernels/direct.h),
 * for one image and group. Packed filters: per group, kblocks blocks of kb
 * filters x Cg*R*S taps, then the bias in the same blocks. */
struct ccnn_direct_kernel;
int64_t ccnn_conv_direct_kblocks(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d);
int64_t ccnn_conv_direct_packed_floats(const struct ccnn_direct_kernel *kr,
                                       const ccnn_conv_dims *d);
void ccnn_conv_direct_taps(const ccnn_conv_dims *d, int64_t hp, int64_t wp, int64_t *off);
void ccnn_conv_direct_pack(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                           const float *w, const float *bias, float *dst);
void ccnn_conv_direct_rows(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                           const int64_t *off, const float *xp, int64_t wp, const float *pk,
                           int with_bias, float *yg, int64_t p0, int64_t p1);
void ccnn_conv_direct_transpose_dy(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                                   const float *dyg, float *dyt);
void ccnn_conv_direct_wgrad(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                            const int64_t *off, const float *xp, int64_t wp, const float *dyt,
                            float *dwt, int accumulate);

/* Winograd's F(2x2, 3x3) forward pass (conv_winograd.c), for 3x3, stride 1,
 * no dilation: the batch's 2x2 output tiles in chunks through the GEMM. */
struct ccnn_gemm_kernel;
int ccnn_conv_wino_applies(const ccnn_conv_dims *d);
int64_t ccnn_conv_wino_tiles(const ccnn_conv_dims *d);
int64_t ccnn_conv_wino_filters_floats(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d);
void ccnn_conv_wino_pack_filters(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d,
                                 const float *w, float *dst, float *tmp);
int64_t ccnn_conv_wino_chunk_floats(const ccnn_conv_dims *d, int64_t tc);
void ccnn_conv_wino_chunk(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d,
                          const float *x, const float *filters, const float *bias, float *y,
                          int64_t t0, int64_t t1, int64_t tc, float *buf, float *gemm_ws);

/* Depthwise passes (conv_depthwise.c); same contracts as the fast path's. */
void ccnn_conv_dw_forward(const ccnn_conv_dims *d, const float *x, const float *w,
                          const float *bias, float *y);
void ccnn_conv_dw_backward_data(const ccnn_conv_dims *d, const float *dy, const float *w,
                                float *dx);
void ccnn_conv_dw_backward_weights(const ccnn_conv_dims *d, const float *x, const float *dy,
                                   float *dw, float *dbias);

#endif
