/* gemm_neon.c - the GEMM's ARM64 NEON micro-kernels (contract in gemm.h).
 *
 * A 6 x 16 register tile: 24 accumulators (six rows of four q registers),
 * four q registers for the B row and two for the A column (4 + 2 floats),
 * 30 of the 32. Per k step: four B loads, two A loads and 24 FMAs by
 * element (fmla v.4s, v.4s, v.s[l]), so an A value is never broadcast into
 * a register of its own. 16 columns divide CCNN_GEMM_NC.
 *
 * Sums run over k in order, one FMA each, as in the x86 kernels; the edge
 * handling (beta, bias, partial tiles) multiplies and adds as the portable
 * kernel writes it. The build's -std=c11 keeps gcc from contracting those
 * into FMAs (-ffp-contract=off is ISO C's default). */
#include "kernels/gemm.h"
#include "core/arch.h"

#if CCNN_ARM64
#include <arm_neon.h>

#define MR 6
#define NR 16

/* acc[i][0..3] += a[i] * b[0..3] for the six rows. */
#define ROW_FMA(i, av, lane, lanefn)                                                   \
    do {                                                                               \
        acc[i][0] = lanefn(acc[i][0], b0, av, lane);                                   \
        acc[i][1] = lanefn(acc[i][1], b1, av, lane);                                   \
        acc[i][2] = lanefn(acc[i][2], b2, av, lane);                                   \
        acc[i][3] = lanefn(acc[i][3], b3, av, lane);                                   \
    } while (0)

static inline __attribute__((always_inline)) void
step(float32x4_t acc[MR][4], const float *a, float32x4_t b0, float32x4_t b1, float32x4_t b2,
     float32x4_t b3)
{
    const float32x4_t a03 = vld1q_f32(a);
    const float32x2_t a45 = vld1_f32(a + 4);
    ROW_FMA(0, a03, 0, vfmaq_laneq_f32);
    ROW_FMA(1, a03, 1, vfmaq_laneq_f32);
    ROW_FMA(2, a03, 2, vfmaq_laneq_f32);
    ROW_FMA(3, a03, 3, vfmaq_laneq_f32);
    ROW_FMA(4, a45, 0, vfmaq_lane_f32);
    ROW_FMA(5, a45, 1, vfmaq_lane_f32);
}

/* Rows i < m of the tile into C: acc, beta*C + acc (a multiply, then an
 * add) or bias[i] + acc; columns j < n. Unrolled, so that acc is indexed
 * by constants only and stays in registers through the k loop. */
static inline __attribute__((always_inline)) void
store_tile(float32x4_t acc[MR][4], float *c, int64_t ldc, int m, int n, float beta, int load_c,
           const float *bias)
{
    const float32x4_t vb = vdupq_n_f32(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float *ci = c + i * ldc;
        if (n == NR) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                float32x4_t v = acc[i][j];
                if (bias) v = vaddq_f32(vdupq_n_f32(bias[i]), v);
                else if (load_c) v = vaddq_f32(vmulq_f32(vb, vld1q_f32(ci + 4 * j)), v);
                vst1q_f32(ci + 4 * j, v);
            }
        } else {
            float t[NR];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) vst1q_f32(t + 4 * j, acc[i][j]);
            for (int j = 0; j < n; j++)
                ci[j] = bias ? bias[i] + t[j] : load_c ? beta * ci[j] + t[j] : t[j];
        }
    }
}

static void ukernel(int64_t kc, const float *restrict a, const float *restrict b, int64_t ldb,
                    float *restrict c, int64_t ldc, int m, int n, float beta, int load_c)
{
    float32x4_t acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < kc; k++, a += MR, b += ldb)
        step(acc, a, vld1q_f32(b), vld1q_f32(b + 4), vld1q_f32(b + 8), vld1q_f32(b + 12));
    store_tile(acc, c, ldc, m, n, beta, load_c, NULL);
}

/* The first n floats at p (all four when n >= 4), zeros after them:
 * nothing past them is read. */
static inline __attribute__((always_inline)) float32x4_t load_part(const float *p, int n)
{
    if (n >= 4) return vld1q_f32(p);
    float32x4_t v = vdupq_n_f32(0.0f);
    if (n > 0) v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

/* B read in place: full rows as vectors; a narrower edge tile loads each
 * row's n floats lane by lane (nothing past them may be read). */
static void ukernel_rows(int64_t kc, const float *restrict a, const float *const *brow,
                         int64_t col, float *restrict c, int64_t ldc, int m, int n, float beta,
                         int load_c, const float *bias)
{
    float32x4_t acc[MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);
    if (n == NR) {
        for (int64_t k = 0; k < kc; k++, a += MR) {
            const float *b = brow[k] + col;
            step(acc, a, vld1q_f32(b), vld1q_f32(b + 4), vld1q_f32(b + 8), vld1q_f32(b + 12));
        }
    } else {
        for (int64_t k = 0; k < kc; k++, a += MR) {
            const float *b = brow[k] + col;
            step(acc, a, load_part(b, n), load_part(b + 4, n - 4), load_part(b + 8, n - 8),
                 load_part(b + 12, n - 12));
        }
    }
    store_tile(acc, c, ldc, m, n, beta, load_c, bias);
}

/* 4 x 4 blocks transposed in registers (two rounds of trn/combine), the
 * edges one float at a time. */
static void transpose(const float *restrict src, int64_t lds, int rows, int64_t cols,
                      float *restrict dst, int64_t ldd)
{
    int j = 0;
    for (; j + 4 <= rows; j += 4) {
        const float *s = src + j * lds;
        int64_t k = 0;
        for (; k + 4 <= cols; k += 4) {
            const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(s + k), vld1q_f32(s + lds + k));
            const float32x4x2_t t23 =
                vtrnq_f32(vld1q_f32(s + 2 * lds + k), vld1q_f32(s + 3 * lds + k));
            float *d = dst + k * ldd + j;
            vst1q_f32(d, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
            vst1q_f32(d + ldd, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
            vst1q_f32(d + 2 * ldd,
                      vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
            vst1q_f32(d + 3 * ldd,
                      vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
        }
        for (; k < cols; k++)
            for (int r = 0; r < 4; r++) dst[k * ldd + j + r] = s[r * lds + k];
    }
    for (; j < rows; j++)
        for (int64_t k = 0; k < cols; k++) dst[k * ldd + j] = src[j * lds + k];
}

const ccnn_gemm_kernel ccnn_gemm_neon = {MR, NR, ukernel, ukernel_rows, transpose};
#endif
