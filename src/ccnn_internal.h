/* ccnn_internal.h - declarations shared inside the library, not installed. */
#ifndef CCNN_INTERNAL_H
#define CCNN_INTERNAL_H

#include "ccnn.h"
#include <stdint.h>

/* Convolution parameters after validation: defaults (0 -> 1) resolved, the
 * output size computed, and every element count known to fit in int64 and
 * in memory. All kernels take this instead of the public struct. */
typedef struct ccnn_conv_dims {
    int64_t n, c, h, w, k, r, s, p, q;
    int64_t sh, sw, pt, pb, pl, pr, dh, dw, groups;
    int64_t cg, kg;                    /* channels and filters per group */
    int64_t x_count, w_count, y_count; /* element counts */
} ccnn_conv_dims;

/* Validates p and fills d. Returns 0 or a CCNN_E* code. */
int ccnn_conv_dims_init(const ccnn_conv2d_params *p, ccnn_conv_dims *d);

/* The fast path (src/ops/conv_fast.c); same contract as the public calls,
 * dimensions already validated. */
int ccnn_conv_fast_forward(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d, const float *x,
                           const float *w, const float *bias, float *y);
int ccnn_conv_fast_backward_data(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d,
                                 const float *dy, const float *w, float *dx);
int ccnn_conv_fast_backward_weights(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d,
                                    const float *x, const float *dy, float *dw, float *dbias);

/* How the fast path builds im2col, or whether it does (the tests force each;
 * see conv_fast.c): ROWS, the general row-by-row im2col; WIDE, the wide
 * layout at stride 1 (forward through the GEMM); DIRECT, the wide layout
 * with the forward pass tile by tile into y (when Cg*R*S fits one K block);
 * NONE, no im2col: the direct convolution vectorised over filters
 * (conv_direct.c) for forward, weight gradient and, at stride 1, backward
 * data; WINOGRAD, the forward pass (and so stride-1 backward data) of
 * 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) (conv_winograd.c),
 * the weight gradient as AUTO. AUTO, the default, picks by depth and ISA:
 * DIRECT's forward and ROWS' weight gradient below Cg*R*S = 64; from
 * there WINOGRAD where it applies with 16 or more channels and filters a
 * group, NONE from as many filters per group as the ISA's direct tiles
 * say they pay (kernels/direct.h, pays_from_k), else WIDE at
 * stride 1 and ROWS otherwise. CCNN_IM2COL=rows|wide|direct|none|winograd|
 * auto in the environment sets it at start-up. */
typedef enum {
    CCNN_IM2COL_AUTO = 0, CCNN_IM2COL_ROWS = 1, CCNN_IM2COL_WIDE = 2, CCNN_IM2COL_DIRECT = 3,
    CCNN_IM2COL_NONE = 4, CCNN_IM2COL_WINOGRAD = 5
} ccnn_im2col_mode;
void ccnn_conv_fast_set_im2col(ccnn_im2col_mode m);
ccnn_im2col_mode ccnn_conv_fast_get_im2col(void);

/* The environment's settings, read once (core/settings.c): isa is a
 * ccnn_isa or -1 (unset), conv a ccnn_conv_impl, im2col a ccnn_im2col_mode,
 * threads > 0 or 0 (unset). */
typedef struct ccnn_env_settings { int isa, conv, im2col, threads; } ccnn_env_settings;
const ccnn_env_settings *ccnn_env(void);

/* Formats a message into err (which may be NULL; errlen is its size) and
 * returns code: `return ccnn_errf(err, errlen, CCNN_EINVAL, "...", ...);`. */
int ccnn_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ccnn_net_parse for a model file: refuses (CCNN_EFORMAT) a network whose
 * tensors would take more than max_tensor_bytes, the tensor data the file
 * holds, before allocating them. UINT64_MAX: no such bound. */
int ccnn_net_parse_bounded(const char *text, const char *filename, uint64_t max_tensor_bytes, ccnn_net **out,
                           char *err, size_t errlen);

/* Thread count for OpenMP regions (>= 1). */
int ccnn_threads(void);

/* ccnn_augment for images [first, first + count) of a step's batch: image i
 * of x draws as image first + i (src/data/augment.c). */
int ccnn_augment_at(float *x, int count, int c, int h, int w, int pad, int flip,
                    uint64_t seed, uint64_t step, int first);

#endif
