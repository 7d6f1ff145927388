/* gemm_avx2.c - the AVX2+FMA micro-kernel: a 6 x 16 tile of C in 12 ymm
 * accumulators, plus two B vectors and one broadcast: 15 of the 16 ymm
 * registers. Also the 8x8-block transpose used for packing (by the AVX-512
 * level too). Compiled with target attributes; chosen at run time. */
#include "kernels/gemm.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define MR 6

/* The tile; with by_rows, row k of B is read in place at brow[k] + col
 * with masked loads (which never touch memory past column n), else from
 * the packed panel. Inlined with by_rows fixed. */
__attribute__((target("avx2,fma"), always_inline))
static inline void tile(const int by_rows, int64_t kc, const float *restrict a,
                        const float *restrict b, int64_t ldb, const float *const *brow,
                        int64_t col, float *restrict c, int64_t ldc, int m, int n, float beta,
                        int load_c, const float *bias)
{
    /* Lane j is kept when j < n (resp. j + 8 < n): sign bit set in the mask. */
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), iota);
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();

#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0, b1;
        if (by_rows) {
            const float *bk = brow[k] + col;
            b0 = _mm256_maskload_ps(bk, m0);
            b1 = _mm256_maskload_ps(bk + 8, m1);
        } else {
            b0 = _mm256_load_ps(b);
            b1 = _mm256_load_ps(b + 8);
        }
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += MR;
        if (!by_rows) b += ldb;
    }

    __m256 vbeta = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float *ci = c + i * ldc;
        __m256 r0 = acc[i][0], r1 = acc[i][1];
        if (bias) r0 = _mm256_add_ps(_mm256_set1_ps(bias[i]), r0);
        else if (load_c) r0 = _mm256_add_ps(_mm256_mul_ps(vbeta, _mm256_maskload_ps(ci, m0)), r0);
        _mm256_maskstore_ps(ci, m0, r0);
        if (n <= 8) continue; /* the second vector lies past the edge */
        if (bias) r1 = _mm256_add_ps(_mm256_set1_ps(bias[i]), r1);
        else if (load_c) r1 = _mm256_add_ps(_mm256_mul_ps(vbeta, _mm256_maskload_ps(ci + 8, m1)), r1);
        _mm256_maskstore_ps(ci + 8, m1, r1);
    }
}

__attribute__((target("avx2,fma")))
void ccnn_ukernel_avx2(int64_t kc, const float *restrict a, const float *restrict b,
                       int64_t ldb, float *restrict c, int64_t ldc, int m, int n, float beta,
                       int load_c)
{
    tile(0, kc, a, b, ldb, NULL, 0, c, ldc, m, n, beta, load_c, NULL);
}

__attribute__((target("avx2,fma")))
void ccnn_ukernel_rows_avx2(int64_t kc, const float *restrict a, const float *const *brow,
                            int64_t col, float *restrict c, int64_t ldc, int m, int n, float beta,
                            int load_c, const float *bias)
{
    tile(1, kc, a, NULL, 0, brow, col, c, ldc, m, n, beta, load_c, bias);
}

/* dst[k*ldd + j] = src[j*lds + k]: 8x8 blocks transposed in registers
 * (unpack, shuffle, lane permute), about five times faster than scalar
 * strided stores; the ragged edges are done one by one. */
__attribute__((target("avx2")))
void ccnn_transpose_avx2(const float *restrict src, int64_t lds, int rows, int64_t cols,
                         float *restrict dst, int64_t ldd)
{
    int j = 0;
    for (; j + 8 <= rows; j += 8) {
        const float *s = src + j * lds;
        int64_t k = 0;
        for (; k + 8 <= cols; k += 8) {
            __m256 r[8], t[8], u[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * lds + k);
#pragma GCC unroll 4
            for (int i = 0; i < 8; i += 2) { /* interleave row pairs */
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
#pragma GCC unroll 2
            for (int i = 0; i < 8; i += 4) { /* then groups of four */
                u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
                u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
            }
            float *d = dst + k * ldd + j;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) { /* 128-bit halves: k and k+4 */
                _mm256_storeu_ps(d + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
                _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
            }
        }
        for (; k < cols; k++)
            for (int i = 0; i < 8; i++) dst[k * ldd + j + i] = s[i * lds + k];
    }
    for (; j < rows; j++)
        for (int64_t k = 0; k < cols; k++) dst[k * ldd + j] = src[j * lds + k];
}
#endif
