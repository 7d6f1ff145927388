/* direct_avx2.c - the direct convolution's AVX2 tiles (contract in
 * direct.h): 16 filters (two ymm vectors) per tile, sized to the 16 ymm
 * registers.
 *   forward: up to 6 output pixels x 16 filters = 12 accumulators; per tap
 *            two weight loads, one broadcast per pixel, 12 FMAs (15 registers);
 *   weight gradient: up to 6 taps x 16 filters = 12 accumulators; per pixel
 *            two loads of dy, one broadcast per tap, 12 FMAs.
 * As in direct_avx512.c, each tile width or tap count is its own inlined
 * copy so that the accumulators are registers; compiled with a target
 * attribute and chosen at run time (ccnn_direct_kernel_for). */
#include "kernels/direct.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define KB 16
#define UW 6
#define WT 6
#define TARGET __attribute__((target("avx2,fma")))

/* Lanes j < n (0 <= n): sign bits set, for maskload/maskstore. */
TARGET static inline __m256i lane_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Transposes the 8 x 8 matrix held in r (r[i] is row i) in place. */
TARGET __attribute__((always_inline))
static inline void transpose8(__m256 r[8])
{
    __m256 a[8], b[8];
    for (int m = 0; m < 4; m++) {
        a[2 * m] = _mm256_unpacklo_ps(r[2 * m], r[2 * m + 1]);
        a[2 * m + 1] = _mm256_unpackhi_ps(r[2 * m], r[2 * m + 1]);
    }
    /* b[4h + c], 128-bit half l: column 4l + c of rows 4h .. 4h+3 */
    for (int h = 0; h < 2; h++) {
        b[4 * h] = _mm256_shuffle_ps(a[4 * h], a[4 * h + 2], 0x44);
        b[4 * h + 1] = _mm256_shuffle_ps(a[4 * h], a[4 * h + 2], 0xEE);
        b[4 * h + 2] = _mm256_shuffle_ps(a[4 * h + 1], a[4 * h + 3], 0x44);
        b[4 * h + 3] = _mm256_shuffle_ps(a[4 * h + 1], a[4 * h + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x31);
    }
}

TARGET __attribute__((always_inline))
static inline void fwd_tile(const int npx, const int unit, int64_t T, const int64_t *off,
                            const float *x, int64_t sw, const float *restrict w, const float *bias,
                            float *restrict y, int64_t ldy, int nk)
{
    __m256 acc[UW][2];
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < npx; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    for (int64_t t = 0; t < T; t++, w += KB) {
        const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
        const float *xt = x + off[t];
#pragma GCC unroll 6
        for (int i = 0; i < npx; i++) {
            const __m256 xv = _mm256_broadcast_ss(xt + (unit ? i : i * sw));
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
    /* a vector of filters per pixel -> a row of pixels per filter */
    const __m256i px = lane_mask(npx);
#pragma GCC unroll 2
    for (int v = 0; v < 2; v++) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = i < npx ? acc[i][v] : _mm256_setzero_ps();
        transpose8(r);
        const int rows = nk - 8 * v < 8 ? nk - 8 * v : 8;
        for (int k = 0; k < rows; k++) _mm256_maskstore_ps(y + (8 * v + k) * ldy, px, r[k]);
    }
}

TARGET __attribute__((always_inline))
static inline void fwd_width(const int unit, int64_t T, const int64_t *off, const float *x,
                             int64_t sw, const float *w, const float *bias, float *y, int64_t ldy,
                             int npx, int nk)
{
    switch (npx) {
    case 6: fwd_tile(6, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 5: fwd_tile(5, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 4: fwd_tile(4, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 3: fwd_tile(3, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 2: fwd_tile(2, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    default: fwd_tile(1, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    }
}

TARGET static void fwd(int64_t T, const int64_t *off, const float *x, int64_t sw, const float *w,
                       const float *bias, float *y, int64_t ldy, int npx, int nk)
{
    if (sw == 1)
        fwd_width(1, T, off, x, sw, w, bias, y, ldy, npx, nk);
    else
        fwd_width(0, T, off, x, sw, w, bias, y, ldy, npx, nk);
}

TARGET __attribute__((always_inline))
static inline void wgrad_tile(const int nt, const int64_t *off, const float *x, int64_t P,
                              int64_t Q, int64_t xrow, int64_t sw, const float *restrict dy,
                              int64_t ldd, float *restrict dw, int64_t ldw, int nk,
                              int accumulate)
{
    const __m256i m0 = lane_mask(nk), m1 = lane_mask(nk - 8);
    __m256 acc[WT][2];
    int64_t o[WT];
#pragma GCC unroll 6
    for (int t = 0; t < nt; t++) {
        o[t] = off[t];
        acc[t][0] = accumulate ? _mm256_maskload_ps(dw + t * ldw, m0) : _mm256_setzero_ps();
        acc[t][1] = accumulate ? _mm256_maskload_ps(dw + t * ldw + 8, m1) : _mm256_setzero_ps();
    }
    for (int64_t p = 0; p < P; p++) {
        const float *d = dy + p * Q * ldd, *xq = x + p * xrow;
        for (int64_t q = 0; q < Q; q++, d += ldd, xq += sw) {
            const __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
#pragma GCC unroll 6
            for (int t = 0; t < nt; t++) {
                const __m256 xv = _mm256_broadcast_ss(xq + o[t]);
                acc[t][0] = _mm256_fmadd_ps(xv, d0, acc[t][0]);
                acc[t][1] = _mm256_fmadd_ps(xv, d1, acc[t][1]);
            }
        }
    }
#pragma GCC unroll 6
    for (int t = 0; t < nt; t++) {
        _mm256_maskstore_ps(dw + t * ldw, m0, acc[t][0]);
        _mm256_maskstore_ps(dw + t * ldw + 8, m1, acc[t][1]);
    }
}

TARGET static void wgrad(int nt, const int64_t *off, const float *x, int64_t P, int64_t Q,
                         int64_t xrow, int64_t sw, const float *dy, int64_t ldd, float *dw,
                         int64_t ldw, int nk, int accumulate)
{
    switch (nt) {
    case 6: wgrad_tile(6, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 5: wgrad_tile(5, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 4: wgrad_tile(4, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 3: wgrad_tile(3, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 2: wgrad_tile(2, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    default: wgrad_tile(1, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    }
}

/* Pays once a tile's 16 filters are all used (measured under CCNN_ISA=avx2:
 * docs/performance.md). */
const ccnn_direct_kernel ccnn_direct_avx2 = {
    .kb = KB, .uw = UW, .fwd = fwd, .wgrad = wgrad, .wt = WT, .pays_from_k = KB};
#endif
