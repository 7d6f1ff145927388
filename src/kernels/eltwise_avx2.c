/* eltwise_avx2.c - the kernels of eltwise.h with 8-float vectors. The 32
 * summation lanes are four accumulators; tails use maskload/maskstore
 * (which never touch memory outside the mask), so small planes stay
 * vectorised. Same results as eltwise.c bit for bit (see eltwise.h). */
#include "kernels/eltwise.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define T256 __attribute__((target("avx2")))

/* sign bit set in lanes below r (r may be <= 0 or >= 8) */
T256 static inline __m256i tmask(int64_t r)
{
    int32_t c = r < 0 ? 0 : r > 8 ? 8 : (int32_t)r;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The 32 lanes in a[0] (0-7) .. a[3] (24-31) summed by the tree of eltwise.h. */
T256 static inline float reduce32(const __m256 *a)
{
    __m256 s8 = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

/* The tails below load zeros into the lanes past n and add them: exact,
 * since an accumulator that starts at +0 never holds -0. */
T256 static float sum_avx2(const float *x, int64_t n)
{
    __m256 a[4];
    for (int j = 0; j < 4; j++) a[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) a[j] = _mm256_add_ps(a[j], _mm256_loadu_ps(x + i + 8 * j));
    for (int j = 0; j < 4; j++)
        a[j] = _mm256_add_ps(a[j], _mm256_maskload_ps(x + i + 8 * j, tmask(n - i - 8 * j)));
    return reduce32(a);
}

T256 static float sq_dev_avx2(const float *x, int64_t n, float mean)
{
    const __m256 m = _mm256_set1_ps(mean);
    __m256 a[4];
    for (int j = 0; j < 4; j++) a[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * j), m);
            a[j] = _mm256_add_ps(a[j], _mm256_mul_ps(d, d));
        }
    for (int j = 0; j < 4; j++) {
        __m256i k = tmask(n - i - 8 * j);
        __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i + 8 * j, k), m),
                                 _mm256_castsi256_ps(k));
        a[j] = _mm256_add_ps(a[j], _mm256_mul_ps(d, d));
    }
    return reduce32(a);
}

T256 static void scale_shift_avx2(const float *x, int64_t n, float scale, float shift, float *y)
{
    const __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), b));
    __m256i k = tmask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_add_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, k), s), b));
}

T256 static void bn_grad_sums_avx2(const float *x, const float *dy, int64_t n, float mean,
                                   float *sdy, float *sdyx)
{
    const __m256 m = _mm256_set1_ps(mean);
    __m256 a[4], b[4];
    for (int j = 0; j < 4; j++) a[j] = b[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) {
            __m256 g = _mm256_loadu_ps(dy + i + 8 * j);
            a[j] = _mm256_add_ps(a[j], g);
            b[j] = _mm256_add_ps(b[j], _mm256_mul_ps(g, _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * j), m)));
        }
    for (int j = 0; j < 4; j++) {
        __m256i k = tmask(n - i - 8 * j);
        __m256 g = _mm256_maskload_ps(dy + i + 8 * j, k);
        __m256 gd = _mm256_mul_ps(g, _mm256_sub_ps(_mm256_maskload_ps(x + i + 8 * j, k), m));
        a[j] = _mm256_add_ps(a[j], g);
        /* masked: 0 * (0 - mean) would be NaN for an infinite mean */
        b[j] = _mm256_add_ps(b[j], _mm256_and_ps(gd, _mm256_castsi256_ps(k)));
    }
    *sdy = reduce32(a);
    *sdyx = reduce32(b);
}

T256 static void bn_grad_dx_avx2(const float *x, const float *dy, int64_t n, float fa, float fb,
                                 float fc, float *dx, int set)
{
    const __m256 va = _mm256_set1_ps(fa), vb = _mm256_set1_ps(fb), vc = _mm256_set1_ps(fc);
    const __m256 z = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 t = _mm256_add_ps(_mm256_mul_ps(va, _mm256_loadu_ps(dy + i)),
                                 _mm256_mul_ps(vb, _mm256_loadu_ps(x + i)));
        __m256 old = set ? z : _mm256_loadu_ps(dx + i);
        _mm256_storeu_ps(dx + i, _mm256_add_ps(old, _mm256_add_ps(t, vc)));
    }
    __m256i k = tmask(n - i);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(va, _mm256_maskload_ps(dy + i, k)),
                             _mm256_mul_ps(vb, _mm256_maskload_ps(x + i, k)));
    __m256 old = set ? z : _mm256_maskload_ps(dx + i, k);
    _mm256_maskstore_ps(dx + i, k, _mm256_add_ps(old, _mm256_add_ps(t, vc)));
}

/* take = !(v <= best) (v larger, or v NaN) unless best is already NaN */
T256 static inline __m256 take_mask(__m256 v, __m256 best)
{
    return _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
}

/* 8 outputs of one row at a time. shuffle_ps splits 16 input columns into
 * even and odd ones within each 128-bit half, leaving the outputs in the
 * order 0 1 4 5 2 3 6 7; the comparisons do not care, and one 64-bit
 * permute per result restores the order before the store. */
