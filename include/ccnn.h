/*
 * ccnn.h - the one public header of ccnn, a C library for convolutional
 * neural networks.
 *
 * Conventions
 *   - Tensors are float32, contiguous, NCHW. Convolution weights are
 *     K x (C/groups) x R x S (PyTorch's layout); a bias has K entries.
 *   - Every function that can fail returns 0 on success or a negative
 *     CCNN_E* code; ccnn_strerror() turns a code into a message.
 *     On error nothing is written to any output.
 *   - Ownership: the caller allocates and frees every buffer passed in.
 *     Objects created by a ccnn_*_create/_load function are owned by the
 *     caller and freed with the matching ccnn_*_free function.
 *   - The library never calls exit() or abort().
 */
#ifndef CCNN_H
#define CCNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CCNN_VERSION "0.1.0"

/* ---- error codes ------------------------------------------------------ */
enum {
    CCNN_OK = 0,
    CCNN_EINVAL = -1,    /* invalid argument or parameter */
    CCNN_ENOMEM = -2,    /* out of memory */
    CCNN_EOVERFLOW = -3, /* sizes whose element counts overflow */
    CCNN_EIO = -4,       /* a file could not be opened, read or written */
    CCNN_EFORMAT = -5,   /* a file is corrupt, truncated or of the wrong kind */
    CCNN_ESHAPE = -6,    /* shapes that do not fit together */
    CCNN_ENONFINITE = -7,/* a value became NaN or infinite */
    CCNN_ENOTFOUND = -8  /* a named item does not exist */
};

/* A readable message for a return code; never NULL. */
const char *ccnn_strerror(int code);

/* ---- threads ------------------------------------------------------------ */
/* Number of threads the library uses; n <= 0 means all cores.
 * Results never depend on this number. */
void ccnn_set_num_threads(int n);
int ccnn_get_num_threads(void);

/* ---- 2-D convolution (the op) ------------------------------------------- */
typedef struct ccnn_conv2d_params {
    int n, c, h, w;                /* input x: N x C x H x W */
    int k, r, s;                   /* K filters of (C/groups) x R x S; y: N x K x P x Q */
    int stride_h, stride_w;        /* 0 means 1 */
    int pad_top, pad_bottom, pad_left, pad_right;   /* implicit zeros, may differ per side */
    int dilation_h, dilation_w;    /* 0 means 1 */
    int groups;                    /* 0 means 1; divides C and K */
} ccnn_conv2d_params;

/* P = floor((H + pad_top + pad_bottom - dilation_h*(R-1) - 1) / stride_h) + 1,
 * likewise Q. Validates the parameters. */
int ccnn_conv2d_output_size(const ccnn_conv2d_params *p, int *out_h, int *out_w);

/* y[N,K,P,Q] = conv(x, w) + bias. bias may be NULL. */
int ccnn_conv2d_forward(const ccnn_conv2d_params *p, const float *x, const float *w,
                        const float *bias /* may be NULL */, float *y);
/* dx[N,C,H,W] = dL/dx given dy = dL/dy. Overwrites dx. */
int ccnn_conv2d_backward_data(const ccnn_conv2d_params *p, const float *dy, const float *w, float *dx);
/* dw[K,C/g,R,S] = dL/dw, dbias[K] = dL/dbias (dbias may be NULL). Overwrites both. */
int ccnn_conv2d_backward_weights(const ccnn_conv2d_params *p, const float *x, const float *dy,
                                 float *dw, float *dbias /* may be NULL */);

/* The reference implementation: plain loops written from docs/backprop.md.
 * Same contract as above; slow; the executable specification. */
int ccnn_conv2d_forward_ref(const ccnn_conv2d_params *p, const float *x, const float *w,
                            const float *bias, float *y);
int ccnn_conv2d_backward_data_ref(const ccnn_conv2d_params *p, const float *dy, const float *w, float *dx);
int ccnn_conv2d_backward_weights_ref(const ccnn_conv2d_params *p, const float *x, const float *dy,
                                     float *dw, float *dbias);

/* Which implementation ccnn_conv2d_* uses. The default is CCNN_CONV_FAST;
 * the environment variable CCNN_CONV=ref|fast sets it at start-up. */
typedef enum { CCNN_CONV_FAST = 0, CCNN_CONV_REF = 1 } ccnn_conv_impl;
void ccnn_conv2d_set_impl(ccnn_conv_impl impl);
ccnn_conv_impl ccnn_conv2d_get_impl(void);

/* SIMD level of the kernels, chosen at run time from what the CPU supports.
 * CCNN_ISA=scalar|avx2|avx512 in the environment forces a lower level. */
typedef enum { CCNN_ISA_SCALAR = 0, CCNN_ISA_AVX2 = 1, CCNN_ISA_AVX512 = 2 } ccnn_isa;
/* Returns CCNN_EINVAL if the CPU lacks the level asked for. */
int ccnn_set_isa(ccnn_isa isa);
ccnn_isa ccnn_get_isa(void);
const char *ccnn_isa_name(ccnn_isa isa);

#ifdef __cplusplus
}
#endif
#endif /* CCNN_H */
