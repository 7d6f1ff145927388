/* wino.h - the transforms of Winograd's F(2x2, 3x3) (src/ops/conv_winograd.c),
 * with run-time ISA dispatch. They only add and subtract, in a fixed order,
 * so every ISA gives the same bits.
 *
 * Input: one 4x4 patch of a padded image stored channels-last (xt: element
 * (i, j) of the patch, channel c, at xt[(i*ldr + j)*cg + c]) to the 16
 * values of B^T d B per channel: v[xi*ldv + c], xi = 4a + b.
 * Output: A^T M A for a run of nt (<= 16) tiles of one tile row and one
 * filter (M value xi of tile t at m[xi*ldm + t]), plus bias: the two output
 * rows y0[q] and y1[q] for q < ncols (<= 2*nt), y1 NULL when the second row
 * lies past the image. */
#ifndef CCNN_WINO_H
#define CCNN_WINO_H

#include "ccnn.h"
#include <stdint.h>

#define CCNN_WINO_RUN 16 /* most tiles of one output-transform call */

typedef void (*ccnn_wino_input_fn)(const float *xt, int64_t ldr, int64_t cg, float *v,
                                   int64_t ldv);
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
