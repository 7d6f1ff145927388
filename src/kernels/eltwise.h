/* eltwise.h - vector kernels for the memory-bound layers outside the
 * convolution: batch-norm statistics and scaling, 2x2 max pooling, ReLU and
 * element-wise sums. One table per SIMD level, chosen like the GEMM's:
 * ccnn_eltwise_for(ccnn_get_isa()).
 *
 * Every level computes bitwise the same results as the portable C kernels:
 *   - sums over a plane use CCNN_ELT_LANES float lanes (element i goes to
 *     lane i % CCNN_ELT_LANES, elements in increasing order), then a fixed
 *     halving tree: lane l += lane l + 16, then l + 8, 4, 2, 1;
 *   - no FMA anywhere: each multiply and add is rounded as the C code
 *     writes it
 * (up to which NaN comes out of an operation on two NaNs).
 * The kernels never depend on alignment or on the thread count; callers
 * split work into whole planes or element ranges. */
#ifndef CCNN_ELTWISE_H
#define CCNN_ELTWISE_H

#include "ccnn.h"
#include "core/arch.h"
#include <stdint.h>

#define CCNN_ELT_LANES 32

typedef struct ccnn_eltwise_kernels {
    /* ---- batch norm, one plane of n values at a time ---- */
    /* sum of x[0..n) */
    float (*sum)(const float *x, int64_t n);
    /* sum of (x[i] - mean)^2 */
    float (*sq_dev)(const float *x, int64_t n, float mean);
    /* y[i] = x[i] * scale + shift (a multiply, then an add) */
    void (*scale_shift)(const float *x, int64_t n, float scale, float shift, float *y);
    /* *sdy = sum dy[i], *sdyx = sum dy[i] * (x[i] - mean), in one pass */
    void (*bn_grad_sums)(const float *x, const float *dy, int64_t n, float mean, float *sdy,
                         float *sdyx);
    /* dx[i] += (fa * dy[i] + fb * x[i]) + fc */
    /* (set: dx = 0 + (...), dx's old contents not read - for a din nobody
     *  else writes; the same bits as adding to zeros) */
    void (*bn_grad_dx)(const float *x, const float *dy, int64_t n, float fa, float fb, float fc,
                       float *dx, int set);

    /* ---- max pooling, 2x2 windows, stride 2, no padding, one plane ----
     * x is H x W (H >= 2P, W >= 2Q); y and am are P x Q. The first maximum
     * in row-major window order wins; a NaN wins over numbers (the first
     * NaN if several). am holds the winner's index within the plane. */
    void (*maxpool2x2)(const float *x, int W, int P, int Q, float *y, int32_t *am);
    /* (No backward kernel: the layer's plain scatter dx[am[o]] += dy[o]
     * measured about twice as fast as AVX-512 versions, both a dense one
     * (duplicate dy and am into each window, masked add per row pair) and
     * gather/scatter, on Zen 4 at the default net's shapes.) */

    /* ---- element-wise ---- */
    /* y[i] = x[i] > 0 ? x[i] : 0 (NaN and -0 give +0) */
    void (*relu)(const float *x, int64_t n, float *y);
    /* dx[i] += y[i] > 0 ? dy[i] : 0 */
    /* (set: dx = 0 + (...), as bn_grad_dx) */
    void (*relu_grad)(const float *y, const float *dy, int64_t n, float *dx, int set);
    /* y[i] = a[i] + b[i] */
    void (*add)(const float *a, const float *b, int64_t n, float *y);
    /* y[i] += x[i] */
    void (*acc)(const float *x, int64_t n, float *y);
} ccnn_eltwise_kernels;

/* The kernels for an ISA level; never NULL (falls back to portable C). */
const ccnn_eltwise_kernels *ccnn_eltwise_for(ccnn_isa isa);

#if CCNN_X86
extern const ccnn_eltwise_kernels ccnn_eltwise_avx2;
extern const ccnn_eltwise_kernels ccnn_eltwise_avx512;
#endif
#if CCNN_ARM64
extern const ccnn_eltwise_kernels ccnn_eltwise_neon;
#endif

#endif
