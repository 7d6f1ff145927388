/* direct_neon.c - the direct convolution's ARM64 NEON tiles (contract in
 * direct.h): 8 filters (two q registers) per tile.
 *   forward: up to 12 output pixels x 8 filters = 24 accumulators; per tap
 *            two weight loads, one load-and-broadcast (ld1r) per pixel,
 *            24 FMAs;
 *   weight gradient: up to 9 taps x 8 filters = 18 accumulators; per
 *            pixel two loads of dy, one ld1r per tap, 18 FMAs.
 * Both leave a few of the 32 registers free, so nothing spills. Each tile
 * width or tap count is its own inlined copy (a constant bound), so the
 * accumulator arrays become registers. Sums in the order of direct.h, one
 * FMA each. */
#include "kernels/direct.h"
#include "core/arch.h"

#if CCNN_ARM64
#include <arm_neon.h>
#include <string.h>

#define KB 8
#define UW 12

/* Rows r < nk (filters) of the 4 x 4 block whose columns are the pixel
 * vectors p[0..3] (4 filters each), np (1..4) pixels wide, at y. */
static inline __attribute__((always_inline)) void
store_block(const float32x4_t p[4], float *y, int64_t ldy, int nk, int np)
{
    const float32x4x2_t t01 = vtrnq_f32(p[0], p[1]), t23 = vtrnq_f32(p[2], p[3]);
    float32x4_t f[4];
    f[0] = vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0]));
    f[1] = vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1]));
    f[2] = vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0]));
    f[3] = vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1]));
    for (int r = 0; r < 4 && r < nk; r++) {
        if (np == 4) {
            vst1q_f32(y + r * ldy, f[r]);
        } else {
            float t[4];
            vst1q_f32(t, f[r]);
            memcpy(y + r * ldy, t, sizeof(float) * (size_t)np);
        }
    }
}

