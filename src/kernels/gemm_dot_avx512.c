/* gemm_dot_avx512.c - the AVX-512 dot-product kernel (contract in gemm.h,
 * ccnn_gemm_dot_fn): one zmm of the 16 lane sums per (i, j). Chosen at
 * run time by ccnn_gemm_dot_for (gemm_dot.c). */
#include "kernels/gemm.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* An mb x nb block of (i, j) pairs, one zmm of lane sums each, over the
 * whole region: mb + nb loads feed mb*nb FMAs. Inlined with mb, nb fixed. */
__attribute__((target("avx512f,fma"), always_inline))
static inline void dot_block(const int mb, const int nb, int64_t N, int64_t rows, int64_t cols,
                             const float *const *a, int64_t a_rs, const float *b, int64_t ldb,
                             int64_t b_rs, float *vacc)
{
    __m512 acc[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++) acc[i][j] = _mm512_loadu_ps(vacc + (i * N + j) * 16);
    for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < cols; k += 16) {
        const __mmask16 m = cols - k >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
        __m512 av[3], bv[4];
#pragma GCC unroll 3
        for (int i = 0; i < mb; i++) av[i] = _mm512_maskz_loadu_ps(m, a[i] + r * a_rs + k);
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++) bv[j] = _mm512_maskz_loadu_ps(m, b + j * ldb + r * b_rs + k);
#pragma GCC unroll 3
        for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
            for (int j = 0; j < nb; j++) acc[i][j] = _mm512_fmadd_ps(av[i], bv[j], acc[i][j]);
    }
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++) _mm512_storeu_ps(vacc + (i * N + j) * 16, acc[i][j]);
}

__attribute__((target("avx512f,fma")))
void ccnn_gemm_dot_avx512(int64_t M, int64_t N, int64_t rows, int64_t cols,
                          const float *const *arow, int64_t a_rs, const float *b, int64_t ldb,
                          int64_t b_rs, float *vacc)
{
    for (int64_t i0 = 0; i0 < M; i0 += 3) {
        const int64_t mb = min64(3, M - i0);
        for (int64_t j0 = 0; j0 < N; j0 += 4) {
            const int64_t nb = min64(4, N - j0);
            float *v = vacc + (i0 * N + j0) * 16;
            if (mb == 3 && nb == 4) {
                dot_block(3, 4, N, rows, cols, arow + i0, a_rs, b + j0 * ldb, ldb, b_rs, v);
            } else { /* the ragged edge, pair by pair */
                for (int64_t i = 0; i < mb; i++)
                    for (int64_t j = 0; j < nb; j++)
                        dot_block(1, 1, N, rows, cols, arow + i0 + i, a_rs, b + (j0 + j) * ldb,
                                  ldb, b_rs, v + (i * N + j) * 16);
            }
        }
    }
}
#endif
