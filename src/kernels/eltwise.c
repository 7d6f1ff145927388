/* eltwise.c - the portable kernels of eltwise.h, and the table per ISA.
 *
 * These loops are the specification the AVX2 and AVX-512 versions follow
 * bit for bit: the sums keep CCNN_ELT_LANES explicit lanes (so the order
 * does not depend on what the compiler vectorises), and the compiler may
 * not fuse a multiply and an add here (-std=c11 keeps fp-contract off). */
#include "kernels/eltwise.h"
#include "core/arch.h"

#define L CCNN_ELT_LANES

/* lane l += lane l + h for h = L/2, ..., 1: the tree every level uses */
static float lanes_reduce(float *a)
{
    for (int h = L / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) a[l] += a[l + h];
    return a[0];
}

static float sum_c(const float *x, int64_t n)
{
    float a[L] = {0};
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) a[l] += x[i + l];
    for (int l = 0; i + l < n; l++) a[l] += x[i + l];
    return lanes_reduce(a);
}

static float sq_dev_c(const float *x, int64_t n, float mean)
{
    float a[L] = {0};
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) {
            float d = x[i + l] - mean;
            a[l] += d * d;
        }
    for (int l = 0; i + l < n; l++) {
        float d = x[i + l] - mean;
        a[l] += d * d;
    }
    return lanes_reduce(a);
}

static void scale_shift_c(const float *restrict x, int64_t n, float scale, float shift,
                          float *restrict y)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale + shift;
}

static void bn_grad_sums_c(const float *x, const float *dy, int64_t n, float mean, float *sdy,
                           float *sdyx)
{
    float a[L] = {0}, b[L] = {0};
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) {
            a[l] += dy[i + l];
            b[l] += dy[i + l] * (x[i + l] - mean);
        }
    for (int l = 0; i + l < n; l++) {
        a[l] += dy[i + l];
        b[l] += dy[i + l] * (x[i + l] - mean);
    }
    *sdy = lanes_reduce(a);
    *sdyx = lanes_reduce(b);
}

static void bn_grad_dx_c(const float *restrict x, const float *restrict dy, int64_t n, float fa,
                         float fb, float fc, float *restrict dx, int set)
{
    if (set) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = 0.0f + ((fa * dy[i] + fb * x[i]) + fc);
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] += (fa * dy[i] + fb * x[i]) + fc;
}

/* GCC vectorises neither the strided loads nor, with them in the loop, the
 * selects (it emits branches, which mispredict on real data). So each row
 * is done in blocks: the four window positions are first copied into
 * contiguous arrays, then the select chain runs on those and vectorises.
 * take: v is larger, or v is the first NaN (bitwise & and |: no short
 * circuit, no branch). */
#define MP_BLOCK 64
static void maxpool2x2_c(const float *x, int W, int P, int Q, float *restrict y,
                         int32_t *restrict am)
{
    const int32_t off[4] = {0, 1, W, W + 1};
    float c[4][MP_BLOCK];
    for (int p = 0; p < P; p++) {
        const float *r0 = x + (size_t)(2 * p) * W, *r1 = r0 + W;
        for (int q0 = 0; q0 < Q; q0 += MP_BLOCK) {
            const int nb = Q - q0 < MP_BLOCK ? Q - q0 : MP_BLOCK;
            for (int q = 0; q < nb; q++) {
                c[0][q] = r0[2 * (q0 + q)];
                c[1][q] = r0[2 * (q0 + q) + 1];
                c[2][q] = r1[2 * (q0 + q)];
                c[3][q] = r1[2 * (q0 + q) + 1];
            }
            const int32_t base = 2 * p * W + 2 * q0;
            float *yr = y + (size_t)p * Q + q0;
            int32_t *ar = am + (size_t)p * Q + q0;
#pragma omp simd
            for (int q = 0; q < nb; q++) {
                float best = c[0][q];
                int32_t bi = 0;
                for (int j = 1; j < 4; j++) {
                    float v = c[j][q];
                    int32_t take = (v > best) | ((v != v) & (best == best));
                    best = take ? v : best;
                    bi = take ? off[j] : bi;
                }
                yr[q] = best;
                ar[q] = base + 2 * q + bi;
            }
        }
    }
}

static void relu_c(const float *restrict x, int64_t n, float *restrict y)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

static void relu_grad_c(const float *restrict y, const float *restrict dy, int64_t n,
                        float *restrict dx, int set)
{
    if (set) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float g = dy[i];
            dx[i] = 0.0f + (y[i] > 0 ? g : 0.0f);
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded unconditionally: a select, not a branch */
        dx[i] += y[i] > 0 ? g : 0.0f;
    }
}

static void add_c(const float *restrict a, const float *restrict b, int64_t n, float *restrict y)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* x and y may be the same array (a layer adding its own gradient twice) */
static void acc_c(const float *x, int64_t n, float *y)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

static const ccnn_eltwise_kernels k_scalar = {
    sum_c, sq_dev_c, scale_shift_c, bn_grad_sums_c, bn_grad_dx_c,
    maxpool2x2_c, relu_c, relu_grad_c, add_c, acc_c,
};

const ccnn_eltwise_kernels *ccnn_eltwise_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return &ccnn_eltwise_avx512;
    if (isa == CCNN_ISA_AVX2) return &ccnn_eltwise_avx2;
#endif
#if CCNN_ARM64
    if (isa == CCNN_ISA_NEON) return &ccnn_eltwise_neon;
#endif
    (void)isa;
    return &k_scalar;
}
