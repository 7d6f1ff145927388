/* direct_avx512.c - the direct convolution's AVX-512 tiles (contract in
 * direct.h): 32 filters (two zmm vectors) per tile.
 *   forward: up to 14 output pixels x 32 filters = 28 accumulators; per tap
 *            two weight loads, one broadcast per pixel, 28 FMAs;
 *   weight gradient: up to 9 taps x 32 filters = 18 accumulators; per
 *            pixel two loads of dy, one broadcast per tap, 18 FMAs.
 * Each tile width or tap count is its own inlined copy, so the accumulator
 * arrays become registers. Compiled with a target attribute, chosen at run
 * time (ccnn_direct_kernel_for), as the GEMM's kernels are. */
#include "kernels/direct.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define KB 32
#define UW 14
#define TARGET __attribute__((target("avx512f,fma")))

static __mmask16 lane_mask(int n) /* the first n (<= 16, >= 0) lanes */
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Transposes the 16 x 16 matrix held in r (r[i] is row i) in place: four
 * rounds of shuffles, 64 in all. */
TARGET __attribute__((always_inline))
static inline void transpose16(__m512 r[16])
{
    __m512 a[16];
    /* a[2m], a[2m+1]: rows 2m and 2m+1 interleaved, element by element */
    for (int m = 0; m < 8; m++) {
        a[2 * m] = _mm512_unpacklo_ps(r[2 * m], r[2 * m + 1]);
        a[2 * m + 1] = _mm512_unpackhi_ps(r[2 * m], r[2 * m + 1]);
    }
    /* r[4g + c], 128-bit lane l: column 4l + c of rows 4g .. 4g+3 */
    for (int g = 0; g < 4; g++) {
        __m512d a0 = _mm512_castps_pd(a[4 * g]), a1 = _mm512_castps_pd(a[4 * g + 1]);
        __m512d a2 = _mm512_castps_pd(a[4 * g + 2]), a3 = _mm512_castps_pd(a[4 * g + 3]);
        r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    /* for each c, the 4 x 4 matrix of lanes r[4g + c].lane(l) transposed:
     * row 4l + c of the result is lane l of r[c], r[4 + c], r[8 + c], r[12 + c] */
    for (int c = 0; c < 4; c++) {
        __m512 s0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        __m512 s1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 s2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 s3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        a[c] = _mm512_shuffle_f32x4(s0, s2, 0x88);
        a[4 + c] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
        a[8 + c] = _mm512_shuffle_f32x4(s1, s3, 0x88);
        a[12 + c] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = a[i];
}

TARGET __attribute__((always_inline))
static inline void fwd_tile(const int npx, const int unit, int64_t T, const int64_t *off,
                            const float *x, int64_t sw, const float *restrict w, const float *bias,
                            float *restrict y, int64_t ldy, int nk)
{
    __m512 acc[UW][2];
    const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
    for (int i = 0; i < npx; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    for (int64_t t = 0; t < T; t++, w += KB) {
        const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
        const float *xt = x + off[t];
#pragma GCC unroll 14
        for (int i = 0; i < npx; i++) {
            const __m512 xv = _mm512_set1_ps(xt[unit ? i : i * sw]);
            acc[i][0] = _mm512_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(xv, w1, acc[i][1]);
        }
    }
    /* acc holds a vector of filters per pixel; y wants a row of pixels per
     * filter: transpose each 16-filter half in registers. */
    const __mmask16 px = (__mmask16)((1u << npx) - 1);
#pragma GCC unroll 2
    for (int v = 0; v < 2; v++) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) r[i] = i < npx ? acc[i][v] : _mm512_setzero_ps();
        transpose16(r);
        const int rows = nk - 16 * v < 16 ? nk - 16 * v : 16;
        for (int k = 0; k < rows; k++) _mm512_mask_storeu_ps(y + (16 * v + k) * ldy, px, r[k]);
    }
}

/* One inlined copy per tile width (and unit stride, where the broadcasts'
 * addresses are constants from xt), so that the accumulators are registers. */
TARGET __attribute__((always_inline))
static inline void fwd_width(const int unit, int64_t T, const int64_t *off, const float *x,
                             int64_t sw, const float *w, const float *bias, float *y, int64_t ldy,
                             int npx, int nk)
{
    switch (npx) {
    case 14: fwd_tile(14, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 13: fwd_tile(13, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 12: fwd_tile(12, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 11: fwd_tile(11, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 10: fwd_tile(10, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 9: fwd_tile(9, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 8: fwd_tile(8, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 7: fwd_tile(7, unit, T, off, x, sw, w, bias, y, ldy, nk); break;
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
    const __mmask16 m0 = lane_mask(nk), m1 = lane_mask(nk - 16);
    __m512 acc[CCNN_DIRECT_TAPS][2];
    int64_t o[CCNN_DIRECT_TAPS];
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) {
        o[t] = off[t];
        acc[t][0] = accumulate ? _mm512_maskz_loadu_ps(m0, dw + t * ldw) : _mm512_setzero_ps();
        acc[t][1] = accumulate ? _mm512_maskz_loadu_ps(m1, dw + t * ldw + 16) : _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < P; p++) {
        const float *d = dy + p * Q * ldd, *xq = x + p * xrow;
        for (int64_t q = 0; q < Q; q++, d += ldd, xq += sw) {
            const __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
#pragma GCC unroll 9
            for (int t = 0; t < nt; t++) {
                const __m512 xv = _mm512_set1_ps(xq[o[t]]);
                acc[t][0] = _mm512_fmadd_ps(xv, d0, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(xv, d1, acc[t][1]);
            }
        }
    }
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) {
        _mm512_mask_storeu_ps(dw + t * ldw, m0, acc[t][0]);
        _mm512_mask_storeu_ps(dw + t * ldw + 16, m1, acc[t][1]);
    }
}

TARGET static void wgrad(int nt, const int64_t *off, const float *x, int64_t P, int64_t Q,
                         int64_t xrow, int64_t sw, const float *dy, int64_t ldd, float *dw,
                         int64_t ldw, int nk, int accumulate)
{
    switch (nt) {
    case 9: wgrad_tile(9, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 8: wgrad_tile(8, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 7: wgrad_tile(7, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 6: wgrad_tile(6, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 5: wgrad_tile(5, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 4: wgrad_tile(4, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 3: wgrad_tile(3, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 2: wgrad_tile(2, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    default: wgrad_tile(1, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    }
}

/* Pays once a tile's 32 filters are all used (measured: docs/performance.md). */
const ccnn_direct_kernel ccnn_direct_avx512 = {.kb = KB, .uw = UW, .fwd = fwd, .wgrad = wgrad,
                                               .pays_from_k = KB};
#endif
