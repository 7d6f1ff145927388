/* conv_fast.c - the fast convolution: im2col + GEMM per image and group.
 *
 * With Cg = C/groups, Kg = K/groups, CRS = Cg*R*S and PQ = P*Q, for one
 * image and group g, col = im2col(x_g) is CRS x PQ and
 *   forward            y_g    = W_g * col (+ bias)      Kg x PQ
 *   backward data      dcol   = W_g^T * dy_g, dx_g = col2im(dcol)
 *   backward weights   dW_g^T += col * dy_g^T           CRS x Kg
 * col is never stored: the GEMM asks for it block by block and im2col_row
 * builds each block straight into the GEMM's packed buffers from x; at
 * stride 1 the "wide" layout (below) makes each col row one memcpy. A 1x1,
 * stride-1, unpadded kernel needs no im2col (col is x_g). At stride 1 with
 * many channels, backward data runs as a forward pass instead (see
 * backward_data_as_forward), and depthwise convolutions (one input channel
 * per group) use plain loops (conv_depthwise.c).
 *
 * Threads go over images when there are enough of them, else inside the
 * GEMM. Either way the bits are the same: the GEMM's result does not depend
 * on how it is split. Backward weights sums the batch in a fixed number of
 * chunks, so its bits do not depend on the thread count either. */
#include "ops/conv_fast.h"
#include "kernels/direct.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Partial dW sums in backward weights: a constant (not the thread count)
 * so that the summation order is fixed. */
#define WGRAD_CHUNKS 8
/* Most floats we spend on those partial sums (64 MB). */
#define WGRAD_PARTIAL_MAX ((int64_t)1 << 24)

/* out[t] = col[crs][j0 + t] for t < len, where
 *   col[(c*R + r)*S + s][p*Q + q] = x[c][p*sh + r*dh - pt][q*sw + s*dw - pl]
 * (zero in the padding) and x is the group's Cg channels of one image. */
static void im2col_row(const ccnn_conv_dims *d, const float *x, int64_t crs, int64_t j0,
                       int64_t len, float *out)
{
    int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    int64_t off = s * d->dw - d->pl, lo, hi;
    q_range(d, off, &lo, &hi);
    const float *xc = x + c * d->h * d->w;
    for (int64_t p = j0 / d->q, q = j0 % d->q; len > 0; p++, q = 0) {
        int64_t n = min64(d->q - q, len); /* this output row's part: q .. q+n */
        int64_t ih = p * d->sh + r * d->dh - d->pt;
        if (ih < 0 || ih >= d->h) {
            memset(out, 0, sizeof(float) * (size_t)n);
        } else {
            const float *row = xc + ih * d->w;
            int64_t a = lo < q ? q : lo > q + n ? q + n : lo; /* lo, hi clamped to the part */
            int64_t b = hi < a ? a : hi > q + n ? q + n : hi;
            for (int64_t i = q; i < a; i++) out[i - q] = 0.0f;
            if (d->sw == 1) {
                memcpy(out + (a - q), row + a + off, sizeof(float) * (size_t)(b - a));
            } else if (d->sw == 2) { /* a constant stride vectorises */
#pragma omp simd
                for (int64_t i = a; i < b; i++) out[i - q] = row[2 * i + off];
            } else {
                for (int64_t i = a; i < b; i++) out[i - q] = row[i * d->sw + off];
            }
            for (int64_t i = b; i < q + n; i++) out[i - q] = 0.0f;
        }
        out += n;
        len -= n;
    }
}

/* The col matrix of one image and group, for the GEMM's packers. */
typedef struct col_src {
    const ccnn_conv_dims *d;
    const float *x;
} col_src;

/* op(B) = col (CRS x PQ), the forward pass: each panel row is a stretch of
 * a col row. */
static void pack_col(const void *ctx, const ccnn_gemm_kernel *kr, int64_t p0, int64_t kc,
                     int64_t j0, int64_t nc, float *dst, int64_t ldp, float *scratch)
{
    const col_src *cs = ctx;
    (void)kr;
    (void)scratch;
    for (int64_t k = 0; k < kc; k++, dst += ldp) {
        im2col_row(cs->d, cs->x, p0 + k, j0, nc, dst);
        memset(dst + nc, 0, sizeof(float) * (size_t)(ldp - nc));
    }
}

