/* gemm_avx512.c - the AVX-512 micro-kernel: an 8 x 32 tile of C held in 16
 * zmm accumulators. Per k step: two aligned loads of B, eight broadcasts of
 * A, sixteen FMAs - in the L1 cache this runs at the FMA units' peak.
 * Tiles at most 16 wide (the right edge of C) run a one-vector variant
 * rather than multiplying zero padding.
 *
 * Compiled with a target attribute, not -mavx512f, so the rest of the
 * library (and this file's object) still runs on any x86-64; ccnn_isa
 * decides at run time whether it is called. */
#include "kernels/gemm.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define MR 8

/* The tile with nv = 1 or 2 vectors of 16 columns; inlined with nv fixed,
 * so the accumulator arrays become registers. The element of C in row i,
 * column j sees the same operations whichever variant computes it. */
__attribute__((target("avx512f,avx512vl,fma"), always_inline))
static inline void tile(const int nv, const int by_rows, int64_t kc, const float *restrict a,
                        const float *restrict b, int64_t ldb, const float *const *brow,
                        int64_t col, float *restrict c, int64_t ldc, int m, int n, float beta,
                        int load_c, const float *bias)
{
    /* Column masks cover the right edge; rows past m are skipped. */
    __mmask16 mask[2];
    mask[0] = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    mask[1] = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();

#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m512 bv[2];
        if (by_rows) { /* B in place: masked loads never touch memory past column n */
            const float *bk = brow[k] + col;
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) bv[v] = _mm512_maskz_loadu_ps(mask[v], bk + 16 * v);
        } else {
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) bv[v] = _mm512_load_ps(b + 16 * v);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 2
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
        if (!by_rows) b += ldb;
    }

    __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            float *cv = c + i * ldc + 16 * v;
            __m512 r = acc[i][v];
            if (bias)
                r = _mm512_add_ps(_mm512_set1_ps(bias[i]), r);
            else if (load_c)
                r = _mm512_add_ps(_mm512_mul_ps(vbeta, _mm512_maskz_loadu_ps(mask[v], cv)), r);
            _mm512_mask_storeu_ps(cv, mask[v], r);
        }
    }
}

__attribute__((target("avx512f,avx512vl,fma")))
void ccnn_ukernel_avx512(int64_t kc, const float *restrict a, const float *restrict b,
                         int64_t ldb, float *restrict c, int64_t ldc, int m, int n, float beta,
                         int load_c)
{
    if (n > 16)
        tile(2, 0, kc, a, b, ldb, NULL, 0, c, ldc, m, n, beta, load_c, NULL);
    else
        tile(1, 0, kc, a, b, ldb, NULL, 0, c, ldc, m, n, beta, load_c, NULL);
}

__attribute__((target("avx512f,avx512vl,fma")))
void ccnn_ukernel_rows_avx512(int64_t kc, const float *restrict a, const float *const *brow,
                              int64_t col, float *restrict c, int64_t ldc, int m, int n,
                              float beta, int load_c, const float *bias)
{
    if (n > 16)
        tile(2, 1, kc, a, NULL, 0, brow, col, c, ldc, m, n, beta, load_c, bias);
    else
        tile(1, 1, kc, a, NULL, 0, brow, col, c, ldc, m, n, beta, load_c, bias);
}
#endif
