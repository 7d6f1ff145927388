/* wino.h - the transforms of Winograd's F(2x2, 3x3) (src/ops/conv_winograd.c),
 * with run-time ISA dispatch. They only add and subtract, in a fixed order,
 * so every ISA gives the same bits.
 *
 * A run: nrows (1 or 2) tile rows of nt tiles each, nt*nrows <= 16; tile l
 * of row h is tile u = h*nt + l of the run. (Two rows fill the vectors of a
 * narrow image: at 14x14 a tile row has 7 tiles.)
 * Input: for a run in one channel of a padded image, the 16 values of
 * B^T d B per tile: v[xi*ldv + u], xi = 4a + b, where the patch of tile l of
 * row h is x[h*rstep + i*ldr + 2l + j], i, j < 4 (x at the run's first
 * patch; nothing past x[(nrows-1)*rstep + 3*ldr + 2*nt + 1] is read).
 * Output: A^T M A for a run and one filter (M value xi of tile u at
 * m[xi*ldm + u]), plus bias: output rows y[2h] and y[2h+1] of tile row h,
 * y[.][q] for q < ncols (<= 2*nt); a NULL row (past the image) is skipped. */
#ifndef CCNN_WINO_H
#define CCNN_WINO_H

#include "ccnn.h"
#include "core/arch.h"
#include <stdint.h>

#define CCNN_WINO_RUN 16 /* most tiles of one transform call (one vector) */

typedef void (*ccnn_wino_input_fn)(const float *x, int64_t ldr, int64_t rstep, int nt,
                                   int nrows, float *v, int64_t ldv);
typedef void (*ccnn_wino_output_fn)(const float *m, int64_t ldm, int nt, int nrows, float bias,
                                    float *const y[4], int ncols);

typedef struct ccnn_wino_kernel {
    ccnn_wino_input_fn input;
    ccnn_wino_output_fn output;
} ccnn_wino_kernel;

/* The transforms for an ISA level; never NULL (falls back to portable C). */
const ccnn_wino_kernel *ccnn_wino_kernel_for(ccnn_isa isa);
/* The portable input transform of one tile t (row t / nt, column t % nt):
 * the loop of the portable kernel, and the tails of vector kernels that
 * have no masked loads (NEON). */
void ccnn_wino_input_tile(const float *x, int64_t ldr, int64_t rstep, int nt, int t, float *v, int64_t ldv);

#if CCNN_X86
extern const ccnn_wino_kernel ccnn_wino_avx512;
extern const ccnn_wino_kernel ccnn_wino_avx2;
#endif
#if CCNN_ARM64
extern const ccnn_wino_kernel ccnn_wino_neon;
#endif

#endif