/* op(A) = col (CRS x PQ), the weight gradient: the sliver's m col rows into
 * the scratch, then transposed into the sliver. */
static const float *pack_col_rows(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                  int m, int64_t p0, int64_t kc, float *dst, float *rows)
{
    const col_src *cs = ctx;
    if (m < kr->mr) memset(dst, 0, sizeof(float) * (size_t)(kc * kr->mr));
    for (int i = 0; i < m; i++) im2col_row(cs->d, cs->x, i0 + i, p0, kc, rows + i * kc);
    kr->transpose(rows, kc, m, kc, dst, kr->mr);
    return dst;
}

/* The adjoint of im2col_row: dx[c][ih][iw] += in[t] for each t < len whose
 * col entry col[crs][j0 + t] was read from x[c][ih][iw]. */
static void col2im_row(const ccnn_conv_dims *d, const float *in, int64_t crs, int64_t j0,
                       int64_t len, float *dx)
{
    int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    int64_t off = s * d->dw - d->pl, lo, hi;
    q_range(d, off, &lo, &hi);
    float *dxc = dx + c * d->h * d->w;
    for (int64_t p = j0 / d->q, q = j0 % d->q; len > 0; p++, q = 0) {
        int64_t n = min64(d->q - q, len);
        int64_t ih = p * d->sh + r * d->dh - d->pt;
        if (ih >= 0 && ih < d->h) {
            float *row = dxc + ih * d->w;
            int64_t a = lo < q ? q : lo > q + n ? q + n : lo;
            int64_t b = hi < a ? a : hi > q + n ? q + n : hi;
            if (d->sw == 1) {
#pragma omp simd
                for (int64_t i = a; i < b; i++) row[i + off] += in[i - q];
            } else {
                for (int64_t i = a; i < b; i++) row[i * d->sw + off] += in[i - q];
            }
        }
        in += n;
        len -= n;
    }
}

/* ---- the wide layout (stride 1) ---------------------------------------------
 * At stride 1, copy the group's input once into xp, padded: Cg x Hp x Wp
 * with Hp = H + pt + pb, Wp = W + pl + pr (a negative pad crops). Output
 * (p, q) reads xp[c][p + r*dh][q + s*dw] for tap (c, r, s). Number the
 * outputs "wide", j = p*Wp + q with q running to Wp instead of Q: then
 *   col[(c*R + r)*S + s][j] = xp[c][r*dh*Wp + s*dw + j],
 * so each col row is one contiguous stretch of xp and packs with a memcpy,
 * not a copy per output row with bounds at both ends. The columns with
 * q >= Q are garbage (they wrap into the next row): computed and dropped,
 * (Wp - Q)/Q more multiply-adds (7% at 28x28 with pad 1, 14% at 14x14).
 * Only Nw = (P-1)*Wp + Q columns are used, so no read passes xp's end:
 * the last one is (R-1)*dh*Wp + (S-1)*dw + Nw - 1 = Hp*Wp - 1. */
static int g_im2col = -1; /* a ccnn_im2col_mode; -1: read CCNN_IM2COL on first use */

void ccnn_conv_fast_set_im2col(ccnn_im2col_mode m) { g_im2col = (int)m; }

ccnn_im2col_mode ccnn_conv_fast_get_im2col(void)
{
    if (g_im2col < 0) {
        const char *env = getenv("CCNN_IM2COL");
        g_im2col = !env ? CCNN_IM2COL_AUTO
                 : strcmp(env, "rows") == 0 ? CCNN_IM2COL_ROWS
                 : strcmp(env, "wide") == 0 ? CCNN_IM2COL_WIDE
                 : strcmp(env, "direct") == 0 ? CCNN_IM2COL_DIRECT
                 : strcmp(env, "none") == 0 ? CCNN_IM2COL_NONE
                 : strcmp(env, "winograd") == 0 ? CCNN_IM2COL_WINOGRAD : CCNN_IM2COL_AUTO;
    }
    return (ccnn_im2col_mode)g_im2col;
}

