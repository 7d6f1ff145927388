/* wino.c - the portable Winograd transforms (contract in wino.h) and the
 * choice by ISA; the AVX-512 and AVX2 ones are in wino_avx512.c
 * and wino_avx2.c. */
#include "kernels/wino.h"
#include "core/arch.h"

void ccnn_wino_input_tile(const float *x, int64_t ldr, int64_t rstep, int nt, int t, float *v, int64_t ldv)
{
    float h[4][4]; /* d B: patch row i, column b */
    for (int i = 0; i < 4; i++) {
        const float *r = x + t / nt * rstep + i * ldr + 2 * (t % nt);
        h[i][0] = r[0] - r[2];
        h[i][1] = r[1] + r[2];
        h[i][2] = r[2] - r[1];
        h[i][3] = r[1] - r[3];
    }
    for (int b = 0; b < 4; b++) { /* then B^T (d B) */
        v[(0 + b) * ldv + t] = h[0][b] - h[2][b];
        v[(4 + b) * ldv + t] = h[1][b] + h[2][b];
        v[(8 + b) * ldv + t] = h[2][b] - h[1][b];
        v[(12 + b) * ldv + t] = h[1][b] - h[3][b];
    }
}

static void input_c(const float *x, int64_t ldr, int64_t rstep, int nt, int nrows, float *v,
                    int64_t ldv)
{
    for (int t = 0; t < nt * nrows; t++) ccnn_wino_input_tile(x, ldr, rstep, nt, t, v, ldv);
}

static void output_c(const float *m, int64_t ldm, int nt, int nrows, float bias,
                     float *const yrows[4], int ncols)
{
    for (int t = 0; t < nt * nrows; t++) {
        float s[2][4]; /* A^T M: rows 0 and 1, column b */
        for (int b = 0; b < 4; b++) {
            const float m0 = m[b * ldm + t], m1 = m[(4 + b) * ldm + t];
            const float m2 = m[(8 + b) * ldm + t], m3 = m[(12 + b) * ldm + t];
            s[0][b] = m0 + m1 + m2;
            s[1][b] = m1 - m2 - m3;
        }
        const int h = t / nt, l = t % nt;
        for (int a = 0; a < 2; a++) { /* then (A^T M) A, plus the bias */
            float *y = yrows[2 * h + a];
            if (!y) continue;
            if (2 * l < ncols) y[2 * l] = bias + (s[a][0] + s[a][1] + s[a][2]);
            if (2 * l + 1 < ncols) y[2 * l + 1] = bias + (s[a][1] - s[a][2] - s[a][3]);
        }
    }
}

static const ccnn_wino_kernel k_portable = {input_c, output_c};

const ccnn_wino_kernel *ccnn_wino_kernel_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return &ccnn_wino_avx512;
    if (isa == CCNN_ISA_AVX2) return &ccnn_wino_avx2;
#endif
#if CCNN_ARM64
    if (isa == CCNN_ISA_NEON) return &ccnn_wino_neon;
#endif
    (void)isa;
    return &k_portable;
}
