/* conv_fast.c - the fast convolution's core: which algorithm a pass takes,
 * the workspace, and a call's buffers and GEMMs. The passes are in
 * conv_forward.c, conv_backward_data.c and conv_backward_weights.c, the
 * im2col and wide layouts in conv_layout.c, the direct convolution in
 * conv_direct.c, Winograd's in conv_winograd.c, the depthwise loops in
 * conv_depthwise.c.
 *
 * With Cg = C/groups, Kg = K/groups, CRS = Cg*R*S and PQ = P*Q, for one
 * image and group g, col = im2col(x_g) is CRS x PQ and
 *   forward            y_g    = W_g * col (+ bias)      Kg x PQ
 *   backward data      dcol   = W_g^T * dy_g, dx_g = col2im(dcol)
 *   backward weights   dW_g^T += col * dy_g^T           CRS x Kg
 * col is never stored: the GEMM asks for it block by block and the packers
 * build each block straight into its packed buffers from x; at stride 1
 * the "wide" layout makes each col row one stretch of the padded input. A
 * 1x1, stride-1, unpadded kernel needs no im2col (col is x_g). The direct
 * convolution and Winograd's have no col at all; at stride 1 backward data
 * runs as a forward pass.
 *
 * Threads go over images (or chunks of them) when there are enough, else
 * inside the GEMM. Either way the bits are the same: no sum depends on how
 * the work is split. */
#include "ops/conv_internal.h"
#include "kernels/direct.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int g_im2col = -1; /* a ccnn_im2col_mode; -1: CCNN_IM2COL decides */

void ccnn_conv_fast_set_im2col(ccnn_im2col_mode m) { atomic_store(&g_im2col, (int)m); }

ccnn_im2col_mode ccnn_conv_fast_get_im2col(void)
{
    int m = atomic_load(&g_im2col);
    return (ccnn_im2col_mode)(m >= 0 ? m : ccnn_env()->im2col);
}

/* ---- which algorithm a pass takes ------------------------------------------ */

/* Whether a convolution that needs im2col uses the wide layout (in the
 * weight gradient; the forward pass chooses with ccnn_conv_forward_algo). */
int ccnn_conv_use_wide(const ccnn_conv_dims *d)
{
    ccnn_im2col_mode m = ccnn_conv_fast_get_im2col();
    if (d->sh != 1 || d->sw != 1 || m == CCNN_IM2COL_ROWS || m == CCNN_IM2COL_NONE) return 0;
    return (m != CCNN_IM2COL_AUTO && m != CCNN_IM2COL_WINOGRAD) ||
           d->cg * d->r * d->s >= WIDE_MIN_CRS;
}

/* The direct convolution vectorised over filters (conv_direct.c) beats the
 * GEMM paths once the taps are many and the filters as many as the ISA's
 * tile table says (pays_from_k: a full tile on AVX-512, AVX2 and NEON; never
 * for the portable tiles; docs/performance.md). */
static int kvec_pays(const ccnn_conv_dims *d)
{
    const int from = ccnn_direct_kernel_for(ccnn_get_isa())->pays_from_k;
    return from > 0 && !is_pointwise(d) && d->cg * d->r * d->s >= WIDE_MIN_CRS && d->kg >= from;
}

/* The forward pass's algorithm other than Winograd's (which has no weight
 * gradient of its own: the weight gradient follows this choice). */
int ccnn_conv_forward_algo_direct(const ccnn_conv_dims *d)
{
    ccnn_im2col_mode m = ccnn_conv_fast_get_im2col();
    if (m == CCNN_IM2COL_NONE ||
        ((m == CCNN_IM2COL_AUTO || m == CCNN_IM2COL_WINOGRAD) && kvec_pays(d)))
        return FWD_KVEC;
    if (is_pointwise(d)) return FWD_POINTWISE;
    if (d->sh != 1 || d->sw != 1 || m == CCNN_IM2COL_ROWS) return FWD_ROWS;
    const int64_t crs = d->cg * d->r * d->s;
    if (m == CCNN_IM2COL_WIDE) return FWD_WIDE;
    if (m == CCNN_IM2COL_DIRECT) return crs <= CCNN_GEMM_KC ? FWD_DIRECT : FWD_WIDE;
    return crs < WIDE_MIN_CRS ? FWD_DIRECT : FWD_WIDE;
}

/* Winograd's F(2x2, 3x3) does 16 multiplies where the direct sum does 36;
 * its GEMMs are Kg x tiles x Cg, which need some depth and height to conv_run
 * well (measured: docs/performance.md). */
static int wino_pays(const ccnn_conv_dims *d) { return d->cg >= 16 && d->kg >= 16; }

int ccnn_conv_forward_algo(const ccnn_conv_dims *d)
{
    ccnn_im2col_mode m = ccnn_conv_fast_get_im2col();
    if (ccnn_conv_wino_applies(d) &&
        (m == CCNN_IM2COL_WINOGRAD || (m == CCNN_IM2COL_AUTO && wino_pays(d))))
        return FWD_WINO;
    return ccnn_conv_forward_algo_direct(d);
}

/* ---- the workspace (slots: conv_internal.h) -------------------------------- */

struct ccnn_conv2d_workspace {
    float *buf[WS_SLOTS];
    size_t cap[WS_SLOTS]; /* floats */
};

ccnn_conv2d_workspace *ccnn_conv2d_workspace_create(void)
{
    return calloc(1, sizeof(ccnn_conv2d_workspace));
}

