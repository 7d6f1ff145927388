/* wino_avx512.c - the Winograd transforms with AVX-512 (contract in
 * wino.h), 16 tiles at a time: the input transform gathers the patches'
 * even and odd columns by permutes, the output transform interleaves the
 * even and odd output columns by permutes. The same additions in the same
 * order as the portable code, so the same bits. */
#include "kernels/wino.h"
#include "core/arch.h"

#if CCNN_X86
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* The first n (0..16) lanes. */
static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* Lane u of the two-row gathers: tile u of the first row (u < nt) comes
 * from the first source vector, tile u - nt of the second from the second:
 * the index of column 2l + odd of that tile. */
TARGET static __m512i gather_index(int nt, int odd)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __mmask16 second = _mm512_cmpge_epi32_mask(iota, _mm512_set1_epi32(nt));
    __m512i idx = _mm512_add_epi32(_mm512_slli_epi32(iota, 1), _mm512_set1_epi32(odd));
    return _mm512_add_epi32(idx, _mm512_maskz_set1_epi32(second, 16 - 2 * nt));
}

TARGET static void input(const float *x, int64_t ldr, int64_t rstep, int nt, int nrows,
                         float *v, int64_t ldv)
{
    /* Columns 2l, 2l+1 (from x) and 2l+2, 2l+3 (from x + 2) of each tile l,
     * gathered even/odd by permutes of two loads each: the two halves of a
     * row's 2*nt + 2 columns, or (two rows) the same columns of both rows. */
    __m512i even, odd;
    __mmask16 k0, k1;
    int64_t second;
    if (nrows == 1) {
        even = gather_index(16, 0);
        odd = gather_index(16, 1);
        k0 = lanes(2 * nt);
        k1 = lanes(2 * nt - 16);
        second = 16;
    } else {
        even = gather_index(nt, 0);
        odd = gather_index(nt, 1);
        k0 = k1 = lanes(2 * nt);
        second = rstep;
    }
    const __mmask16 k = lanes(nt * nrows);
    __m512 h[4][4];
    for (int i = 0; i < 4; i++) {
        const float *r = x + i * ldr;
        const __m512 a0 = _mm512_maskz_loadu_ps(k0, r);
        const __m512 a1 = _mm512_maskz_loadu_ps(k1, r + second);
        const __m512 b0 = _mm512_maskz_loadu_ps(k0, r + 2);
        const __m512 b1 = _mm512_maskz_loadu_ps(k1, r + second + 2);
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

TARGET static void output(const float *m, int64_t ldm, int nt, int nrows, float bias,
                          float *const y[4], int ncols)
{
    const __mmask16 k = lanes(nt * nrows);
    __m512 s[2][4];
    for (int b = 0; b < 4; b++) {
        const __m512 m0 = _mm512_maskz_loadu_ps(k, m + b * ldm);
        const __m512 m1 = _mm512_maskz_loadu_ps(k, m + (4 + b) * ldm);
        const __m512 m2 = _mm512_maskz_loadu_ps(k, m + (8 + b) * ldm);
        const __m512 m3 = _mm512_maskz_loadu_ps(k, m + (12 + b) * ldm);
        s[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    /* output column q of tile row h: tile l = q/2 of it, even or odd; the
     * index into (even, odd) lanes: h*nt + q/2, plus 16 for odd q */
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i base = _mm512_add_epi32(
        _mm512_srli_epi32(iota, 1),
        _mm512_slli_epi32(_mm512_and_si512(iota, _mm512_set1_epi32(1)), 4));
    const __m512 vb = _mm512_set1_ps(bias);
    for (int a = 0; a < 2; a++) {
        const __m512 even = _mm512_add_ps(
            vb, _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]));
        const __m512 odd = _mm512_add_ps(
            vb, _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]));
        if (nrows == 1) { /* up to 32 columns: lanes 0-7 then 8-15 interleaved */
            if (!y[a]) continue;
            const __m512i hi = _mm512_add_epi32(base, _mm512_set1_epi32(8));
            _mm512_mask_storeu_ps(y[a], lanes(ncols), _mm512_permutex2var_ps(even, base, odd));
            _mm512_mask_storeu_ps(y[a] + 16, lanes(ncols - 16),
                                  _mm512_permutex2var_ps(even, hi, odd));
            continue;
        }
        for (int h = 0; h < 2; h++) { /* ncols <= 16 */
            if (!y[2 * h + a]) continue;
            const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(h * nt));
            _mm512_mask_storeu_ps(y[2 * h + a], lanes(ncols), _mm512_permutex2var_ps(even, idx, odd));
        }
    }
}

const ccnn_wino_kernel ccnn_wino_avx512 = {input, output};
#endif
