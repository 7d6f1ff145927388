/* wino.h - the transforms of Winograd's F(2x2, 3x3) (src/ops/conv_winograd.c),
 * with run-time ISA dispatch. They only add and subtract, in a fixed order,
 * so every ISA gives the same bits.
 *
 * Input: for a run of nt (<= 16) tiles of one tile row of one channel of a
 * padded image, the 16 values of B^T d B per tile: v[xi*ldv + t], xi =
 * 4a + b, where the patch of tile t is x[i*ldr + 2t + j], i, j < 4 (x at
 * the first tile's patch; nothing past x[3*ldr + 2*nt + 1] is read).
 * Output: A^T M A for a run of nt (<= 16) tiles of one tile row and one
 * filter (M value xi of tile t at m[xi*ldm + t]), plus bias: the two output
 * rows y0[q] and y1[q] for q < ncols (<= 2*nt), y1 NULL when the second row
 * lies past the image. */
#ifndef CCNN_WINO_H
#define CCNN_WINO_H

#include "ccnn.h"
#include <stdint.h>

#define CCNN_WINO_RUN 16 /* most tiles of one output-transform call */

typedef void (*ccnn_wino_input_fn)(const float *x, int64_t ldr, int nt, float *v, int64_t ldv);
typedef void (*ccnn_wino_output_fn)(const float *m, int64_t ldm, int nt, float bias, float *y0,
                                    float *y1, int ncols);

typedef struct ccnn_wino_kernel {
    ccnn_wino_input_fn input;
    ccnn_wino_output_fn output;
} ccnn_wino_kernel;

/* The transforms for an ISA level; never NULL (falls back to portable C). */
const ccnn_wino_kernel *ccnn_wino_kernel_for(ccnn_isa isa);

#ifdef __x86_64__
extern const ccnn_wino_kernel ccnn_wino_avx512;
#endif

#endif
