/* gemm_dot_avx2.c - the AVX2 dot-product kernel (contract in gemm.h,
 * ccnn_gemm_dot_fn). A (i, j) pair's 16 lane sums are two ymm: columns
 * with c % 16 < 8 go to the first, the others to the second, so the lanes
 * mean what they mean at every ISA level. A block of 2 x 3 pairs holds 12
 * accumulators; per 8 columns 5 loads feed 6 FMAs. (gcc -O2 does not
 * vectorise the portable loop: this is about 20x it on a first layer.)
 * Chosen at run time by ccnn_gemm_dot_for (gemm_dot.c). */
#include "kernels/gemm.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Lanes j < n (0 <= n): sign bits set, for maskload (which reads nothing
 * in the lanes it leaves out). */
TARGET static inline __m256i lane_mask(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)min64(n, 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* An mb x nb block of (i, j) pairs (mb <= 2, nb <= 3) over the whole
 * region. Inlined with mb, nb fixed, so the accumulators are registers. */
TARGET __attribute__((always_inline))
static inline void dot_block(const int mb, const int nb, int64_t N, int64_t rows, int64_t cols,
                             const float *const *a, int64_t a_rs, const float *b, int64_t ldb,
                             int64_t b_rs, float *vacc)
{
    __m256 acc[2][3][2];
#pragma GCC unroll 2
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 3
        for (int j = 0; j < nb; j++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
                acc[i][j][h] = _mm256_loadu_ps(vacc + (i * N + j) * 16 + 8 * h);
    const int64_t full = cols / 16 * 16;
    const __m256i m0 = lane_mask(cols - full), m1 = lane_mask(cols - full - 8);
    for (int64_t r = 0; r < rows; r++) {
        const float *ar[2], *br[3];
#pragma GCC unroll 2
        for (int i = 0; i < mb; i++) ar[i] = a[i] + r * a_rs;
#pragma GCC unroll 3
        for (int j = 0; j < nb; j++) br[j] = b + j * ldb + r * b_rs;
        for (int64_t k = 0; k < full; k += 16)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                __m256 bv[3];
#pragma GCC unroll 3
                for (int j = 0; j < nb; j++) bv[j] = _mm256_loadu_ps(br[j] + k + 8 * h);
#pragma GCC unroll 2
                for (int i = 0; i < mb; i++) {
                    const __m256 av = _mm256_loadu_ps(ar[i] + k + 8 * h);
#pragma GCC unroll 3
                    for (int j = 0; j < nb; j++)
                        acc[i][j][h] = _mm256_fmadd_ps(av, bv[j], acc[i][j][h]);
                }
            }
        if (full < cols)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m256i m = h ? m1 : m0;
                __m256 bv[3];
#pragma GCC unroll 3
                for (int j = 0; j < nb; j++) bv[j] = _mm256_maskload_ps(br[j] + full + 8 * h, m);
#pragma GCC unroll 2
                for (int i = 0; i < mb; i++) {
                    const __m256 av = _mm256_maskload_ps(ar[i] + full + 8 * h, m);
#pragma GCC unroll 3
                    for (int j = 0; j < nb; j++)
                        acc[i][j][h] = _mm256_fmadd_ps(av, bv[j], acc[i][j][h]);
                }
            }
    }
#pragma GCC unroll 2
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 3
        for (int j = 0; j < nb; j++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
                _mm256_storeu_ps(vacc + (i * N + j) * 16 + 8 * h, acc[i][j][h]);
}

TARGET void ccnn_gemm_dot_avx2(int64_t M, int64_t N, int64_t rows, int64_t cols,
                               const float *const *arow, int64_t a_rs, const float *b,
                               int64_t ldb, int64_t b_rs, float *vacc)
{
    for (int64_t i0 = 0; i0 < M; i0 += 2)
        for (int64_t j0 = 0; j0 < N; j0 += 3) {
            const int mb = (int)min64(2, M - i0), nb = (int)min64(3, N - j0);
            const float *const *a = arow + i0;
            const float *bj = b + j0 * ldb;
            float *v = vacc + (i0 * N + j0) * 16;
            switch (mb * 4 + nb) {
            case 11: dot_block(2, 3, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            case 10: dot_block(2, 2, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            case 9: dot_block(2, 1, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            case 7: dot_block(1, 3, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            case 6: dot_block(1, 2, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            default: dot_block(1, 1, N, rows, cols, a, a_rs, bj, ldb, b_rs, v); break;
            }
        }
}
#endif
