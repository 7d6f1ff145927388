/* conv_backward_weights.c - the fast convolution's dL/dW and dL/dbias: the
 * batch summed in a fixed number of chunks (so the bits do not depend on
 * the thread count), each chunk image by image by the GEMM, the dot-product
 * kernel (shallow first layers) or the direct convolution's tiles. */
#include "ops/conv_internal.h"
#include "kernels/direct.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <string.h>

/* Partial dW sums in backward weights: a constant (not the thread count)
 * so that the summation order is fixed. */
#define WGRAD_CHUNKS 8
/* Most floats we spend on those partial sums (64 MB). */
#define WGRAD_PARTIAL_MAX ((int64_t)1 << 24)

/* The weight gradient's algorithm: as the forward's, with the dot-product
 * kernel where the forward goes direct. */
enum { WG_ROWS, WG_POINTWISE, WG_WIDE, WG_DOT, WG_KVEC };

static int wgrad_algo(const ccnn_conv_dims *d)
{
    switch (ccnn_conv_forward_algo_direct(d)) {
    case FWD_POINTWISE: return WG_POINTWISE;
    case FWD_ROWS: return WG_ROWS;
    case FWD_DIRECT: return WG_DOT;
    case FWD_KVEC: return WG_KVEC;
    default: return ccnn_conv_fast_get_im2col() == CCNN_IM2COL_DIRECT ? WG_DOT : WG_WIDE;
    }
}

/* Extra floats per thread of the weight gradient: dy widened and xp, and
 * for the dot kernel its row pointers and lane sums. */
static int64_t wgrad_extra(const ccnn_conv_dims *d, int algo)
{
    const int64_t crs = d->cg * d->r * d->s;
    if (algo == WG_WIDE) return d->kg * wide_cols(d) + wide_xp_floats(d);
    if (algo == WG_KVEC) /* dy transposed, then xp */
        return d->p * d->q * ccnn_conv_direct_kblocks(ccnn_direct_kernel_for(ccnn_get_isa()), d) *
                   ccnn_direct_kernel_for(ccnn_get_isa())->kb + wide_xp_floats(d);
    if (algo != WG_DOT) return 0;
    return row_ptr_floats(d) + d->groups * crs * d->kg * CCNN_GEMM_DOT_LANES + wide_xp_floats(d);
}

/* dy_g (Kg x PQ) widened into dyw (Kg x Nw): zeros in the extra columns, so
 * they add nothing to the sums. */
static void widen_dy(const ccnn_conv_dims *d, const float *dyg, float *dyw)
{
    const int64_t pq = d->p * d->q, wp = wide_wp(d), nw = wide_cols(d);
    for (int64_t k = 0; k < d->kg; k++)
        for (int64_t p = 0; p < d->p; p++) {
            float *dst = dyw + k * nw + p * wp;
            memcpy(dst, dyg + k * pq + p * d->q, sizeof(float) * (size_t)d->q);
            if (p + 1 < d->p) memset(dst + d->q, 0, sizeof(float) * (size_t)(wp - d->q));
        }
}

/* The dot kernel's lane sums of group g (CRS x Kg x lanes) in rn->extra. */
static float *dot_sums(const ccnn_conv_dims *d, const conv_run *rn, int64_t g)
{
    return rn->extra + row_ptr_floats(d) + g * d->cg * d->r * d->s * d->kg * CCNN_GEMM_DOT_LANES;
}

/* Adds image n's col * dy_g^T of group g into the lane sums: for a shallow
 * col (a first layer: 9 rows) each of its CRS x Kg results is a dot
 * product of a shifted stretch of xp with a dy plane, row by row (P rows
 * of Q), both read where they lie. */
static void wgrad_group_dot(const ccnn_conv_dims *d, const float *xg, const float *dyg,
                            float *sums, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q;
    const float **arow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    float *xp = rn->extra + row_ptr_floats(d) + d->groups * crs * d->kg * CCNN_GEMM_DOT_LANES;
    conv_wide_src src = {d, ccnn_conv_wide_pad(d, xg, xp), 0};
    for (int64_t i = 0; i < crs; i++) arow[i] = ccnn_conv_wide_row(&src, i);
    ccnn_gemm_dot_for(ccnn_get_isa())(crs, d->kg, d->p, d->q, arow, wide_wp(d), dyg, pq, d->q,
                                      sums);
}

/* c (CRS x Kg) = beta*c + wide col * dyw^T, where dyw is dy_g widened to
 * the wide layout with zeros in the garbage columns, so they add nothing. */
static void wgrad_group_wide(const ccnn_conv_dims *d, const float *xg, const float *dyg, float *c,
                             float beta, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, nw = wide_cols(d);
    float *dyw = rn->extra, *xp = rn->extra + d->kg * nw;
    widen_dy(d, dyg, dyw);
    conv_wide_src src = {d, ccnn_conv_wide_pad(d, xg, xp), 0};
    ccnn_gemm_matrix b = {dyw, nw, 1};
    ccnn_sgemm_ex(crs, d->kg, nw, ccnn_conv_pack_wide_rows, &src, ccnn_gemm_pack_b_matrix, &b, beta, c,
                  d->kg, rn->threaded, rn->ws);
}

/* c (CRS x Kg) = (accumulate ? c : 0) + col * dy_g^T by the direct
 * convolution's weight-gradient tiles. */