static int64_t wide_hp(const ccnn_conv_dims *d) { return d->h + d->pt + d->pb; }
static int64_t wide_wp(const ccnn_conv_dims *d) { return d->w + d->pl + d->pr; }
static int64_t wide_cols(const ccnn_conv_dims *d) { return (d->p - 1) * wide_wp(d) + d->q; }
static int is_padded(const ccnn_conv_dims *d) { return d->pt || d->pb || d->pl || d->pr; }

/* Below this col height (Cg*R*S) the GEMM is so shallow that copying its
 * result out of the wide buffer costs more than the packing saves (a
 * first layer on one channel: about 1.5x slower wide, measured). */
#define WIDE_MIN_CRS 64

/* Whether a convolution that needs im2col uses the wide layout (in the
 * weight gradient; the forward pass chooses with forward_algo). */
static int use_wide(const ccnn_conv_dims *d)
{
    ccnn_im2col_mode m = ccnn_conv_fast_get_im2col();
    if (d->sh != 1 || d->sw != 1 || m == CCNN_IM2COL_ROWS || m == CCNN_IM2COL_NONE) return 0;
    return (m != CCNN_IM2COL_AUTO && m != CCNN_IM2COL_WINOGRAD) ||
           d->cg * d->r * d->s >= WIDE_MIN_CRS;
}

/* The forward pass's algorithm. */
enum { FWD_ROWS, FWD_POINTWISE, FWD_WIDE, FWD_DIRECT, FWD_KVEC, FWD_WINO };

/* The direct convolution vectorised over filters (conv_direct.c) beats the
 * GEMM paths with the AVX-512 tiles once the taps are many and a tile's 32
 * filters are all used (measured: docs/performance.md). */
static int kvec_pays(const ccnn_conv_dims *d)
{
    return ccnn_get_isa() == CCNN_ISA_AVX512 && !is_pointwise(d) &&
           d->cg * d->r * d->s >= WIDE_MIN_CRS && d->kg >= 32;
}

/* The forward pass's algorithm other than Winograd's (which has no weight
 * gradient of its own: the weight gradient follows this choice). */
static int forward_algo_direct(const ccnn_conv_dims *d)
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
 * its GEMMs are Kg x tiles x Cg, which need some depth and height to run
 * well (measured: docs/performance.md). */
static int wino_pays(const ccnn_conv_dims *d) { return d->cg >= 16 && d->kg >= 16; }

static int forward_algo(const ccnn_conv_dims *d)
{
    ccnn_im2col_mode m = ccnn_conv_fast_get_im2col();
    if (ccnn_conv_wino_applies(d) &&
        (m == CCNN_IM2COL_WINOGRAD || (m == CCNN_IM2COL_AUTO && wino_pays(d))))
        return FWD_WINO;
    return forward_algo_direct(d);
}

/* Floats of xp for one group: none when there is no padding (xp is x). */
static int64_t wide_xp_floats(const ccnn_conv_dims *d)
{
    return is_padded(d) ? d->cg * wide_hp(d) * wide_wp(d) : 0;
}

/* n zeros at p: pads are mostly one wide (3x3 "same"), and a store is
 * cheaper than a library call. */
static inline void zero_few(float *p, int64_t n)
{
    if (n == 1) *p = 0.0f;
    else if (n > 1) memset(p, 0, sizeof(float) * (size_t)n);
}

/* xp for the group's Cg channels at xg; returns xg itself when unpadded.
 * Each row of xp is written once: rows are short (14 floats at 14x14), so
 * the calls per row, not the bytes, are the cost. */
static const float *wide_pad(const ccnn_conv_dims *d, const float *xg, float *xp)
{
    if (!is_padded(d)) return xg;
    const int64_t hp = wide_hp(d), wp = wide_wp(d);
    const int64_t jlo = d->pl > 0 ? d->pl : 0, jhi = min64(wp, d->w + d->pl);
    const int64_t ilo = d->pt > 0 ? d->pt : 0, ihi = min64(hp, d->h + d->pt);
    if (jlo >= jhi || ilo >= ihi) {
        memset(xp, 0, sizeof(float) * (size_t)(d->cg * hp * wp));
        return xp;
    }
    for (int64_t c = 0; c < d->cg; c++) {
        float *plane = xp + c * hp * wp;
        memset(plane, 0, sizeof(float) * (size_t)(ilo * wp));
        for (int64_t i = ilo; i < ihi; i++) {
            float *dst = plane + i * wp;
            zero_few(dst, jlo);
            memcpy(dst + jlo, xg + (c * d->h + i - d->pt) * d->w + jlo - d->pl,
                   sizeof(float) * (size_t)(jhi - jlo));
            zero_few(dst + jhi, wp - jhi);
        }
        memset(plane + ihi * wp, 0, sizeof(float) * (size_t)((hp - ihi) * wp));
    }
    return xp;
}

