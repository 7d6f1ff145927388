/* direct.h - register tiles of the direct convolution (src/ops/conv_direct.c),
 * vectorised over filters: one vector holds a run of filters' values for one
 * output pixel (forward) or one tap (weight gradient), and the input is
 * broadcast a value at a time. No im2col, no GEMM, no garbage columns, and
 * each output's whole sum stays in a register from the first tap to the last.
 *
 * Taps. The T = Cg*R*S taps (c, r, s) of a convolution are offsets into one
 * image and group's padded input xp (Cg x Hp x Wp):
 *   off[t] = c*Hp*Wp + r*dh*Wp + s*dw,
 * so output pixel i of a row reads x[off[t] + i*sw], with x at the row's
 * first input (xp + p*sh*Wp + q0*sw).
 *
 * Packed weights: a block of kb filters, tap-major: w[t*kb + k] (zero past
 * the group's last filter). Transposed output gradient: dy[(p*Q + q)*ldd + k],
 * kb readable floats from k = 0 (zero past the last filter).
 *
 * Sums run over taps (forward) or pixels (weight gradient) in order, one FMA
 * each in the vector kernels (a multiply and an add in the portable one), so
 * the bits do not depend on how a caller splits the work among threads. */
#ifndef CCNN_DIRECT_H
#define CCNN_DIRECT_H

#include "ccnn.h"
#include "core/arch.h"
#include <stdint.h>

/* Most taps one weight-gradient tile takes (a 3x3 channel), and the taps
 * per tile a kernel gets unless its wt field says fewer. */
#define CCNN_DIRECT_TAPS 9

/* Forward tile: for i < npx (1..uw) and k < nk (1..kb),
 *   y[k*ldy + i] = b_k + the sum over t < T of x[off[t] + i*sw] * w[t*kb + k]
 * with b_k = bias[k] (bias holds kb floats) or 0 when bias is NULL. */
typedef void (*ccnn_direct_fwd_fn)(int64_t T, const int64_t *off, const float *x, int64_t sw,
                                   const float *w, const float *bias, float *y, int64_t ldy,
                                   int npx, int nk);

/* Weight-gradient tile: for t < nt (1..ccnn_direct_wgrad_taps) and k < nk (1..kb),
 *   dw[t*ldw + k] = (accumulate ? dw[t*ldw + k] : 0)
 *                   + the sum over p < P, q < Q (row by row) of
 *                     x[off[t] + p*xrow + q*sw] * dy[(p*Q + q)*ldd + k]. */
typedef void (*ccnn_direct_wgrad_fn)(int nt, const int64_t *off, const float *x, int64_t P,
                                     int64_t Q, int64_t xrow, int64_t sw, const float *dy,
                                     int64_t ldd, float *dw, int64_t ldw, int nk, int accumulate);

typedef struct ccnn_direct_kernel {
    int kb; /* filters per tile, the packed weights' block */
    int uw; /* most output pixels per forward tile */
    ccnn_direct_fwd_fn fwd;
    ccnn_direct_wgrad_fn wgrad;
    int wt; /* most taps per weight-gradient tile, <= CCNN_DIRECT_TAPS; 0: that many
             * (last, so that a table without it still means 9) */
    /* From how many filters (a group's) these tiles beat the GEMM paths on
     * a convolution of 64 or more taps (conv_fast.c, kvec_pays), as measured
     * or, where the ISA cannot be timed here, estimated from instruction
     * counts (docs/performance.md); 0: never chosen automatically, only
     * when forced (CCNN_IM2COL=none). */
    int pays_from_k;
} ccnn_direct_kernel;

/* The taps a weight-gradient tile of kr takes at most. */
static inline int ccnn_direct_wgrad_taps(const ccnn_direct_kernel *kr)
{
    return kr->wt > 0 && kr->wt < CCNN_DIRECT_TAPS ? kr->wt : CCNN_DIRECT_TAPS;
}

/* The tiles for an ISA level; never NULL (falls back to portable C). */
const ccnn_direct_kernel *ccnn_direct_kernel_for(ccnn_isa isa);

#if CCNN_X86
extern const ccnn_direct_kernel ccnn_direct_avx512;
extern const ccnn_direct_kernel ccnn_direct_avx2;
#endif
#if CCNN_ARM64
extern const ccnn_direct_kernel ccnn_direct_neon;
#endif

#endif
