/* conv_internal.h - what the convolution module's files share (internal):
 * conv_fast.c (algorithm choice, workspace), one file per pass
 * (conv_forward.c, conv_backward_data.c, conv_backward_weights.c), the
 * layouts (conv_layout.c: im2col, col2im, wide), the direct and Winograd
 * algorithms (conv_direct.c, conv_winograd.c) and conv_depthwise.c (one
 * input channel per group). The reference (conv_ref.c) needs none of it. */
#ifndef CCNN_CONV_INTERNAL_H
#define CCNN_CONV_INTERNAL_H

#include "ccnn_internal.h"
#include <omp.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline int is_pointwise(const ccnn_conv_dims *d)
{
    return d->r == 1 && d->s == 1 && d->sh == 1 && d->sw == 1 &&
           d->pt == 0 && d->pb == 0 && d->pl == 0 && d->pr == 0;
}

/* Multiply-adds of one pass, times two. */
static inline double conv_flops(const ccnn_conv_dims *d)
{
    return 2.0 * (double)d->y_count * (double)(d->cg * d->r * d->s);
}

/* Below this many flops a parallel region costs more than it saves. */
#define PAR_MIN_FLOPS 1e6

/* Threads to run over items (images, chunks, planes) of a pass; 1: none
 * (the GEMM may still use them). */
static inline int item_threads(int64_t items, double flops)
{
    int nt = ccnn_threads();
    if (nt <= 1 || omp_in_parallel() || items < nt || flops < PAR_MIN_FLOPS) return 1;
    return nt;
}

/* For images: uneven shares waste a thread for a whole image, so accept
 * them only when each thread has several; else thread inside the GEMM. */
static inline int image_threads(const ccnn_conv_dims *d)
{
    int nt = item_threads(d->n, conv_flops(d));
    return (d->n % nt == 0 || d->n >= 3 * nt) ? nt : 1;
}

/* Output columns q in [lo, hi) read input column q*sw + off inside [0, W). */
static inline void q_range(const ccnn_conv_dims *d, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + d->sw - 1) / d->sw;
    int64_t b = d->w - 1 - off < 0 ? 0 : min64(d->q, (d->w - 1 - off) / d->sw + 1);
    *lo = min64(a, b);
    *hi = b;
}

static inline int is_depthwise(const ccnn_conv_dims *d) { return d->cg == 1 && d->groups > 1; }

/* Asks for the lines of count rows of len floats (row, row + ld, ...) ahead
 * of writing them: output rows that tiles store one filter at a time, each
 * in another plane, miss the cache otherwise. */
static inline void prefetch_rows(const float *row, int64_t ld, int64_t count, int64_t len)
{
    for (int64_t k = 0; k < count; k++, row += ld) {
        for (int64_t q = 0; q < len; q += 64 / (int64_t)sizeof(float))
            __builtin_prefetch(row + q, 1, 3);
        __builtin_prefetch(row + len - 1, 1, 3);
    }
}

/* The bias gradient of filter k over images [n0, n1): each plane summed in
 * float by a simd reduction, the planes in double, in image order. */
static inline float conv_bias_grad(const ccnn_conv_dims *d, const float *dy, int64_t k,
                                   int64_t n0, int64_t n1)
{
    const int64_t pq = d->p * d->q;
    double acc = 0.0;
    for (int64_t n = n0; n < n1; n++) {
        const float *row = dy + (n * d->k + k) * pq;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < pq; i++) sum += row[i];
        acc += sum;
    }
    return (float)acc;
}

/* ---- shared by the fast path's files (conv_fast.c has the overview) ------- */

/* The wide layout's padded input (conv_layout.c explains it): Hp x Wp per
 * channel, and the Nw = (P-1)*Wp + Q wide output columns in use. */
static inline int64_t wide_hp(const ccnn_conv_dims *d) { return d->h + d->pt + d->pb; }
static inline int64_t wide_wp(const ccnn_conv_dims *d) { return d->w + d->pl + d->pr; }
static inline int64_t wide_cols(const ccnn_conv_dims *d) { return (d->p - 1) * wide_wp(d) + d->q; }
static inline int is_padded(const ccnn_conv_dims *d) { return d->pt || d->pb || d->pl || d->pr; }

/* Floats of xp for one group: none when there is no padding (xp is x). */
static inline int64_t wide_xp_floats(const ccnn_conv_dims *d)
{
    return is_padded(d) ? d->cg * wide_hp(d) * wide_wp(d) : 0;
}

