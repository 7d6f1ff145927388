/* conv_forward.c - the fast convolution's forward pass: per image and group
 * by the GEMM (im2col rows, the wide layout, 1x1 as is), the direct tiles
 * for shallow first layers, the direct convolution vectorised over filters,
 * or for the whole batch Winograd's F(2x2, 3x3) (conv_fast.c chooses). */
#include "ops/conv_internal.h"
#include "kernels/direct.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <string.h>

/* Output rows per GEMM in the wide forward: the wide result (Kg x rows*Wp)
 * stays in the L2 cache until it is copied out. */
#define WIDE_BLOCK_FLOATS 65536

static int64_t wide_block_rows(const ccnn_conv_dims *d)
{
    int64_t rows = WIDE_BLOCK_FLOATS / (d->kg * wide_wp(d));
    return rows < 1 ? 1 : min64(rows, d->p);
}

/* Extra floats per thread of the forward pass: row pointers, the wide
 * result block (wide only), xp. */
static int64_t forward_extra(const ccnn_conv_dims *d, int algo)
{
    if (algo == FWD_KVEC) return wide_xp_floats(d);
    if (algo == FWD_DIRECT) return row_ptr_floats(d) + wide_xp_floats(d);
    if (algo != FWD_WIDE) return 0;
    return row_ptr_floats(d) + d->kg * wide_block_rows(d) * wide_wp(d) + wide_xp_floats(d);
}

/* yg (Kg x PQ) = bias + W_g col, one output row and one register tile at a
 * time, with no GEMM driver: for row p the col rows are the stretches of xp
 * at the row pointers of p = 0 plus p*Wp, read in place by the micro-kernel,
 * and each tile goes straight into y - no packing, no wide buffer to copy
 * out of, which is what a shallow product (a first layer, Cg*R*S = 9) is
 * made of. The tiles add the bias as they store (the bits of the GEMM
 * paths, which start C from it); y is written once, its lines fetched a
 * row ahead. wpk: W_g packed whole (one K block: Cg*R*S <= CCNN_GEMM_KC), so
 * the sums are those of the GEMM paths, bit for bit. */
static void forward_group_direct(const ccnn_conv_dims *d, const float *xg, const float *wpk,
                                 const float *bg, float *yg, const conv_run *rn)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, wp = wide_wp(d);
    const float **brow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    conv_wide_src src = {d, ccnn_conv_wide_pad(d, xg, rn->extra + row_ptr_floats(d)), 0};
    for (int64_t i = 0; i < crs; i++) brow[i] = ccnn_conv_wide_row(&src, i);
    for (int64_t p = 0; p < d->p; p++) {
        if (p + 1 < d->p) prefetch_rows(yg + (p + 1) * d->q, pq, d->kg, d->q);
        for (int64_t ic = 0; ic < d->kg; ic += kr->mr) {
            const int m = (int)min64(kr->mr, d->kg - ic);
            const float *a = wpk + ic * crs;
            for (int64_t q0 = 0; q0 < d->q; q0 += kr->nr)
                kr->fn_rows(crs, a, brow, p * wp + q0, yg + ic * pq + p * d->q + q0, pq, m,
                            (int)min64(kr->nr, d->q - q0), 0.0f, 0, bg ? bg + ic : NULL);
        }
    }
}

/* yg (Kg x PQ) = bias + W_g col through the wide layout, a block of output
 * rows per GEMM. The GEMM reads the col rows where they lie in xp (through
 * a table of row pointers), so nothing is packed. The bias starts the sum,
 * as in the other path, so both give the same bits. */