T256 static void maxpool2x2_avx2(const float *x, int W, int P, int Q, float *y, int32_t *am)
{
    const __m256i col = _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14); /* even column, shuffled order */
    const __m256i one = _mm256_set1_epi32(1), w0 = _mm256_set1_epi32(W), w1 = _mm256_set1_epi32(W + 1);
    for (int p = 0; p < P; p++) {
        const float *r0 = x + (size_t)(2 * p) * W, *r1 = r0 + W;
        for (int q = 0; q < Q; q += 8) {
            __m256 a0, a1, b0, b1;
            if (q + 8 <= Q) {
                a0 = _mm256_loadu_ps(r0 + 2 * q), a1 = _mm256_loadu_ps(r0 + 2 * q + 8);
                b0 = _mm256_loadu_ps(r1 + 2 * q), b1 = _mm256_loadu_ps(r1 + 2 * q + 8);
            } else {
                __m256i ka = tmask(2 * (Q - q)), kb = tmask(2 * (Q - q) - 8);
                a0 = _mm256_maskload_ps(r0 + 2 * q, ka), a1 = _mm256_maskload_ps(r0 + 2 * q + 8, kb);
                b0 = _mm256_maskload_ps(r1 + 2 * q, ka), b1 = _mm256_maskload_ps(r1 + 2 * q + 8, kb);
            }
            __m256 v01 = _mm256_shuffle_ps(a0, a1, 0xDD), v10 = _mm256_shuffle_ps(b0, b1, 0x88);
            __m256 v11 = _mm256_shuffle_ps(b0, b1, 0xDD), best = _mm256_shuffle_ps(a0, a1, 0x88);
            const __m256i i00 = _mm256_add_epi32(_mm256_set1_epi32(2 * p * W + 2 * q), col);
            __m256i bi = i00;
            __m256 t;
            t = take_mask(v01, best);
            best = _mm256_blendv_ps(best, v01, t);
            bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi),
                                                      _mm256_castsi256_ps(_mm256_add_epi32(i00, one)), t));
            t = take_mask(v10, best);
            best = _mm256_blendv_ps(best, v10, t);
            bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi),
                                                      _mm256_castsi256_ps(_mm256_add_epi32(i00, w0)), t));
            t = take_mask(v11, best);
            best = _mm256_blendv_ps(best, v11, t);
            bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi),
                                                      _mm256_castsi256_ps(_mm256_add_epi32(i00, w1)), t));
            best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), 0xD8));
            bi = _mm256_permute4x64_epi64(bi, 0xD8);
            if (q + 8 <= Q) {
                _mm256_storeu_ps(y + (size_t)p * Q + q, best);
                _mm256_storeu_si256((__m256i *)(am + (size_t)p * Q + q), bi);
            } else {
                __m256i ko = tmask(Q - q);
                _mm256_maskstore_ps(y + (size_t)p * Q + q, ko, best);
                _mm256_maskstore_epi32(am + (size_t)p * Q + q, ko, bi);
            }
        }
    }
}

/* max(x, 0) returns its second operand (+0) for NaN and for -0: exactly
 * x > 0 ? x : 0. */
T256 static void relu_avx2(const float *x, int64_t n, float *y)
{
    const __m256 z = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), z));
    __m256i k = tmask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_max_ps(_mm256_maskload_ps(x + i, k), z));
}

T256 static void relu_grad_avx2(const float *y, const float *dy, int64_t n, float *dx, int set)
{
    const __m256 z = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(y + i), z, _CMP_GT_OQ),
                                 _mm256_loadu_ps(dy + i)); /* + 0 where y <= 0, as the C loop */
        _mm256_storeu_ps(dx + i, _mm256_add_ps(set ? z : _mm256_loadu_ps(dx + i), g));
    }
    __m256i k = tmask(n - i);
    __m256 g = _mm256_and_ps(_mm256_cmp_ps(_mm256_maskload_ps(y + i, k), z, _CMP_GT_OQ),
                             _mm256_maskload_ps(dy + i, k));
    _mm256_maskstore_ps(dx + i, k, _mm256_add_ps(set ? z : _mm256_maskload_ps(dx + i, k), g));
}

T256 static void add_avx2(const float *a, const float *b, int64_t n, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    __m256i k = tmask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_add_ps(_mm256_maskload_ps(a + i, k), _mm256_maskload_ps(b + i, k)));
}

T256 static void acc_avx2(const float *x, int64_t n, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    __m256i k = tmask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_add_ps(_mm256_maskload_ps(y + i, k), _mm256_maskload_ps(x + i, k)));
}

const ccnn_eltwise_kernels ccnn_eltwise_avx2 = {
    sum_avx2, sq_dev_avx2, scale_shift_avx2, bn_grad_sums_avx2, bn_grad_dx_avx2,
    maxpool2x2_avx2, relu_avx2, relu_grad_avx2, add_avx2, acc_avx2,
};
#endif