/* The padded input, and where the current GEMM's column 0 is in wide j. */
typedef struct wide_src {
    const ccnn_conv_dims *d;
    const float *xp;
    int64_t j0;
} wide_src;

/* Start of wide col row crs, at wide column 0. */
static const float *wide_row(const wide_src *ws, int64_t crs)
{
    const ccnn_conv_dims *d = ws->d;
    const int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    const int64_t wp = wide_wp(d);
    return ws->xp + c * wide_hp(d) * wp + r * d->dh * wp + s * d->dw + ws->j0;
}

/* op(A) = wide col (the weight gradient): m rows copied into the scratch,
 * then transposed into the sliver. */
static const float *pack_wide_rows(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                   int m, int64_t p0, int64_t kc, float *dst, float *rows)
{
    if (m < kr->mr) memset(dst, 0, sizeof(float) * (size_t)(kc * kr->mr));
    for (int i = 0; i < m; i++)
        memcpy(rows + i * kc, wide_row(ctx, i0 + i) + p0, sizeof(float) * (size_t)kc);
    kr->transpose(rows, kc, m, kc, dst, kr->mr);
    return dst;
}

/* ---- the workspace ------------------------------------------------------------
 * Each buffer of a call has its own slot, kept and grown as needed, so a
 * training loop stops allocating after its first step. A nested call (dx
 * as a forward pass) uses other slots than its caller. Without a workspace
 * each buffer is allocated and freed by the call. */
enum { WS_GEMM, WS_EXTRA, WS_APACK, WS_DCOL, WS_PARTS, WS_WT, WS_TAPS, WS_WINO, WS_SLOTS };

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
static float *ws_take(ccnn_conv2d_workspace *ws, int slot, size_t n)
{
    if (!ws) return alloc64(n);
    if (ws->cap[slot] < n || !ws->buf[slot]) {
        free(ws->buf[slot]);
        ws->buf[slot] = alloc64(n);
        ws->cap[slot] = ws->buf[slot] ? n : 0;
    }
    return ws->buf[slot];
}

/* Ends the use of space from ws_take. */
static void ws_give(ccnn_conv2d_workspace *ws, float *p)
{
    if (!ws) free(p);
}

/* ---- GEMM calls ------------------------------------------------------------
 * Each conv call takes the GEMM's packing space once, for every thread it
 * may run, plus `extra` floats per thread for the wide layout's buffers,
 * and passes it down; threaded says whether one GEMM may fan out over the
 * threads (only when the images are not already shared out). */
typedef struct run {
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
} run;

/* extra is rounded up to 16 floats so every thread's part stays 64-byte aligned. */
static int run_init(run *rn, ccnn_conv2d_workspace *cws, size_t extra)
{
    int nt = omp_in_parallel() ? 1 : ccnn_threads();
    extra = (extra + 15) / 16 * 16;
    rn->cws = cws;
    rn->ws = ws_take(cws, WS_GEMM, CCNN_GEMM_WS_FLOATS * (size_t)nt);
    rn->extra = extra ? ws_take(cws, WS_EXTRA, extra * (size_t)nt) : NULL;
    rn->extra_floats = extra;
    rn->threaded = 1;
    rn->algo = 0;
    rn->apack = NULL;
    rn->taps = NULL;
    if (!rn->ws || (extra && !rn->extra)) {
        ws_give(cws, rn->ws);
        ws_give(cws, rn->extra);
        return CCNN_ENOMEM;
    }
    return 0;
}