static void forward_group_wide(const ccnn_conv_dims *d, const float *xg, ccnn_pack_a_fn pack_w,
                               const void *wctx, const float *bg, float *yg, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, wp = wide_wp(d);
    const int64_t rows = wide_block_rows(d);
    const float **brow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    float *yw = rn->extra + row_ptr_floats(d), *xp = yw + d->kg * rows * wp;
    conv_wide_src src = {d, ccnn_conv_wide_pad(d, xg, xp), 0};
    for (int64_t p0 = 0; p0 < d->p; p0 += rows) {
        int64_t p1 = min64(d->p, p0 + rows), cols = (p1 - 1 - p0) * wp + d->q;
        float beta = 0.0f;
        if (bg) {
            for (int64_t k = 0; k < d->kg; k++) {
                float bk = bg[k], *row = yw + k * cols;
#pragma omp simd
                for (int64_t i = 0; i < cols; i++) row[i] = bk;
            }
            beta = 1.0f;
        }
        src.j0 = p0 * wp;
        for (int64_t i = 0; i < crs; i++) brow[i] = ccnn_conv_wide_row(&src, i);
        ccnn_sgemm_rows(d->kg, cols, crs, pack_w, wctx, brow, beta, yw, cols, rn->threaded,
                        rn->ws);
        for (int64_t k = 0; k < d->kg; k++)
            for (int64_t p = p0; p < p1; p++)
                memcpy(yg + k * pq + p * d->q, yw + k * cols + (p - p0) * wp,
                       sizeof(float) * (size_t)d->q);
    }
}

/* yg (Kg x PQ) by the direct convolution, from the group's filters packed
 * in pk. When the images are not shared out among threads, the rows are. */
static void forward_group_kvec(const ccnn_conv_dims *d, const float *xg, const float *pk,
                               int with_bias, float *yg, const conv_run *rn)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    const float *xp = ccnn_conv_wide_pad(d, xg, rn->extra);
    const int64_t wp = wide_wp(d);
    int nt = rn->threaded ? item_threads(d->p, conv_flops(d) / (double)d->n) : 1;
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t p = 0; p < d->p; p++)
            ccnn_conv_direct_rows(kr, d, rn->taps, xp, wp, pk, with_bias, yg, p, p + 1);
    } else {
        ccnn_conv_direct_rows(kr, d, rn->taps, xp, wp, pk, with_bias, yg, 0, d->p);
    }
}

static void forward_image(const ccnn_conv_dims *d, int64_t n, const float *x, const float *w,
                          const float *bias, float *y, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, hw = d->h * d->w;
    for (int64_t g = 0; g < d->groups; g++) {
        const float *xg = x + (n * d->c + g * d->cg) * hw, *wg = w + g * d->kg * crs;
        float *yg = y + (n * d->k + g * d->kg) * pq;
        ccnn_gemm_matrix wm = {wg, crs, 0};
        ccnn_gemm_packed wp = {rn->apack ? rn->apack + g * rn->apack_group : NULL, rn->m_pad};
        ccnn_pack_a_fn pack_w = rn->apack ? ccnn_gemm_pack_a_packed : ccnn_gemm_pack_a_matrix;
        const void *wctx = rn->apack ? (const void *)&wp : (const void *)&wm;
        if (rn->algo == FWD_KVEC) {
            forward_group_kvec(d, xg, rn->apack + g * rn->apack_group, bias != NULL, yg, rn);
            continue;
        }
        if (rn->algo == FWD_DIRECT) {
            forward_group_direct(d, xg, rn->apack + g * rn->apack_group,
                                 bias ? bias + g * d->kg : NULL, yg, rn);
            continue;
        }
        if (rn->algo == FWD_WIDE) {
            forward_group_wide(d, xg, pack_w, wctx, bias ? bias + g * d->kg : NULL, yg, rn);
            continue;
        }
        float beta = 0.0f;
        if (bias) { /* start from the bias and accumulate onto it */
            for (int64_t k = 0; k < d->kg; k++) {
                float bk = bias[g * d->kg + k], *row = yg + k * pq;
#pragma omp simd
                for (int64_t i = 0; i < pq; i++) row[i] = bk;
            }
            beta = 1.0f;
        }
        if (is_pointwise(d)) {
            ccnn_gemm_matrix xm = {xg, pq, 0};
            ccnn_sgemm_ex(d->kg, pq, crs, pack_w, wctx, ccnn_gemm_pack_b_matrix, &xm, beta, yg, pq,
                          rn->threaded, rn->ws);
        } else {
            conv_col_src cs = {d, xg};
            ccnn_sgemm_ex(d->kg, pq, crs, pack_w, wctx, ccnn_conv_pack_col, &cs, beta, yg, pq, rn->threaded,
                          rn->ws);
        }
    }
}