/* Floats that hold the forward's CRS row pointers (rounded to keep what
 * follows them 64-byte aligned). */
static inline int64_t row_ptr_floats(const ccnn_conv_dims *d)
{
    int64_t bytes = d->cg * d->r * d->s * (int64_t)sizeof(const float *);
    return (bytes + 63) / 64 * 16;
}

/* Below this col height (Cg*R*S) the GEMM is so shallow that copying its
 * result out of the wide buffer costs more than the packing saves (a
 * first layer on one channel: about 1.5x slower wide, measured). */
#define WIDE_MIN_CRS 64

/* The forward pass's algorithm (ccnn_conv_forward_algo). */
enum { FWD_ROWS, FWD_POINTWISE, FWD_WIDE, FWD_DIRECT, FWD_KVEC, FWD_WINO };
int ccnn_conv_forward_algo(const ccnn_conv_dims *d);
/* The choice other than Winograd's (which has no weight gradient of its
 * own: the weight gradient follows this one). */
int ccnn_conv_forward_algo_direct(const ccnn_conv_dims *d);
/* Whether a convolution that needs im2col uses the wide layout (in the
 * weight gradient; the forward pass chooses with ccnn_conv_forward_algo). */
int ccnn_conv_use_wide(const ccnn_conv_dims *d);

/* The workspace (conv_fast.c). Each buffer of a call has its own slot, kept and grown as needed, so a
 * training loop stops allocating after its first step. A nested call (dx
 * as a forward pass) uses other slots than its caller. Without a workspace
 * each buffer is allocated and freed by the call. */
enum { WS_GEMM, WS_EXTRA, WS_APACK, WS_DCOL, WS_PARTS, WS_WT, WS_TAPS, WS_WINO, WS_SLOTS };
/* 64-byte aligned space for n floats in the slot (contents undefined), or
 * NULL; ccnn_conv_ws_give ends its use. */
float *ccnn_conv_ws_take(ccnn_conv2d_workspace *ws, int slot, size_t n);
void ccnn_conv_ws_give(ccnn_conv2d_workspace *ws, float *p);

/* A call's buffers (conv_fast.c): the GEMM's packing space once, for every
 * thread it may run, plus `extra` floats per thread for the layouts'
 * buffers, passed down; threaded says whether one GEMM may fan out over the
 * threads (only when the images are not already shared out). */
typedef struct conv_run {
    ccnn_conv2d_workspace *cws; /* where the buffers below come from (may be NULL) */
    float *ws;    /* GEMM packing space for all the call's threads */
    float *extra; /* this thread's extra floats (NULL when none were asked for) */
    size_t extra_floats;
    int threaded;
    int algo;            /* the forward's FWD_* */
    float *apack;        /* the forward's weights packed once for all images, or NULL */
    int64_t apack_group; /* floats of one group's packed weights */
    int64_t m_pad;       /* Kg rounded up to the kernel's mr */
    int64_t *taps;       /* FWD_KVEC / WG_KVEC: the tap offsets into xp */
} conv_run;
/* extra is rounded up to 16 floats so every thread's part stays 64-byte aligned. */
int ccnn_conv_run_init(conv_run *rn, ccnn_conv2d_workspace *cws, size_t extra);
void ccnn_conv_run_free(conv_run *rn);
/* The view of rn for thread tid of a parallel loop over images. */
conv_run ccnn_conv_run_thread(const conv_run *rn, int tid);
/* The direct convolution's tap offsets, and (w given) its packed filters and bias. */
int ccnn_conv_run_direct(conv_run *rn, const ccnn_conv_dims *d, const float *w, const float *bias);
/* Every group's weights packed once for the whole batch. */
int ccnn_conv_run_pack_weights(conv_run *rn, const ccnn_conv_dims *d, const float *w);
/* C = beta*C + op(A) op(B) for plain matrices, with rn's packing space. */
void ccnn_conv_gemm(const conv_run *rn, int ta, int tb, int64_t M, int64_t N, int64_t K,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                    int64_t ldc);