static void run_free(run *rn)
{
    ws_give(rn->cws, rn->ws);
    ws_give(rn->cws, rn->extra);
    ws_give(rn->cws, rn->apack);
    ws_give(rn->cws, (float *)rn->taps);
}

/* The view of rn for thread tid of a parallel loop over images. */
static run run_thread(const run *rn, int tid)
{
    run t = *rn;
    t.ws = rn->ws + CCNN_GEMM_WS_FLOATS * (size_t)tid;
    t.extra = rn->extra ? rn->extra + rn->extra_floats * (size_t)tid : NULL;
    t.threaded = 0;
    return t;
}

/* The direct convolution's tap offsets into xp, and (when w is given) its
 * packed filters and bias in rn->apack. */
static int run_direct_setup(run *rn, const ccnn_conv_dims *d, const float *w, const float *bias)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    const int64_t taps = d->cg * d->r * d->s;
    /* int64 offsets in a float slot: two floats each, 64-byte aligned */
    rn->taps = (int64_t *)(void *)ws_take(rn->cws, WS_TAPS, (size_t)(2 * taps));
    if (!rn->taps) return CCNN_ENOMEM;
    ccnn_conv_direct_taps(d, wide_hp(d), wide_wp(d), rn->taps);
    if (!w) return CCNN_OK;
    rn->apack_group = ccnn_conv_direct_packed_floats(kr, d) / d->groups;
    rn->apack = ws_take(rn->cws, WS_APACK, (size_t)ccnn_conv_direct_packed_floats(kr, d));
    if (!rn->apack) return CCNN_ENOMEM;
    ccnn_conv_direct_pack(kr, d, w, bias, rn->apack);
    return CCNN_OK;
}

/* Packs every group's weights (Kg x CRS each) once for the whole batch,
 * instead of once per image. */
static int run_pack_weights(run *rn, const ccnn_conv_dims *d, const float *w)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t crs = d->cg * d->r * d->s;
    rn->m_pad = (d->kg + kr->mr - 1) / kr->mr * kr->mr;
    rn->apack_group = ccnn_gemm_packed_a_floats(kr, d->kg, crs);
    rn->apack = ws_take(rn->cws, WS_APACK, (size_t)(rn->apack_group * d->groups));
    if (!rn->apack) return CCNN_ENOMEM;
    for (int64_t g = 0; g < d->groups; g++) {
        ccnn_gemm_matrix a = {w + g * d->kg * crs, crs, 0};
        ccnn_gemm_pack_a_all(kr, d->kg, crs, ccnn_gemm_pack_a_matrix, &a,
                             rn->apack + g * rn->apack_group);
    }
    return CCNN_OK;
}

/* C = beta*C + op(A) op(B) for plain matrices. */
static void gemm(const run *rn, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    ccnn_gemm_matrix a = {A, lda, ta}, b = {B, ldb, tb};
    ccnn_sgemm_ex(M, N, K, ccnn_gemm_pack_a_matrix, &a, ccnn_gemm_pack_b_matrix, &b, beta, C, ldc,
                  rn->threaded, rn->ws);
}

/* ---- forward ------------------------------------------------------------ */

/* Output rows per GEMM in the wide forward: the wide result (Kg x rows*Wp)
 * stays in the L2 cache until it is copied out. */
#define WIDE_BLOCK_FLOATS 65536

static int64_t wide_block_rows(const ccnn_conv_dims *d)
{
    int64_t rows = WIDE_BLOCK_FLOATS / (d->kg * wide_wp(d));
    return rows < 1 ? 1 : min64(rows, d->p);
}

/* Floats that hold the forward's CRS row pointers (rounded to keep what
 * follows them 64-byte aligned). */