/* Tiles per Winograd chunk: its V and M (16 x (Cg + Kg) x tiles floats)
 * about 1 MB, so that they stay in the L2 cache between the transforms and
 * the GEMMs; at least 64 tiles, for the GEMMs' width. */
static int64_t wino_chunk_tiles(const ccnn_conv_dims *d)
{
    int64_t tc = ((int64_t)1 << 14) / (d->cg + d->kg);
    return tc < 64 ? 64 : (tc + 31) / 32 * 32;
}

/* The forward pass by Winograd's F(2x2, 3x3): the batch's output tiles cut
 * into about equal chunks, about a multiple of the thread count of them,
 * each chunk transformed, multiplied and transformed back by one thread.
 * A chunk's width is a multiple of 16 tiles, so that the rows of V and M
 * (the GEMM's B and C) start on cache lines. */
static int forward_winograd(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d, const float *x,
                            const float *w, const float *bias, float *y)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t tiles = ccnn_conv_wino_tiles(d);
    int nt = item_threads(tiles, conv_flops(d));
    int64_t chunks = (tiles + wino_chunk_tiles(d) - 1) / wino_chunk_tiles(d);
    chunks = min64(tiles, (chunks + nt - 1) / nt * nt);
    const int64_t tc = ((tiles + chunks - 1) / chunks + 15) / 16 * 16;
    chunks = (tiles + tc - 1) / tc;
    conv_run rn;
    if (ccnn_conv_run_init(&rn, ws, (size_t)ccnn_conv_wino_chunk_floats(d, tc))) return CCNN_ENOMEM;
    float *filters = ccnn_conv_ws_take(ws, WS_APACK, (size_t)ccnn_conv_wino_filters_floats(kr, d));
    float *tmp = ccnn_conv_ws_take(ws, WS_WINO, (size_t)(16 * d->kg * d->cg));
    if (!filters || !tmp) {
        ccnn_conv_ws_give(ws, filters);
        ccnn_conv_ws_give(ws, tmp);
        ccnn_conv_run_free(&rn);
        return CCNN_ENOMEM;
    }
    ccnn_conv_wino_pack_filters(kr, d, w, filters, tmp);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        conv_run t = ccnn_conv_run_thread(&rn, omp_get_thread_num());
        ccnn_conv_wino_chunk(kr, d, x, filters, bias, y, c * tc, min64(tiles, (c + 1) * tc), tc,
                             t.extra, t.ws);
    }
    ccnn_conv_ws_give(ws, filters);
    ccnn_conv_ws_give(ws, tmp);
    ccnn_conv_run_free(&rn);
    return CCNN_OK;
}

int ccnn_conv_fast_forward(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d, const float *x,
                           const float *w, const float *bias, float *y)
{
    if (is_depthwise(d)) {
        ccnn_conv_dw_forward(d, x, w, bias, y);
        return CCNN_OK;
    }
    conv_run rn;
    const int algo = ccnn_conv_forward_algo(d);
    if (algo == FWD_WINO) return forward_winograd(ws, d, x, w, bias, y);
    if (ccnn_conv_run_init(&rn, ws, (size_t)forward_extra(d, algo))) return CCNN_ENOMEM;
    rn.algo = algo;
    if (algo == FWD_KVEC ? ccnn_conv_run_direct(&rn, d, w, bias)
                         : (d->n > 1 || algo == FWD_DIRECT) && ccnn_conv_run_pack_weights(&rn, d, w)) {
        ccnn_conv_run_free(&rn);
        return CCNN_ENOMEM;
    }
    int nt = image_threads(d);
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            conv_run t = ccnn_conv_run_thread(&rn, omp_get_thread_num());
            forward_image(d, n, x, w, bias, y, &t);
        }
    } else {
        for (int64_t n = 0; n < d->n; n++) forward_image(d, n, x, w, bias, y, &rn);
    }
    ccnn_conv_run_free(&rn);
    return CCNN_OK;
}

