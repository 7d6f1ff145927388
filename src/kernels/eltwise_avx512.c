/* eltwise_avx512.c - the kernels of eltwise.h with 16-float vectors and
 * mask registers: tails are masked loads and stores, not scalar loops, which
 * matters for planes as small as 7x7 or 14x14. Only AVX-512F/VL
 * instructions (the level ccnn_isa checks for). Same results as
 * eltwise.c bit for bit (see eltwise.h). */
#include "kernels/eltwise.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512vl")))

/* lanes below r (r may be <= 0 or >= 16) */
T512 static inline __mmask16 tmask(int64_t r)
{
    return r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1);
}

/* The 32 lanes a (0-15) and b (16-31) summed by the tree of eltwise.h. */
T512 static inline float reduce32(__m512 a, __m512 b)
{
    __m512 s16 = _mm512_add_ps(a, b);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s16), 1));
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(s16), hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
}

T512 static float sum_avx512(const float *x, int64_t n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    }
    __mmask16 m0 = tmask(n - i), m1 = tmask(n - i - 16);
    a0 = _mm512_mask_add_ps(a0, m0, a0, _mm512_maskz_loadu_ps(m0, x + i));
    a1 = _mm512_mask_add_ps(a1, m1, a1, _mm512_maskz_loadu_ps(m1, x + i + 16));
    return reduce32(a0, a1);
}

T512 static float sq_dev_avx512(const float *x, int64_t n, float mean)
{
    const __m512 m = _mm512_set1_ps(mean);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m);
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(d0, d0));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(d1, d1));
    }
    __mmask16 m0 = tmask(n - i), m1 = tmask(n - i - 16);
    __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m0, x + i), m);
    __m512 d1 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m1, x + i + 16), m);
    a0 = _mm512_mask_add_ps(a0, m0, a0, _mm512_mul_ps(d0, d0));
    a1 = _mm512_mask_add_ps(a1, m1, a1, _mm512_mul_ps(d1, d1));
    return reduce32(a0, a1);
}

T512 static void scale_shift_avx512(const float *x, int64_t n, float scale, float shift, float *y)
{
    const __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(shift);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), b));
    __mmask16 m = tmask(n - i);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), b));
}

T512 static void bn_grad_sums_avx512(const float *x, const float *dy, int64_t n, float mean,
                                     float *sdy, float *sdyx)
{
    const __m512 m = _mm512_set1_ps(mean);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 g0 = _mm512_loadu_ps(dy + i), g1 = _mm512_loadu_ps(dy + i + 16);
        a0 = _mm512_add_ps(a0, g0);
        a1 = _mm512_add_ps(a1, g1);
        b0 = _mm512_add_ps(b0, _mm512_mul_ps(g0, _mm512_sub_ps(_mm512_loadu_ps(x + i), m)));
        b1 = _mm512_add_ps(b1, _mm512_mul_ps(g1, _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m)));
    }
    __mmask16 m0 = tmask(n - i), m1 = tmask(n - i - 16);
    __m512 g0 = _mm512_maskz_loadu_ps(m0, dy + i), g1 = _mm512_maskz_loadu_ps(m1, dy + i + 16);
    __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m0, x + i), m);
    __m512 d1 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m1, x + i + 16), m);
    a0 = _mm512_mask_add_ps(a0, m0, a0, g0);
    a1 = _mm512_mask_add_ps(a1, m1, a1, g1);
    b0 = _mm512_mask_add_ps(b0, m0, b0, _mm512_mul_ps(g0, d0));
    b1 = _mm512_mask_add_ps(b1, m1, b1, _mm512_mul_ps(g1, d1));
    *sdy = reduce32(a0, a1);
    *sdyx = reduce32(b0, b1);
}

T512 static inline __m512 grad_dx16(__m512 dx, __m512 x, __m512 dy, __m512 fa, __m512 fb,
                                    __m512 fc)
{
    __m512 t = _mm512_add_ps(_mm512_mul_ps(fa, dy), _mm512_mul_ps(fb, x));
    return _mm512_add_ps(dx, _mm512_add_ps(t, fc));
}

T512 static void bn_grad_dx_avx512(const float *x, const float *dy, int64_t n, float fa, float fb,
                                   float fc, float *dx, int set)
{
    const __m512 va = _mm512_set1_ps(fa), vb = _mm512_set1_ps(fb), vc = _mm512_set1_ps(fc);
    const __m512 z = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dx + i, grad_dx16(set ? z : _mm512_loadu_ps(dx + i), _mm512_loadu_ps(x + i),
                                           _mm512_loadu_ps(dy + i), va, vb, vc));
    __mmask16 m = tmask(n - i);
    _mm512_mask_storeu_ps(dx + i, m,
                          grad_dx16(set ? z : _mm512_maskz_loadu_ps(m, dx + i),
                                    _mm512_maskz_loadu_ps(m, x + i),
                                    _mm512_maskz_loadu_ps(m, dy + i), va, vb, vc));
}

