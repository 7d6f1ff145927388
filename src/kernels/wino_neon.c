/* wino_neon.c - Winograd's F(2x2, 3x3) transforms with NEON (contract in
 * wino.h): four tiles of a tile row a vector. vld2 splits a patch row into
 * its even and odd columns, which for tiles l..l+3 (columns 2l + j) are
 * exactly the j = 0/1 values (and, 2 floats on, the j = 2/3 values); the
 * output's two columns are interleaved back by vst2. The operations and
 * their order are those of wino.c, so the bits are the same; the tiles
 * left over in a row go through the same formulas one at a time. */
#include "kernels/wino.h"
#include "core/arch.h"

#if CCNN_ARM64
#include <arm_neon.h>

static void input(const float *x, int64_t ldr, int64_t rstep, int nt, int nrows, float *v,
                  int64_t ldv)
{
    for (int row = 0; row < nrows; row++) {
        int l = 0;
        for (; l + 4 <= nt; l += 4) {
            const int t = row * nt + l;
            float32x4_t h[4][4];
            for (int i = 0; i < 4; i++) {
                const float *r = x + row * rstep + i * ldr + 2 * l;
                const float32x4x2_t c01 = vld2q_f32(r), c23 = vld2q_f32(r + 2);
                const float32x4_t c0 = c01.val[0], c1 = c01.val[1];
                const float32x4_t c2 = c23.val[0], c3 = c23.val[1];
                h[i][0] = vsubq_f32(c0, c2);
                h[i][1] = vaddq_f32(c1, c2);
                h[i][2] = vsubq_f32(c2, c1);
                h[i][3] = vsubq_f32(c1, c3);
            }
            for (int b = 0; b < 4; b++) {
                vst1q_f32(v + (0 + b) * ldv + t, vsubq_f32(h[0][b], h[2][b]));
                vst1q_f32(v + (4 + b) * ldv + t, vaddq_f32(h[1][b], h[2][b]));
                vst1q_f32(v + (8 + b) * ldv + t, vsubq_f32(h[2][b], h[1][b]));
                vst1q_f32(v + (12 + b) * ldv + t, vsubq_f32(h[1][b], h[3][b]));
            }
        }
        for (; l < nt; l++) ccnn_wino_input_tile(x, ldr, rstep, nt, row * nt + l, v, ldv);
    }
}

static void output(const float *m, int64_t ldm, int nt, int nrows, float bias,
                   float *const yrows[4], int ncols)
{
    const float32x4_t vb = vdupq_n_f32(bias);
    for (int row = 0; row < nrows; row++)
        for (int l = 0; l < nt; l += 4) {
            const int t = row * nt + l, n = nt - l < 4 ? nt - l : 4;
            float32x4_t s[2][4];
            if (n == 4) {
                for (int b = 0; b < 4; b++) {
                    const float32x4_t m0 = vld1q_f32(m + b * ldm + t);
                    const float32x4_t m1 = vld1q_f32(m + (4 + b) * ldm + t);
                    const float32x4_t m2 = vld1q_f32(m + (8 + b) * ldm + t);
                    const float32x4_t m3 = vld1q_f32(m + (12 + b) * ldm + t);
                    s[0][b] = vaddq_f32(vaddq_f32(m0, m1), m2);
                    s[1][b] = vsubq_f32(vsubq_f32(m1, m2), m3);
                }
            } else { /* the row's last tiles: lanes past n are zeros, never stored */
                for (int b = 0; b < 4; b++) {
                    float a[4][4] = {{0}};
                    for (int k = 0; k < 4; k++)
                        for (int u = 0; u < n; u++) a[k][u] = m[(4 * k + b) * ldm + t + u];
                    const float32x4_t m0 = vld1q_f32(a[0]), m1 = vld1q_f32(a[1]);
                    const float32x4_t m2 = vld1q_f32(a[2]), m3 = vld1q_f32(a[3]);
                    s[0][b] = vaddq_f32(vaddq_f32(m0, m1), m2);
                    s[1][b] = vsubq_f32(vsubq_f32(m1, m2), m3);
                }
            }
            for (int a = 0; a < 2; a++) {
                float *y = yrows[2 * row + a];
                if (!y) continue;
                float32x4x2_t o;
                o.val[0] = vaddq_f32(vb, vaddq_f32(vaddq_f32(s[a][0], s[a][1]), s[a][2]));
                o.val[1] = vaddq_f32(vb, vsubq_f32(vsubq_f32(s[a][1], s[a][2]), s[a][3]));
                if (n == 4 && 2 * l + 8 <= ncols) {
                    vst2q_f32(y + 2 * l, o);
                } else {
                    float e[2][4];
                    vst1q_f32(e[0], o.val[0]);
                    vst1q_f32(e[1], o.val[1]);
                    for (int u = 0; u < n; u++) {
                        if (2 * (l + u) < ncols) y[2 * (l + u)] = e[0][u];
                        if (2 * (l + u) + 1 < ncols) y[2 * (l + u) + 1] = e[1][u];
                    }
                }
            }
        }
}

const ccnn_wino_kernel ccnn_wino_neon = {input, output};
#endif
