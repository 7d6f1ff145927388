/* conv_backward_data.c - the fast convolution's dL/dx: at stride 1 a forward
 * pass of dy with the filters flipped and their channel axes swapped, else
 * W^T dy by the GEMM and col2im (1x1: W^T dy is dx). */
#include "ops/conv_internal.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <string.h>

/* Columns of dcol per GEMM: a block of about 512 KB stays in the L2 cache
 * between the GEMM that writes it and col2im that reads it. */
static int64_t dcol_cols(const ccnn_conv_dims *d)
{
    int64_t crs = d->cg * d->r * d->s, nb = ((int64_t)1 << 17) / crs / 32 * 32;
    return min64(d->p * d->q, nb < 32 ? 32 : nb);
}

static void backward_data_image(const ccnn_conv_dims *d, int64_t n, const float *dy,
                                const float *w, float *dx, float *dcol, const conv_run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, hw = d->h * d->w;
    for (int64_t g = 0; g < d->groups; g++) {
        const float *dyg = dy + (n * d->k + g * d->kg) * pq, *wg = w + g * d->kg * crs;
        float *dxg = dx + (n * d->c + g * d->cg) * hw;
        if (!dcol) { /* 1x1: dx_g = W_g^T dy_g directly */
            ccnn_conv_gemm(rn, 1, 0, d->cg, pq, d->kg, wg, crs, dyg, pq, 0.0f, dxg, pq);
            continue;
        }
        memset(dxg, 0, sizeof(float) * (size_t)(d->cg * hw));
        for (int64_t j0 = 0, nb = dcol_cols(d); j0 < pq; j0 += nb) {
            int64_t cols = min64(nb, pq - j0);
            ccnn_conv_gemm(rn, 1, 0, crs, cols, d->kg, wg, crs, dyg + j0, pq, 0.0f, dcol, cols);
            for (int64_t i = 0; i < crs; i++) ccnn_conv_col2im_row(d, dcol + i * cols, i, j0, cols, dxg);
        }
    }
}

/* The dims of backward data at stride 1 as a forward pass (below). */
static ccnn_conv_dims flipped_dims(const ccnn_conv_dims *d)
{
    ccnn_conv_dims t = *d;
    t.c = d->k; t.h = d->p; t.w = d->q;
    t.k = d->c; t.p = d->h; t.q = d->w;
    t.cg = d->kg; t.kg = d->cg;
    t.pt = d->dh * (d->r - 1) - d->pt; t.pb = d->dh * (d->r - 1) - d->pb;
    t.pl = d->dw * (d->s - 1) - d->pl; t.pr = d->dw * (d->s - 1) - d->pr;
    t.x_count = d->y_count; t.y_count = d->x_count;
    return t;
}

/* At stride 1, dx is the forward convolution of dy with the filters flipped
 * and their two channel axes swapped, padded by dilation*(R-1) - pad on each
 * side (a negative pad crops). That runs as a forward pass: im2col packed
 * into the GEMM, no dcol buffer, no col2im. */
static int backward_data_as_forward(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d,
                                    const float *dy, const float *w, float *dx)
{
    const int64_t rs = d->r * d->s;
    float *wt = ccnn_conv_ws_take(ws, WS_WT, (size_t)d->w_count);
    if (!wt) return CCNN_ENOMEM;
    /* wt[g*Cg + c][k][R-1-r][S-1-s] = w[g*Kg + k][c][r][s] */
    for (int64_t g = 0; g < d->groups; g++)
    for (int64_t k = 0; k < d->kg; k++)
    for (int64_t c = 0; c < d->cg; c++) {
        const float *src = w + ((g * d->kg + k) * d->cg + c) * rs;
        float *dst = wt + ((g * d->cg + c) * d->kg + k) * rs;
        for (int64_t i = 0; i < rs; i++) dst[rs - 1 - i] = src[i];
    }
    ccnn_conv_dims t = flipped_dims(d);
    int rc = ccnn_conv_fast_forward(ws, &t, dy, wt, NULL, dx);
    ccnn_conv_ws_give(ws, wt);
    return rc;
}

int ccnn_conv_fast_backward_data(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d,
                                 const float *dy, const float *w, float *dx)
{
    if (is_depthwise(d)) {
        ccnn_conv_dw_backward_data(d, dy, w, dx);
        return CCNN_OK;
    }
    /* The forward pass's packing costs about 1/Cg of its multiply, col2im
     * about 1/Kg of the GEMM before it: the larger side wins. When the
     * flipped forward runs wide (Kg*R*S deep enough), it packs nothing, and
     * wins from Cg = 16 on (measured at 32 -> 64 channels, 14x14). */
    if (d->sh == 1 && d->sw == 1 && !is_pointwise(d)) {
        ccnn_conv_dims t = flipped_dims(d);
        const int algo = ccnn_conv_forward_algo(&t);
        if (algo == FWD_KVEC || algo == FWD_WINO ||
            (d->cg >= 16 &&
             (d->cg >= d->kg || (ccnn_conv_use_wide(d) && d->kg * d->r * d->s >= WIDE_MIN_CRS))))
            return backward_data_as_forward(ws, d, dy, w, dx);
    }

    int nt = image_threads(d);
    int64_t cf = is_pointwise(d) ? 0 : d->cg * d->r * d->s * dcol_cols(d);
    float *dcol = cf ? ccnn_conv_ws_take(ws, WS_DCOL, (size_t)(cf * nt)) : NULL;
    conv_run rn;
    if ((cf && !dcol) || ccnn_conv_run_init(&rn, ws, 0)) {
        ccnn_conv_ws_give(ws, dcol);
        return CCNN_ENOMEM;
    }
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            int tid = omp_get_thread_num();
            conv_run t = ccnn_conv_run_thread(&rn, tid);
            backward_data_image(d, n, dy, w, dx, dcol ? dcol + cf * tid : NULL, &t);
        }
    } else {
        for (int64_t n = 0; n < d->n; n++) backward_data_image(d, n, dy, w, dx, dcol, &rn);
    }
    ccnn_conv_run_free(&rn);
    ccnn_conv_ws_give(ws, dcol);
    return CCNN_OK;
}