/* 16 outputs of one row at a time. The two input rows are loaded as 32
 * columns each and split into even and odd columns with one two-source
 * permute per half; the four candidates are then compared in window order.
 * take = !(v <= best) (true for v > best or v NaN) unless best is already
 * NaN: the scalar rule in two compares. */
T512 static void maxpool2x2_avx512(const float *x, int W, int P, int Q, float *y, int32_t *am)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i w0 = _mm512_set1_epi32(W);
    for (int p = 0; p < P; p++) {
        const float *r0 = x + (size_t)(2 * p) * W, *r1 = r0 + W;
        for (int q = 0; q < Q; q += 16) {
            const __mmask16 mo = tmask(Q - q), ma = tmask(2 * (Q - q)), mb = tmask(2 * (Q - q) - 16);
            __m512 a0 = _mm512_maskz_loadu_ps(ma, r0 + 2 * q), a1 = _mm512_maskz_loadu_ps(mb, r0 + 2 * q + 16);
            __m512 b0 = _mm512_maskz_loadu_ps(ma, r1 + 2 * q), b1 = _mm512_maskz_loadu_ps(mb, r1 + 2 * q + 16);
            __m512 v00 = _mm512_permutex2var_ps(a0, even, a1), v01 = _mm512_permutex2var_ps(a0, odd, a1);
            __m512 v10 = _mm512_permutex2var_ps(b0, even, b1), v11 = _mm512_permutex2var_ps(b0, odd, b1);
            const __m512i i00 = _mm512_add_epi32(_mm512_set1_epi32(2 * p * W + 2 * q), even);
            __m512 best = v00;
            __m512i bi = i00;
            __mmask16 take;
            take = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best, best, _CMP_ORD_Q), v01, best, _CMP_NLE_UQ);
            best = _mm512_mask_mov_ps(best, take, v01);
            bi = _mm512_mask_add_epi32(bi, take, i00, _mm512_set1_epi32(1));
            take = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best, best, _CMP_ORD_Q), v10, best, _CMP_NLE_UQ);
            best = _mm512_mask_mov_ps(best, take, v10);
            bi = _mm512_mask_add_epi32(bi, take, i00, w0);
            take = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best, best, _CMP_ORD_Q), v11, best, _CMP_NLE_UQ);
            best = _mm512_mask_mov_ps(best, take, v11);
            bi = _mm512_mask_add_epi32(bi, take, i00, _mm512_add_epi32(w0, _mm512_set1_epi32(1)));
            _mm512_mask_storeu_ps(y + (size_t)p * Q + q, mo, best);
            _mm512_mask_storeu_epi32(am + (size_t)p * Q + q, mo, bi);
        }
    }
}

/* max(x, 0) returns its second operand (+0) for NaN and for -0: exactly
 * x > 0 ? x : 0. */
T512 static void relu_avx512(const float *x, int64_t n, float *y)
{
    const __m512 z = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_loadu_ps(x + i), z));
        _mm512_storeu_ps(y + i + 16, _mm512_max_ps(_mm512_loadu_ps(x + i + 16), z));
    }
    __mmask16 m0 = tmask(n - i), m1 = tmask(n - i - 16);
    _mm512_mask_storeu_ps(y + i, m0, _mm512_max_ps(_mm512_maskz_loadu_ps(m0, x + i), z));
    _mm512_mask_storeu_ps(y + i + 16, m1, _mm512_max_ps(_mm512_maskz_loadu_ps(m1, x + i + 16), z));
}

/* Unmasked loops with one masked tail: masked loads and stores on every
 * vector measured twice as slow on data in L1. */
T512 static void relu_grad_avx512(const float *y, const float *dy, int64_t n, float *dx, int set)
{
    const __m512 z = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), z, _CMP_GT_OQ);
        __m512 g = _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(dy + i)); /* + 0 where y <= 0, as the C loop */
        _mm512_storeu_ps(dx + i, _mm512_add_ps(set ? z : _mm512_loadu_ps(dx + i), g));
    }
    __mmask16 m = tmask(n - i);
    __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), z, _CMP_GT_OQ);
    __m512 g = _mm512_maskz_loadu_ps(pos, dy + i);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_add_ps(set ? z : _mm512_maskz_loadu_ps(m, dx + i), g));
}

T512 static void add_avx512(const float *a, const float *b, int64_t n, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    __mmask16 m = tmask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i),
                                                  _mm512_maskz_loadu_ps(m, b + i)));
}

T512 static void acc_avx512(const float *x, int64_t n, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(x + i)));
    __mmask16 m = tmask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i),
                                                  _mm512_maskz_loadu_ps(m, x + i)));
}

const ccnn_eltwise_kernels ccnn_eltwise_avx512 = {
    sum_avx512, sq_dev_avx512, scale_shift_avx512, bn_grad_sums_avx512, bn_grad_dx_avx512,
    maxpool2x2_avx512, relu_avx512, relu_grad_avx512, add_avx512,
    acc_avx512,
};
#endif