static int64_t row_ptr_floats(const ccnn_conv_dims *d)
{
    int64_t bytes = d->cg * d->r * d->s * (int64_t)sizeof(const float *);
    return (bytes + 63) / 64 * 16;
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
                                 const float *bg, float *yg, const run *rn)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, wp = wide_wp(d);
    const float **brow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    wide_src src = {d, wide_pad(d, xg, rn->extra + row_ptr_floats(d)), 0};
    for (int64_t i = 0; i < crs; i++) brow[i] = wide_row(&src, i);
    for (int64_t p = 0; p < d->p; p++) {
        for (int64_t k = 0; k < d->kg && p + 1 < d->p; k++) {
            const float *next = yg + k * pq + (p + 1) * d->q;
            for (int64_t q = 0; q < d->q; q += 64 / (int64_t)sizeof(float))
                __builtin_prefetch(next + q, 1, 3);
            __builtin_prefetch(next + d->q - 1, 1, 3);
        }
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
                               const void *wctx, const float *bg, float *yg, const run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, wp = wide_wp(d);
    const int64_t rows = wide_block_rows(d);
    const float **brow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    float *yw = rn->extra + row_ptr_floats(d), *xp = yw + d->kg * rows * wp;
    wide_src src = {d, wide_pad(d, xg, xp), 0};
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
        for (int64_t i = 0; i < crs; i++) brow[i] = wide_row(&src, i);
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
                               int with_bias, float *yg, const run *rn)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    const float *xp = wide_pad(d, xg, rn->extra);
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
                          const float *bias, float *y, const run *rn)
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
            col_src cs = {d, xg};
            ccnn_sgemm_ex(d->kg, pq, crs, pack_w, wctx, pack_col, &cs, beta, yg, pq, rn->threaded,
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
 * into equal chunks, a multiple of the thread count of them, each chunk
 * transformed, multiplied and transformed back by one thread. */
static int forward_winograd(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d, const float *x,
                            const float *w, const float *bias, float *y)
{
    const ccnn_gemm_kernel *kr = ccnn_gemm_kernel_for(ccnn_get_isa());
    const int64_t tiles = ccnn_conv_wino_tiles(d);
    int nt = item_threads(tiles, conv_flops(d));
    int64_t chunks = (tiles + wino_chunk_tiles(d) - 1) / wino_chunk_tiles(d);
    chunks = min64(tiles, (chunks + nt - 1) / nt * nt);
    const int64_t tc = (tiles + chunks - 1) / chunks;
    run rn;
    if (run_init(&rn, ws, (size_t)ccnn_conv_wino_chunk_floats(d, tc))) return CCNN_ENOMEM;
    float *filters = ws_take(ws, WS_APACK, (size_t)ccnn_conv_wino_filters_floats(kr, d));
    float *tmp = ws_take(ws, WS_WINO, (size_t)(16 * d->kg * d->cg));
    if (!filters || !tmp) {
        ws_give(ws, filters);
        ws_give(ws, tmp);
        run_free(&rn);
        return CCNN_ENOMEM;
    }
    ccnn_conv_wino_pack_filters(kr, d, w, filters, tmp);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        run t = run_thread(&rn, omp_get_thread_num());
        ccnn_conv_wino_chunk(kr, d, x, filters, bias, y, c * tc, min64(tiles, (c + 1) * tc), tc,
                             t.extra, t.ws);
    }
    ws_give(ws, filters);
    ws_give(ws, tmp);
    run_free(&rn);
    return CCNN_OK;
}

int ccnn_conv_fast_forward(ccnn_conv2d_workspace *ws, const ccnn_conv_dims *d, const float *x,
                           const float *w, const float *bias, float *y)
{
    if (is_depthwise(d)) {
        ccnn_conv_dw_forward(d, x, w, bias, y);
        return CCNN_OK;
    }
    run rn;
    const int algo = forward_algo(d);
    if (algo == FWD_WINO) return forward_winograd(ws, d, x, w, bias, y);
    if (run_init(&rn, ws, (size_t)forward_extra(d, algo))) return CCNN_ENOMEM;
    rn.algo = algo;
    if (algo == FWD_KVEC ? run_direct_setup(&rn, d, w, bias)
                         : (d->n > 1 || algo == FWD_DIRECT) && run_pack_weights(&rn, d, w)) {
        run_free(&rn);
        return CCNN_ENOMEM;
    }
    int nt = image_threads(d);
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            run t = run_thread(&rn, omp_get_thread_num());
            forward_image(d, n, x, w, bias, y, &t);
        }
    } else {
        for (int64_t n = 0; n < d->n; n++) forward_image(d, n, x, w, bias, y, &rn);
    }
    run_free(&rn);
    return CCNN_OK;
}

/* ---- backward data -------------------------------------------------------- */

