/* wino_avx512.c - the Winograd transforms with AVX-512 (contract in
 * wino.h), 16 tiles of a tile row at a time: the input transform gathers
 * the patches' even and odd columns by permutes, the output transform
 * interleaves the even and odd output columns by permutes. The same additions in
 * the same order as the portable code, so the same bits. */
#include "kernels/wino.h"

#ifdef __x86_64__
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* The first n (0..16) lanes. */
static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

TARGET static void input(const float *x, int64_t ldr, int nt, float *v, int64_t ldv)
{
    /* Columns 2t, 2t+1 (from x) and 2t+2, 2t+3 (from x + 2) of the run's
     * 2*nt + 2 columns, gathered even/odd by permutes of two loads each. */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                          29, 31);
    const int cols = 2 * nt; /* from x and from x + 2 */
    const __mmask16 k0 = lanes(cols), k1 = lanes(cols - 16), k = lanes(nt);
    __m512 h[4][4];
    for (int i = 0; i < 4; i++) {
        const float *r = x + i * ldr;
        const __m512 a0 = _mm512_maskz_loadu_ps(k0, r), a1 = _mm512_maskz_loadu_ps(k1, r + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(k0, r + 2);
        const __m512 b1 = _mm512_maskz_loadu_ps(k1, r + 18);
        const __m512 e0 = _mm512_permutex2var_ps(a0, even, a1);
        const __m512 e1 = _mm512_permutex2var_ps(a0, odd, a1);
        const __m512 e2 = _mm512_permutex2var_ps(b0, even, b1);
        const __m512 e3 = _mm512_permutex2var_ps(b0, odd, b1);
        h[i][0] = _mm512_sub_ps(e0, e2);
        h[i][1] = _mm512_add_ps(e1, e2);
        h[i][2] = _mm512_sub_ps(e2, e1);
        h[i][3] = _mm512_sub_ps(e1, e3);
    }
    for (int b = 0; b < 4; b++) {
        _mm512_mask_storeu_ps(v + (0 + b) * ldv, k, _mm512_sub_ps(h[0][b], h[2][b]));
        _mm512_mask_storeu_ps(v + (4 + b) * ldv, k, _mm512_add_ps(h[1][b], h[2][b]));
        _mm512_mask_storeu_ps(v + (8 + b) * ldv, k, _mm512_sub_ps(h[2][b], h[1][b]));
        _mm512_mask_storeu_ps(v + (12 + b) * ldv, k, _mm512_sub_ps(h[1][b], h[3][b]));
    }
}

TARGET static void output(const float *m, int64_t ldm, int nt, float bias, float *y0, float *y1,
                          int ncols)
{
    const __mmask16 k = lanes(nt);
    __m512 s[2][4];
    for (int b = 0; b < 4; b++) {
        const __m512 m0 = _mm512_maskz_loadu_ps(k, m + b * ldm);
        const __m512 m1 = _mm512_maskz_loadu_ps(k, m + (4 + b) * ldm);
        const __m512 m2 = _mm512_maskz_loadu_ps(k, m + (8 + b) * ldm);
        const __m512 m3 = _mm512_maskz_loadu_ps(k, m + (12 + b) * ldm);
        s[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    /* output columns 2t (even) and 2t+1 (odd) of tile t, interleaved */
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                         15, 31);
    const __m512 vb = _mm512_set1_ps(bias);
    for (int a = 0; a < 2; a++) {
        float *y = a ? y1 : y0;
        if (!y) continue;
        const __m512 even = _mm512_add_ps(
            vb, _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]));
        const __m512 odd = _mm512_add_ps(
            vb, _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]));
        _mm512_mask_storeu_ps(y, lanes(ncols), _mm512_permutex2var_ps(even, lo, odd));
        _mm512_mask_storeu_ps(y + 16, lanes(ncols - 16), _mm512_permutex2var_ps(even, hi, odd));
    }
}

const ccnn_wino_kernel ccnn_wino_avx512 = {input, output};
#endif