void ccnn_conv2d_workspace_free(ccnn_conv2d_workspace *ws)
{
    if (!ws) return;
    for (int i = 0; i < WS_SLOTS; i++) free(ws->buf[i]);
    free(ws);
}

static float *alloc64(size_t floats)
{
    void *p = NULL;
    return posix_memalign(&p, 64, sizeof(float) * (floats ? floats : 1)) == 0 ? p : NULL;
}

/* 64-byte aligned space for n floats in the slot (contents undefined), or NULL. */
float *ccnn_conv_ws_take(ccnn_conv2d_workspace *ws, int slot, size_t n)
{
    if (!ws) return alloc64(n);
    if (ws->cap[slot] < n || !ws->buf[slot]) {
        free(ws->buf[slot]);
        ws->buf[slot] = alloc64(n);
        ws->cap[slot] = ws->buf[slot] ? n : 0;
    }
    return ws->buf[slot];
}

/* Ends the use of space from ccnn_conv_ws_take. */
void ccnn_conv_ws_give(ccnn_conv2d_workspace *ws, float *p)
{
    if (!ws) free(p);
}

/* ---- a call's buffers and GEMMs (conv_run: conv_internal.h) ------------- */
/* extra is rounded up to 16 floats so every thread's part stays 64-byte aligned. */
int ccnn_conv_run_init(conv_run *rn, ccnn_conv2d_workspace *cws, size_t extra)
{
    int nt = omp_in_parallel() ? 1 : ccnn_threads();
    extra = (extra + 15) / 16 * 16;
    rn->cws = cws;
    rn->ws = ccnn_conv_ws_take(cws, WS_GEMM, CCNN_GEMM_WS_FLOATS * (size_t)nt);
    rn->extra = extra ? ccnn_conv_ws_take(cws, WS_EXTRA, extra * (size_t)nt) : NULL;
    rn->extra_floats = extra;
    rn->threaded = 1;
    rn->algo = 0;
    rn->apack = NULL;
    rn->taps = NULL;
    if (!rn->ws || (extra && !rn->extra)) {
        ccnn_conv_ws_give(cws, rn->ws);
        ccnn_conv_ws_give(cws, rn->extra);
        return CCNN_ENOMEM;
    }
    return 0;
}

void ccnn_conv_run_free(conv_run *rn)
{
    ccnn_conv_ws_give(rn->cws, rn->ws);
    ccnn_conv_ws_give(rn->cws, rn->extra);
    ccnn_conv_ws_give(rn->cws, rn->apack);
    ccnn_conv_ws_give(rn->cws, (float *)rn->taps);
}

/* The view of rn for thread tid of a parallel loop over images. */
conv_run ccnn_conv_run_thread(const conv_run *rn, int tid)
{
    conv_run t = *rn;
    t.ws = rn->ws + CCNN_GEMM_WS_FLOATS * (size_t)tid;
    t.extra = rn->extra ? rn->extra + rn->extra_floats * (size_t)tid : NULL;
    t.threaded = 0;
    return t;
}

/* The direct convolution's tap offsets into xp, and (when w is given) its
 * packed filters and bias in rn->apack. */
int ccnn_conv_run_direct(conv_run *rn, const ccnn_conv_dims *d, const float *w, const float *bias)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    const int64_t taps = d->cg * d->r * d->s;
    /* int64 offsets in a float slot: two floats each, 64-byte aligned */
    rn->taps = (int64_t *)(void *)ccnn_conv_ws_take(rn->cws, WS_TAPS, (size_t)(2 * taps));
    if (!rn->taps) return CCNN_ENOMEM;
    ccnn_conv_direct_taps(d, wide_hp(d), wide_wp(d), rn->taps);
    if (!w) return CCNN_OK;
    rn->apack_group = ccnn_conv_direct_packed_floats(kr, d) / d->groups;
    rn->apack = ccnn_conv_ws_take(rn->cws, WS_APACK, (size_t)ccnn_conv_direct_packed_floats(kr, d));
    if (!rn->apack) return CCNN_ENOMEM;
    ccnn_conv_direct_pack(kr, d, w, bias, rn->apack);
    return CCNN_OK;
}

/* Packs every group's weights (Kg x CRS each) once for the whole batch,
 * instead of once per image. */
int ccnn_conv_run_pack_weights(conv_run *rn, const ccnn_conv_dims *d, const float *w)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t crs = d->cg * d->r * d->s;
    rn->m_pad = (d->kg + kr->mr - 1) / kr->mr * kr->mr;
    rn->apack_group = ccnn_gemm_packed_a_floats(kr, d->kg, crs);
    rn->apack = ccnn_conv_ws_take(rn->cws, WS_APACK, (size_t)(rn->apack_group * d->groups));
    if (!rn->apack) return CCNN_ENOMEM;
    for (int64_t g = 0; g < d->groups; g++) {
        ccnn_gemm_matrix a = {w + g * d->kg * crs, crs, 0};
        ccnn_gemm_pack_a_all(kr, d->kg, crs, ccnn_gemm_pack_a_matrix, &a,
                             rn->apack + g * rn->apack_group);
    }
    return CCNN_OK;
}

/* C = beta*C + op(A) op(B) for plain matrices. */
void ccnn_conv_gemm(const conv_run *rn, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    ccnn_gemm_matrix a = {A, lda, ta}, b = {B, ldb, tb};
    ccnn_sgemm_ex(M, N, K, ccnn_gemm_pack_a_matrix, &a, ccnn_gemm_pack_b_matrix, &b, beta, C, ldc,
                  rn->threaded, rn->ws);
}

