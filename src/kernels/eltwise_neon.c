/* eltwise_neon.c - the kernels of eltwise.h with 4-float NEON vectors. The
 * 32 summation lanes are eight accumulators (lane l of a[j] is lane
 * 4j + l); a tail shorter than a vector, and the final halving tree, run
 * as the portable code's scalar loops on the same lanes. Multiplies and
 * adds as separate instructions, never FMA: bit for bit eltwise.c. */
#include "kernels/eltwise.h"
#include "core/arch.h"

#if CCNN_ARM64
#include <arm_neon.h>

#define L CCNN_ELT_LANES
#define NV (L / 4)

static float lanes_reduce(float *a)
{
    for (int h = L / 2; h >= 1; h /= 2)
        for (int l = 0; l < h; l++) a[l] += a[l + h];
    return a[0];
}

static inline void spill(const float32x4_t *v, float *a)
{
    for (int j = 0; j < NV; j++) vst1q_f32(a + 4 * j, v[j]);
}

static float sum_neon(const float *x, int64_t n)
{
    float32x4_t v[NV];
    for (int j = 0; j < NV; j++) v[j] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < NV; j++) v[j] = vaddq_f32(v[j], vld1q_f32(x + i + 4 * j));
    float a[L];
    spill(v, a);
    for (int l = 0; i + l < n; l++) a[l] += x[i + l];
    return lanes_reduce(a);
}

static float sq_dev_neon(const float *x, int64_t n, float mean)
{
    const float32x4_t m = vdupq_n_f32(mean);
    float32x4_t v[NV];
    for (int j = 0; j < NV; j++) v[j] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < NV; j++) {
            const float32x4_t d = vsubq_f32(vld1q_f32(x + i + 4 * j), m);
            v[j] = vaddq_f32(v[j], vmulq_f32(d, d));
        }
    float a[L];
    spill(v, a);
    for (int l = 0; i + l < n; l++) {
        float d = x[i + l] - mean;
        a[l] += d * d;
    }
    return lanes_reduce(a);
}

static void scale_shift_neon(const float *restrict x, int64_t n, float scale, float shift,
                             float *restrict y)
{
    const float32x4_t s = vdupq_n_f32(scale), b = vdupq_n_f32(shift);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vmulq_f32(vld1q_f32(x + i), s), b));
    for (; i < n; i++) y[i] = x[i] * scale + shift;
}

static void bn_grad_sums_neon(const float *x, const float *dy, int64_t n, float mean, float *sdy,
                              float *sdyx)
{
    const float32x4_t m = vdupq_n_f32(mean);
    float32x4_t va[NV], vb[NV];
    for (int j = 0; j < NV; j++) va[j] = vb[j] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < NV; j++) {
            const float32x4_t g = vld1q_f32(dy + i + 4 * j);
            va[j] = vaddq_f32(va[j], g);
            vb[j] = vaddq_f32(vb[j], vmulq_f32(g, vsubq_f32(vld1q_f32(x + i + 4 * j), m)));
        }
    float a[L], b[L];
    spill(va, a);
    spill(vb, b);
    for (int l = 0; i + l < n; l++) {
        a[l] += dy[i + l];
        b[l] += dy[i + l] * (x[i + l] - mean);
    }
    *sdy = lanes_reduce(a);
    *sdyx = lanes_reduce(b);
}

static void bn_grad_dx_neon(const float *restrict x, const float *restrict dy, int64_t n,
                            float fa, float fb, float fc, float *restrict dx, int set)
{
    const float32x4_t a = vdupq_n_f32(fa), b = vdupq_n_f32(fb), c = vdupq_n_f32(fc);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t t = vaddq_f32(
            vaddq_f32(vmulq_f32(a, vld1q_f32(dy + i)), vmulq_f32(b, vld1q_f32(x + i))), c);
        vst1q_f32(dx + i, vaddq_f32(set ? vdupq_n_f32(0.0f) : vld1q_f32(dx + i), t));
    }
    for (; i < n; i++) dx[i] = (set ? 0.0f : dx[i]) + ((fa * dy[i] + fb * x[i]) + fc);
}

/* take: v is larger, or v is the first NaN - the portable select chain. */
static void maxpool2x2_neon(const float *x, int W, int P, int Q, float *restrict y,
                            int32_t *restrict am)
{
    const int32_t off[4] = {0, 1, W, W + 1};
    const int32x4_t lane2 = {0, 2, 4, 6};
    for (int p = 0; p < P; p++) {
        const float *r0 = x + (size_t)(2 * p) * W, *r1 = r0 + W;
        const int32_t base = 2 * p * W;
        float *yr = y + (size_t)p * Q;
        int32_t *ar = am + (size_t)p * Q;
        int q = 0;
        for (; q + 4 <= Q; q += 4) {
            const float32x4x2_t t0 = vld2q_f32(r0 + 2 * q), t1 = vld2q_f32(r1 + 2 * q);
            const float32x4_t c[4] = {t0.val[0], t0.val[1], t1.val[0], t1.val[1]};
            float32x4_t best = c[0];
            int32x4_t bi = vdupq_n_s32(0);
            for (int j = 1; j < 4; j++) {
                const float32x4_t v = c[j];
                const uint32x4_t take = vorrq_u32(
                    vcgtq_f32(v, best), vandq_u32(vmvnq_u32(vceqq_f32(v, v)), vceqq_f32(best, best)));
                best = vbslq_f32(take, v, best);
                bi = vbslq_s32(take, vdupq_n_s32(off[j]), bi);
            }
            vst1q_f32(yr + q, best);
            vst1q_s32(ar + q, vaddq_s32(vaddq_s32(vdupq_n_s32(base + 2 * q), lane2), bi));
        }
        for (; q < Q; q++) {
            const float c[4] = {r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]};
            float best = c[0];
            int32_t bi = 0;
            for (int j = 1; j < 4; j++) {
                float v = c[j];
                int32_t take = (v > best) | ((v != v) & (best == best));
                best = take ? v : best;
                bi = take ? off[j] : bi;
            }
            yr[q] = best;
            ar[q] = base + 2 * q + bi;
        }
    }
}

static void relu_neon(const float *restrict x, int64_t n, float *restrict y)
{
    const float32x4_t z = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(y + i, vbslq_f32(vcgtq_f32(v, z), v, z));
    }
    for (; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

static void relu_grad_neon(const float *restrict y, const float *restrict dy, int64_t n,
                           float *restrict dx, int set)
{
    const float32x4_t z = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t g = vbslq_f32(vcgtq_f32(vld1q_f32(y + i), z), vld1q_f32(dy + i), z);
        vst1q_f32(dx + i, vaddq_f32(set ? z : vld1q_f32(dx + i), g));
    }
    for (; i < n; i++) dx[i] = (set ? 0.0f : dx[i]) + (y[i] > 0 ? dy[i] : 0.0f);
}

static void add_neon(const float *restrict a, const float *restrict b, int64_t n,
                     float *restrict y)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* x and y may be the same array: each vector is loaded before it is stored */
static void acc_neon(const float *x, int64_t n, float *y)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vld1q_f32(x + i)));
    for (; i < n; i++) y[i] += x[i];
}

const ccnn_eltwise_kernels ccnn_eltwise_neon = {
    sum_neon, sq_dev_neon, scale_shift_neon, bn_grad_sums_neon, bn_grad_dx_neon,
    maxpool2x2_neon, relu_neon, relu_grad_neon, add_neon, acc_neon,
};
#endif