static inline __attribute__((always_inline)) void
fwd_tile(const int npx, int64_t T, const int64_t *off, const float *x, int64_t sw,
         const float *restrict w, const float *bias, float *restrict y, int64_t ldy, int nk)
{
    float32x4_t acc[UW][2];
    const float32x4_t b0 = bias ? vld1q_f32(bias) : vdupq_n_f32(0.0f);
    const float32x4_t b1 = bias ? vld1q_f32(bias + 4) : vdupq_n_f32(0.0f);
#pragma GCC unroll 12
    for (int i = 0; i < npx; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    for (int64_t t = 0; t < T; t++, w += KB) {
        const float32x4_t w0 = vld1q_f32(w), w1 = vld1q_f32(w + 4);
        const float *xt = x + off[t];
#pragma GCC unroll 12
        for (int i = 0; i < npx; i++) {
            const float32x4_t xv = vld1q_dup_f32(xt + i * sw);
            acc[i][0] = vfmaq_f32(acc[i][0], xv, w0);
            acc[i][1] = vfmaq_f32(acc[i][1], xv, w1);
        }
    }
    /* acc holds a vector of filters per pixel; y wants a row of pixels per
     * filter: 4 x 4 blocks transposed in registers. (Loops unrolled: acc
     * indexed by constants only stays in registers through the taps.) */
#pragma GCC unroll 3
    for (int g = 0; g < UW / 4; g++) {
        if (4 * g >= npx) break;
#pragma GCC unroll 2
        for (int v = 0; v < 2; v++) {
            if (4 * v >= nk) break;
            float32x4_t p[4];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                p[j] = 4 * g + j < npx ? acc[4 * g + j][v] : vdupq_n_f32(0.0f);
            const int np = npx - 4 * g < 4 ? npx - 4 * g : 4;
            store_block(p, y + 4 * v * ldy + 4 * g, ldy, nk - 4 * v, np);
        }
    }
}

/* One inlined copy per tile width (and for unit stride, where the loads
 * of x take constant offsets instead of an address add each). */
static inline __attribute__((always_inline)) void
fwd_width(int64_t T, const int64_t *off, const float *x, int64_t sw, const float *w,
          const float *bias, float *y, int64_t ldy, int npx, int nk)
{
    switch (npx) {
    case 12: fwd_tile(12, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 11: fwd_tile(11, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 10: fwd_tile(10, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 9: fwd_tile(9, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 8: fwd_tile(8, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 7: fwd_tile(7, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 6: fwd_tile(6, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 5: fwd_tile(5, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 4: fwd_tile(4, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 3: fwd_tile(3, T, off, x, sw, w, bias, y, ldy, nk); break;
    case 2: fwd_tile(2, T, off, x, sw, w, bias, y, ldy, nk); break;
    default: fwd_tile(1, T, off, x, sw, w, bias, y, ldy, nk); break;
    }
}

static void fwd(int64_t T, const int64_t *off, const float *x, int64_t sw, const float *w,
                const float *bias, float *y, int64_t ldy, int npx, int nk)
{
    if (sw == 1)
        fwd_width(T, off, x, 1, w, bias, y, ldy, npx, nk);
    else
        fwd_width(T, off, x, sw, w, bias, y, ldy, npx, nk);
}

/* The first nk (0..8) floats at p into two vectors, zeros past them. */
static inline __attribute__((always_inline)) void load8(const float *p, int nk, float32x4_t v[2])
{
    if (nk >= KB) {
        v[0] = vld1q_f32(p);
        v[1] = vld1q_f32(p + 4);
    } else {
        float t[KB] = {0};
        memcpy(t, p, sizeof(float) * (size_t)(nk > 0 ? nk : 0));
        v[0] = vld1q_f32(t);
        v[1] = vld1q_f32(t + 4);
    }
}

static inline __attribute__((always_inline)) void store8(float *p, int nk, const float32x4_t v[2])
{
    if (nk >= KB) {
        vst1q_f32(p, v[0]);
        vst1q_f32(p + 4, v[1]);
    } else {
        float t[KB];
        vst1q_f32(t, v[0]);
        vst1q_f32(t + 4, v[1]);
        memcpy(p, t, sizeof(float) * (size_t)nk);
    }
}

static inline __attribute__((always_inline)) void
wgrad_tile(const int nt, const int64_t *off, const float *x, int64_t P, int64_t Q, int64_t xrow,
           int64_t sw, const float *restrict dy, int64_t ldd, float *restrict dw, int64_t ldw,
           int nk, int accumulate)
{
    float32x4_t acc[CCNN_DIRECT_TAPS][2];
    int64_t o[CCNN_DIRECT_TAPS];
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) {
        o[t] = off[t];
        if (accumulate) {
            load8(dw + t * ldw, nk, acc[t]);
        } else {
            acc[t][0] = vdupq_n_f32(0.0f);
            acc[t][1] = vdupq_n_f32(0.0f);
        }
    }
    for (int64_t p = 0; p < P; p++) {
        const float *d = dy + p * Q * ldd, *xq = x + p * xrow;
        for (int64_t q = 0; q < Q; q++, d += ldd, xq += sw) {
            const float32x4_t d0 = vld1q_f32(d), d1 = vld1q_f32(d + 4);
#pragma GCC unroll 9
            for (int t = 0; t < nt; t++) {
                const float32x4_t xv = vld1q_dup_f32(xq + o[t]);
                acc[t][0] = vfmaq_f32(acc[t][0], xv, d0);
                acc[t][1] = vfmaq_f32(acc[t][1], xv, d1);
            }
        }
    }
#pragma GCC unroll 9
    for (int t = 0; t < nt; t++) store8(dw + t * ldw, nk, acc[t]);
}

static void wgrad(int nt, const int64_t *off, const float *x, int64_t P, int64_t Q, int64_t xrow,
                  int64_t sw, const float *dy, int64_t ldd, float *dw, int64_t ldw, int nk,
                  int accumulate)
{
    switch (nt) {
    case 9: wgrad_tile(9, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 8: wgrad_tile(8, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 7: wgrad_tile(7, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 6: wgrad_tile(6, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 5: wgrad_tile(5, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 4: wgrad_tile(4, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 3: wgrad_tile(3, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    case 2: wgrad_tile(2, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    default: wgrad_tile(1, off, x, P, Q, xrow, sw, dy, ldd, dw, ldw, nk, accumulate); break;
    }
}

/* Pays from one full tile of 8 filters: with 64+ taps the forward tile's
 * loop is FMA-bound at about 95 % of peak against the GEMM's 85-90 % after
 * packing (instruction counts, docs/performance.md; not timed: no ARM
 * machine here). */
const ccnn_direct_kernel ccnn_direct_neon = {.kb = KB, .uw = UW, .fwd = fwd, .wgrad = wgrad,
                                             .wt = CCNN_DIRECT_TAPS, .pays_from_k = KB};
#endif