static void wgrad_group_kvec(const ccnn_conv_dims *d, const float *xg, const float *dyg, float *c,
                             int accumulate, const conv_run *rn)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    float *dyt = rn->extra;
    float *xp = dyt + d->p * d->q * ccnn_conv_direct_kblocks(kr, d) * kr->kb;
    ccnn_conv_direct_transpose_dy(kr, d, dyg, dyt);
    ccnn_conv_direct_wgrad(kr, d, rn->taps, ccnn_conv_wide_pad(d, xg, xp), wide_wp(d), dyt, c, accumulate);
}

/* dwt = sum over images [n0, n1) of col * dy_g^T, i.e. the weight gradient
 * transposed, dwt[g][crs][k] (col as the GEMM's A packs into small slivers,
 * cheaper than as B); db likewise. Both overwritten. */
static void wgrad_chunk(const ccnn_conv_dims *d, int64_t n0, int64_t n1, const float *x,
                        const float *dy, float *dwt, float *db, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, hw = d->h * d->w;
    if (rn->algo == WG_DOT)
        memset(dot_sums(d, rn, 0), 0,
               sizeof(float) * (size_t)(d->groups * crs * d->kg * CCNN_GEMM_DOT_LANES));
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t g = 0; g < d->groups; g++) {
            const float *xg = x + (n * d->c + g * d->cg) * hw;
            const float *dyg = dy + (n * d->k + g * d->kg) * pq;
            float *c = dwt + g * crs * d->kg, beta = n == n0 ? 0.0f : 1.0f;
            if (rn->algo == WG_POINTWISE) {
                ccnn_conv_gemm(rn, 0, 1, crs, d->kg, pq, xg, pq, dyg, pq, beta, c, d->kg);
            } else if (rn->algo == WG_DOT) {
                wgrad_group_dot(d, xg, dyg, dot_sums(d, rn, g), rn);
            } else if (rn->algo == WG_KVEC) {
                wgrad_group_kvec(d, xg, dyg, c, n > n0, rn);
            } else if (rn->algo == WG_WIDE) {
                wgrad_group_wide(d, xg, dyg, c, beta, rn);
            } else {
                ccnn_gemm_matrix b = {dyg, pq, 1};
                conv_col_src cs = {d, xg};
                ccnn_sgemm_ex(crs, d->kg, pq, ccnn_conv_pack_col_rows, &cs, ccnn_gemm_pack_b_matrix, &b,
                              beta, c, d->kg, rn->threaded, rn->ws);
            }
        }
    }
    if (rn->algo == WG_DOT) /* dwt[g][crs][k]: the lane sums folded, in the same layout */
        ccnn_gemm_dot_fold(d->groups * crs * d->kg, dot_sums(d, rn, 0), dwt);
    for (int64_t k = 0; db && k < d->k; k++) db[k] = conv_bias_grad(d, dy, k, n0, n1);
}

int ccnn_conv_fast_backward_weights(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d,
                                    const float *x, const float *dy, float *dw, float *dbias)
{
    if (is_depthwise(d)) {
        ccnn_conv_dw_backward_weights(d, x, dy, dw, dbias);
        return CCNN_OK;
    }
    /* Chunk i covers images [i*N/chunks, (i+1)*N/chunks); its partial sums
     * are added in chunk order. The count depends on the shapes only. */
    const int64_t crs = d->cg * d->r * d->s, part = d->w_count + d->k;
    int chunks = (int)min64(d->n, WGRAD_CHUNKS);
    while (chunks > 1 && chunks * part > WGRAD_PARTIAL_MAX) chunks--;
    float *parts = ccnn_conv_ws_take(ws, WS_PARTS, (size_t)(part * chunks));
    conv_run rn;
    const int algo = wgrad_algo(d);
    if (!parts || ccnn_conv_run_init(&rn, ws, (size_t)wgrad_extra(d, algo))) {
        ccnn_conv_ws_give(ws, parts);
        return CCNN_ENOMEM;
    }
    rn.algo = algo;
    if (algo == WG_KVEC && ccnn_conv_run_direct(&rn, d, NULL, NULL)) {
        ccnn_conv_run_free(&rn);
        ccnn_conv_ws_give(ws, parts);
        return CCNN_ENOMEM;
    }

    int nt = item_threads(chunks, conv_flops(d));
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int i = 0; i < chunks; i++) {
            conv_run t = ccnn_conv_run_thread(&rn, omp_get_thread_num());
            wgrad_chunk(d, d->n * i / chunks, d->n * (i + 1) / chunks, x, dy, parts + part * i,
                        dbias ? parts + part * i + d->w_count : NULL, &t);
        }
    } else {
        for (int i = 0; i < chunks; i++)
            wgrad_chunk(d, d->n * i / chunks, d->n * (i + 1) / chunks, x, dy, parts + part * i,
                        dbias ? parts + part * i + d->w_count : NULL, &rn);
    }

    /* dw[g*Kg + k][j] = sum over chunks of dwt[g][j][k] */
    for (int64_t g = 0; g < d->groups; g++)
    for (int64_t j = 0; j < crs; j++)
    for (int64_t k = 0; k < d->kg; k++) {
        const float *src = parts + (g * crs + j) * d->kg + k;
        float s = src[0];
        for (int i = 1; i < chunks; i++) s += src[part * i];
        dw[(g * d->kg + k) * crs + j] = s;
    }
    for (int64_t k = 0; dbias && k < d->k; k++) {
        float s = parts[d->w_count + k];
        for (int i = 1; i < chunks; i++) s += parts[part * i + d->w_count + k];
        dbias[k] = s;
    }
    ccnn_conv_run_free(&rn);
    ccnn_conv_ws_give(ws, parts);
    return CCNN_OK;
}