/* ---- im2col and the wide layout (conv_layout.c) ---------------------------- */
/* The col matrix of one image and group, for the GEMM's packers. */
typedef struct conv_col_src {
    const ccnn_conv_dims *d;
    const float *x;
} conv_col_src;
struct ccnn_gemm_kernel;
/* op(B) = col (CRS x PQ), the forward pass: each panel row a stretch of a col row. */
void ccnn_conv_pack_col(const void *ctx, const struct ccnn_gemm_kernel *kr, int64_t p0, int64_t kc,
                        int64_t j0, int64_t nc, float *dst, int64_t ldp, float *scratch);
/* op(A) = col (CRS x PQ), the weight gradient. */
const float *ccnn_conv_pack_col_rows(const void *ctx, const struct ccnn_gemm_kernel *kr,
                                     int64_t i0, int m, int64_t p0, int64_t kc, float *dst,
                                     float *rows);
/* dx[c][ih][iw] += in[t] for each t < len whose col entry col[crs][j0 + t]
 * was read from x[c][ih][iw]. */
void ccnn_conv_col2im_row(const ccnn_conv_dims *d, const float *in, int64_t crs, int64_t j0,
                          int64_t len, float *dx);
/* xp (Cg x Hp x Wp) for the group's channels at xg; xg itself when unpadded. */
const float *ccnn_conv_wide_pad(const ccnn_conv_dims *d, const float *xg, float *xp);
/* The padded input, and where the current GEMM's column 0 is in wide j. */
typedef struct conv_wide_src {
    const ccnn_conv_dims *d;
    const float *xp;
    int64_t j0;
} conv_wide_src;
/* Start of wide col row crs, at wide column 0. */
const float *ccnn_conv_wide_row(const conv_wide_src *ws, int64_t crs);
/* op(A) = wide col (the weight gradient). */
const float *ccnn_conv_pack_wide_rows(const void *ctx, const struct ccnn_gemm_kernel *kr,
                                      int64_t i0, int m, int64_t p0, int64_t kc, float *dst,
                                      float *rows);

/* The direct convolution's pieces (conv_direct.c; tiles in kernels/direct.h),
 * for one image and group. Packed filters: per group, kblocks blocks of kb
 * filters x Cg*R*S taps, then the bias in the same blocks. */
struct ccnn_direct_kernel;
int64_t ccnn_conv_direct_kblocks(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d);
int64_t ccnn_conv_direct_packed_floats(const struct ccnn_direct_kernel *kr,
                                       const ccnn_conv_dims *d);
void ccnn_conv_direct_taps(const ccnn_conv_dims *d, int64_t hp, int64_t wp, int64_t *off);
void ccnn_conv_direct_pack(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                           const float *w, const float *bias, float *dst);
void ccnn_conv_direct_rows(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                           const int64_t *off, const float *xp, int64_t wp, const float *pk,
                           int with_bias, float *yg, int64_t p0, int64_t p1);
void ccnn_conv_direct_transpose_dy(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                                   const float *dyg, float *dyt);
void ccnn_conv_direct_wgrad(const struct ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                            const int64_t *off, const float *xp, int64_t wp, const float *dyt,
                            float *dwt, int accumulate);

/* Winograd's F(2x2, 3x3) forward pass (conv_winograd.c), for 3x3, stride 1,
 * no dilation: the batch's 2x2 output tiles in chunks through the GEMM. */
struct ccnn_gemm_kernel;
int ccnn_conv_wino_applies(const ccnn_conv_dims *d);
int64_t ccnn_conv_wino_tiles(const ccnn_conv_dims *d);
int64_t ccnn_conv_wino_filters_floats(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d);
void ccnn_conv_wino_pack_filters(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d,
                                 const float *w, float *dst, float *tmp);
int64_t ccnn_conv_wino_chunk_floats(const ccnn_conv_dims *d, int64_t tc);
void ccnn_conv_wino_chunk(const struct ccnn_gemm_kernel *kr, const ccnn_conv_dims *d,
                          const float *x, const float *filters, const float *bias, float *y,
                          int64_t t0, int64_t t1, int64_t tc, float *buf, float *gemm_ws);

/* Depthwise passes (conv_depthwise.c); same contracts as the fast path's. */
void ccnn_conv_dw_forward(const ccnn_conv_dims *d, const float *x, const float *w,
                          const float *bias, float *y);
void ccnn_conv_dw_backward_data(const ccnn_conv_dims *d, const float *dy, const float *w,
                                float *dx);
void ccnn_conv_dw_backward_weights(const ccnn_conv_dims *d, const float *x, const float *dy,
                                   float *dw, float *dbias);

#endif