/* Columns of dcol per GEMM: a block of about 512 KB stays in the L2 cache
 * between the GEMM that writes it and col2im that reads it. */
static int64_t dcol_cols(const ccnn_conv_dims *d)
{
    int64_t crs = d->cg * d->r * d->s, nb = ((int64_t)1 << 17) / crs / 32 * 32;
    return min64(d->p * d->q, nb < 32 ? 32 : nb);
}

static void backward_data_image(const ccnn_conv_dims *d, int64_t n, const float *dy,
                                const float *w, float *dx, float *dcol, const run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q, hw = d->h * d->w;
    for (int64_t g = 0; g < d->groups; g++) {
        const float *dyg = dy + (n * d->k + g * d->kg) * pq, *wg = w + g * d->kg * crs;
        float *dxg = dx + (n * d->c + g * d->cg) * hw;
        if (!dcol) { /* 1x1: dx_g = W_g^T dy_g directly */
            gemm(rn, 1, 0, d->cg, pq, d->kg, wg, crs, dyg, pq, 0.0f, dxg, pq);
            continue;
        }
        memset(dxg, 0, sizeof(float) * (size_t)(d->cg * hw));
        for (int64_t j0 = 0, nb = dcol_cols(d); j0 < pq; j0 += nb) {
            int64_t cols = min64(nb, pq - j0);
            gemm(rn, 1, 0, crs, cols, d->kg, wg, crs, dyg + j0, pq, 0.0f, dcol, cols);
            for (int64_t i = 0; i < crs; i++) col2im_row(d, dcol + i * cols, i, j0, cols, dxg);
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
    float *wt = ws_take(ws, WS_WT, (size_t)d->w_count);
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
    ws_give(ws, wt);
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
        const int algo = forward_algo(&t);
        if (algo == FWD_KVEC || algo == FWD_WINO ||
            (d->cg >= 16 &&
             (d->cg >= d->kg || (use_wide(d) && d->kg * d->r * d->s >= WIDE_MIN_CRS))))
            return backward_data_as_forward(ws, d, dy, w, dx);
    }

    int nt = image_threads(d);
    int64_t cf = is_pointwise(d) ? 0 : d->cg * d->r * d->s * dcol_cols(d);
    float *dcol = cf ? ws_take(ws, WS_DCOL, (size_t)(cf * nt)) : NULL;
    run rn;
    if ((cf && !dcol) || run_init(&rn, ws, 0)) {
        ws_give(ws, dcol);
        return CCNN_ENOMEM;
    }
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t n = 0; n < d->n; n++) {
            int tid = omp_get_thread_num();
            run t = run_thread(&rn, tid);
            backward_data_image(d, n, dy, w, dx, dcol ? dcol + cf * tid : NULL, &t);
        }
    } else {
        for (int64_t n = 0; n < d->n; n++) backward_data_image(d, n, dy, w, dx, dcol, &rn);
    }
    run_free(&rn);
    ws_give(ws, dcol);
    return CCNN_OK;
}

/* ---- backward weights ------------------------------------------------------ */

/* The weight gradient's algorithm: as the forward's, with the dot-product
 * kernel where the forward goes direct. */
enum { WG_ROWS, WG_POINTWISE, WG_WIDE, WG_DOT, WG_KVEC };

