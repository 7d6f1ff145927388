/* wino_avx2.c - the Winograd transforms with AVX2 (contract in wino.h),
 * 8 tiles of one tile row at a time (a two-row run is done row by row):
 * the input transform gathers the patches' even and odd columns from two
 * loads by a shuffle and a 64-bit permute, the output transform interleaves
 * the even and odd output columns by unpacks and a 128-bit permute. The
 * same additions in the same order as the portable code, so the same bits. */
#include "kernels/wino.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx2")))

/* Lanes j < n (any n): sign bits set, for maskload/maskstore, which touch
 * no memory in the lanes they leave out. */
TARGET static inline __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Elements 0, 2, .., 14 (sel 0x88) or 1, 3, .., 15 (0xDD) of the 16 in a0, a1. */
#define EVEN_ODD(a0, a1, sel)                                                             \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a0, a1, sel)), \
                                           0xD8))

/* Up to 8 tiles (cnt) of one tile row, patches from x (columns 2l .. 2l+3
 * of tile l), into lanes of v. */
TARGET static void input8(const float *x, int64_t ldr, int cnt, float *v, int64_t ldv)
{
    /* columns 0 .. 2cnt-1 from x and from x + 2 */
    const __m256i k0 = lanes(2 * cnt), k1 = lanes(2 * cnt - 8), k = lanes(cnt);
    __m256 h[4][4];
    for (int i = 0; i < 4; i++) {
        const float *r = x + i * ldr;
        const __m256 a0 = _mm256_maskload_ps(r, k0), a1 = _mm256_maskload_ps(r + 8, k1);
        const __m256 b0 = _mm256_maskload_ps(r + 2, k0), b1 = _mm256_maskload_ps(r + 10, k1);
        const __m256 e0 = EVEN_ODD(a0, a1, 0x88), e1 = EVEN_ODD(a0, a1, 0xDD);
        const __m256 e2 = EVEN_ODD(b0, b1, 0x88), e3 = EVEN_ODD(b0, b1, 0xDD);
        h[i][0] = _mm256_sub_ps(e0, e2);
        h[i][1] = _mm256_add_ps(e1, e2);
        h[i][2] = _mm256_sub_ps(e2, e1);
        h[i][3] = _mm256_sub_ps(e1, e3);
    }
    for (int b = 0; b < 4; b++) {
        _mm256_maskstore_ps(v + (0 + b) * ldv, k, _mm256_sub_ps(h[0][b], h[2][b]));
        _mm256_maskstore_ps(v + (4 + b) * ldv, k, _mm256_add_ps(h[1][b], h[2][b]));
        _mm256_maskstore_ps(v + (8 + b) * ldv, k, _mm256_sub_ps(h[2][b], h[1][b]));
        _mm256_maskstore_ps(v + (12 + b) * ldv, k, _mm256_sub_ps(h[1][b], h[3][b]));
    }
}

TARGET static void input(const float *x, int64_t ldr, int64_t rstep, int nt, int nrows,
                         float *v, int64_t ldv)
{
    for (int h = 0; h < nrows; h++)
        for (int l0 = 0; l0 < nt; l0 += 8)
            input8(x + h * rstep + 2 * l0, ldr, nt - l0 < 8 ? nt - l0 : 8, v + h * nt + l0, ldv);
}

/* Up to 8 tiles (cnt) of one tile row from lanes of m into output rows y0,
 * y1 (either NULL: skipped), columns 0 .. ncols-1 (of 2*cnt). */
TARGET static void output8(const float *m, int64_t ldm, int cnt, float bias, float *y0,
                           float *y1, int ncols)
{
    const __m256i k = lanes(cnt);
    __m256 s[2][4];
    for (int b = 0; b < 4; b++) {
        const __m256 m0 = _mm256_maskload_ps(m + b * ldm, k);
        const __m256 m1 = _mm256_maskload_ps(m + (4 + b) * ldm, k);
        const __m256 m2 = _mm256_maskload_ps(m + (8 + b) * ldm, k);
        const __m256 m3 = _mm256_maskload_ps(m + (12 + b) * ldm, k);
        s[0][b] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s[1][b] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    const __m256 vb = _mm256_set1_ps(bias);
    const __m256i c0 = lanes(ncols), c1 = lanes(ncols - 8);
    for (int a = 0; a < 2; a++) {
        float *y = a ? y1 : y0;
        if (!y) continue;
        const __m256 even = _mm256_add_ps(
            vb, _mm256_add_ps(_mm256_add_ps(s[a][0], s[a][1]), s[a][2]));
        const __m256 odd = _mm256_add_ps(
            vb, _mm256_sub_ps(_mm256_sub_ps(s[a][1], s[a][2]), s[a][3]));
        const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
        _mm256_maskstore_ps(y, c0, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_maskstore_ps(y + 8, c1, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

TARGET static void output(const float *m, int64_t ldm, int nt, int nrows, float bias,
                          float *const y[4], int ncols)
{
    for (int h = 0; h < nrows; h++)
        for (int l0 = 0; l0 < nt; l0 += 8)
            output8(m + h * nt + l0, ldm, nt - l0 < 8 ? nt - l0 : 8, bias,
                    y[2 * h] ? y[2 * h] + 2 * l0 : NULL, y[2 * h + 1] ? y[2 * h + 1] + 2 * l0 : NULL,
                    ncols - 2 * l0);
}

const ccnn_wino_kernel ccnn_wino_avx2 = {input, output};
#endif
