/* gemm_dot.c - sums of dot products over a 2-D region, for the weight
 * gradient of shallow convolutions (src/ops/conv_fast.c):
 *
 *   vacc[(i*N + j)*16 + l] += sum over r < rows, c < cols, c % 16 == l of
 *                             arow[i][r*a_rs + c] * b[j*ldb + r*b_rs + c]
 *
 * for i < M, j < N, lane l < 16: a shifted input plane against an output
 * gradient plane, row by row, read where they lie. Sixteen running sums per (i, j) rather than
 * one: the AVX-512 kernel keeps them in one register each, and a caller
 * that accumulates over many calls (images) folds the lanes once at the end
 * (ccnn_gemm_dot_fold, a fixed tree). Nothing past a row's cols is read. The
 * order of every sum is fixed by the shapes alone, never by the thread count; the ISA levels
 * may round differently (FMA or not), as the GEMM's do. */
#include "kernels/gemm.h"
#include "core/arch.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Portable: the same lanes, one (i, j) at a time. Also compiled with AVX2
 * allowed, where gcc vectorises the lane loop. */
__attribute__((always_inline))
static inline void dot_c(int64_t M, int64_t N, int64_t rows, int64_t cols,
                         const float *const *arow, int64_t a_rs, const float *b, int64_t ldb,
                         int64_t b_rs, float *vacc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float *restrict v = vacc + (i * N + j) * CCNN_GEMM_DOT_LANES;
            for (int64_t r = 0; r < rows; r++) {
                const float *restrict a = arow[i] + r * a_rs, *restrict bj = b + j * ldb + r * b_rs;
                int64_t k = 0;
                for (; k + CCNN_GEMM_DOT_LANES <= cols; k += CCNN_GEMM_DOT_LANES)
                    for (int l = 0; l < CCNN_GEMM_DOT_LANES; l++) v[l] += a[k + l] * bj[k + l];
                for (int l = 0; k + l < cols; l++) v[l] += a[k + l] * bj[k + l];
            }
        }
}

static void dot_scalar(int64_t M, int64_t N, int64_t rows, int64_t cols, const float *const *arow,
                       int64_t a_rs, const float *b, int64_t ldb, int64_t b_rs, float *vacc)
{
    dot_c(M, N, rows, cols, arow, a_rs, b, ldb, b_rs, vacc);
}

void ccnn_gemm_dot_fold(int64_t count, const float *vacc, float *out)
{
    for (int64_t e = 0; e < count; e++) {
        float t[CCNN_GEMM_DOT_LANES];
        for (int l = 0; l < CCNN_GEMM_DOT_LANES; l++) t[l] = vacc[e * CCNN_GEMM_DOT_LANES + l];
        for (int h = CCNN_GEMM_DOT_LANES / 2; h >= 1; h /= 2)
            for (int l = 0; l < h; l++) t[l] += t[l + h];
        out[e] = t[0];
    }
}

#if CCNN_X86
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void dot_avx2(int64_t M, int64_t N, int64_t rows, int64_t cols, const float *const *arow,
                     int64_t a_rs, const float *b, int64_t ldb, int64_t b_rs, float *vacc)
{
    dot_c(M, N, rows, cols, arow, a_rs, b, ldb, b_rs, vacc);
}

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
static void dot_avx512(int64_t M, int64_t N, int64_t rows, int64_t cols, const float *const *arow,
                       int64_t a_rs, const float *b, int64_t ldb, int64_t b_rs, float *vacc)
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

ccnn_gemm_dot_fn ccnn_gemm_dot_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return dot_avx512;
    if (isa == CCNN_ISA_AVX2) return dot_avx2;
#endif
    (void)isa;
    return dot_scalar;
}