static int wgrad_algo(const ccnn_conv_dims *d)
{
    switch (forward_algo_direct(d)) {
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
static float *dot_sums(const ccnn_conv_dims *d, const run *rn, int64_t g)
{
    return rn->extra + row_ptr_floats(d) + g * d->cg * d->r * d->s * d->kg * CCNN_GEMM_DOT_LANES;
}

/* Adds image n's col * dy_g^T of group g into the lane sums: for a shallow
 * col (a first layer: 9 rows) each of its CRS x Kg results is a dot
 * product of a shifted stretch of xp with a dy plane, row by row (P rows
 * of Q), both read where they lie. */
static void wgrad_group_dot(const ccnn_conv_dims *d, const float *xg, const float *dyg,
                            float *sums, const run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, pq = d->p * d->q;
    const float **arow = (const float **)(void *)rn->extra; /* 64-byte aligned */
    float *xp = rn->extra + row_ptr_floats(d) + d->groups * crs * d->kg * CCNN_GEMM_DOT_LANES;
    wide_src src = {d, wide_pad(d, xg, xp), 0};
    for (int64_t i = 0; i < crs; i++) arow[i] = wide_row(&src, i);
    ccnn_gemm_dot_for(ccnn_get_isa())(crs, d->kg, d->p, d->q, arow, wide_wp(d), dyg, pq, d->q,
                                      sums);
}

/* c (CRS x Kg) = beta*c + wide col * dyw^T, where dyw is dy_g widened to
 * the wide layout with zeros in the garbage columns, so they add nothing. */
static void wgrad_group_wide(const ccnn_conv_dims *d, const float *xg, const float *dyg, float *c,
                             float beta, const run *rn)
{
    const int64_t crs = d->cg * d->r * d->s, nw = wide_cols(d);
    float *dyw = rn->extra, *xp = rn->extra + d->kg * nw;
    widen_dy(d, dyg, dyw);
    wide_src src = {d, wide_pad(d, xg, xp), 0};
    ccnn_gemm_matrix b = {dyw, nw, 1};
    ccnn_sgemm_ex(crs, d->kg, nw, pack_wide_rows, &src, ccnn_gemm_pack_b_matrix, &b, beta, c,
                  d->kg, rn->threaded, rn->ws);
}

/* c (CRS x Kg) = (accumulate ? c : 0) + col * dy_g^T by the direct
 * convolution's weight-gradient tiles. */
static void wgrad_group_kvec(const ccnn_conv_dims *d, const float *xg, const float *dyg, float *c,
                             int accumulate, const run *rn)
{
    const ccnn_direct_kernel *kr = ccnn_direct_kernel_for(ccnn_get_isa());
    float *dyt = rn->extra;
    float *xp = dyt + d->p * d->q * ccnn_conv_direct_kblocks(kr, d) * kr->kb;
    ccnn_conv_direct_transpose_dy(kr, d, dyg, dyt);
    ccnn_conv_direct_wgrad(kr, d, rn->taps, wide_pad(d, xg, xp), wide_wp(d), dyt, c, accumulate);
}

/* dwt = sum over images [n0, n1) of col * dy_g^T, i.e. the weight gradient
 * transposed, dwt[g][crs][k] (col as the GEMM's A packs into small slivers,
 * cheaper than as B); db likewise. Both overwritten. */
static void wgrad_chunk(const ccnn_conv_dims *d, int64_t n0, int64_t n1, const float *x,
                        const float *dy, float *dwt, float *db, const run *rn)
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
                gemm(rn, 0, 1, crs, d->kg, pq, xg, pq, dyg, pq, beta, c, d->kg);
            } else if (rn->algo == WG_DOT) {
                wgrad_group_dot(d, xg, dyg, dot_sums(d, rn, g), rn);
            } else if (rn->algo == WG_KVEC) {
                wgrad_group_kvec(d, xg, dyg, c, n > n0, rn);
            } else if (rn->algo == WG_WIDE) {
                wgrad_group_wide(d, xg, dyg, c, beta, rn);
            } else {
                ccnn_gemm_matrix b = {dyg, pq, 1};
                col_src cs = {d, xg};
                ccnn_sgemm_ex(crs, d->kg, pq, pack_col_rows, &cs, ccnn_gemm_pack_b_matrix, &b,
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
    float *parts = ws_take(ws, WS_PARTS, (size_t)(part * chunks));
    run rn;
    const int algo = wgrad_algo(d);
    if (!parts || run_init(&rn, ws, (size_t)wgrad_extra(d, algo))) {
        ws_give(ws, parts);
        return CCNN_ENOMEM;
    }
    rn.algo = algo;
    if (algo == WG_KVEC && run_direct_setup(&rn, d, NULL, NULL)) {
        run_free(&rn);
        ws_give(ws, parts);
        return CCNN_ENOMEM;
    }

    int nt = item_threads(chunks, conv_flops(d));
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int i = 0; i < chunks; i++) {
            run t = run_thread(&rn, omp_get_thread_num());
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
    run_free(&rn);
    ws_give(ws, parts);
    return CCNN_OK;
}
