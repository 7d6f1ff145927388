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

/* Portable: the same lanes, one (i, j) at a time. The AVX2 and AVX-512
 * kernels are in gemm_dot_avx2.c and gemm_dot_avx512.c. */
static void dot_scalar(int64_t M, int64_t N, int64_t rows, int64_t cols,
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

ccnn_gemm_dot_fn ccnn_gemm_dot_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return ccnn_gemm_dot_avx512;
    if (isa == CCNN_ISA_AVX2) return ccnn_gemm_dot_avx2;
#endif
    (void)isa;
    return dot_scalar;
}
