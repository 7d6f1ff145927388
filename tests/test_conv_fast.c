/* test_conv_fast.c - the fast convolution and its GEMM against plain loops.
 *
 * Random convolutions (odd sizes, strides, asymmetric padding, dilation,
 * groups, depthwise, 1x1, many channels) are run through the fast path on
 * every ISA the CPU has and compared with the reference; outputs start as
 * NaN so any element left unwritten fails. Separate tests check that the bits do not
 * depend on the thread count, and the GEMM on its own. */
#include "test.h"
#include "ccnn_internal.h"
#include "kernels/gemm.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

/* ---- helpers ------------------------------------------------------------ */

static void fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

static size_t out_count(const ccnn_conv2d_params *p)
{
    int P, Q;
    ccnn_conv2d_output_size(p, &P, &Q);
    return (size_t)p->n * (size_t)p->k * (size_t)P * (size_t)Q;
}

static size_t x_count(const ccnn_conv2d_params *p)
{
    return (size_t)p->n * (size_t)p->c * (size_t)p->h * (size_t)p->w;
}

static size_t w_count(const ccnn_conv2d_params *p)
{
    int g = p->groups ? p->groups : 1;
    return (size_t)p->k * (size_t)(p->c / g) * (size_t)p->r * (size_t)p->s;
}

static const char *describe(const ccnn_conv2d_params *p)
{
    static char buf[200];
    snprintf(buf, sizeof buf, "n%d c%d h%d w%d k%d r%d s%d st%d,%d pad%d,%d,%d,%d dil%d,%d g%d",
             p->n, p->c, p->h, p->w, p->k, p->r, p->s, p->stride_h, p->stride_w, p->pad_top,
             p->pad_bottom, p->pad_left, p->pad_right, p->dilation_h, p->dilation_w, p->groups);
    return buf;
}

/* ---- random configurations ------------------------------------------------ */
enum { CFG_GENERAL, CFG_1X1, CFG_DEPTHWISE, CFG_GROUPS, CFG_WIDE, CFG_MANY_CHANNELS };

static void random_params(test_rng *rng, int kind, ccnn_conv2d_params *p)
{
    for (;;) {
        memset(p, 0, sizeof *p);
        /* mostly small batches; sometimes more images than the wgrad chunks */
        p->n = test_rand_int(rng, 0, 7) ? test_rand_int(rng, 1, 4) : test_rand_int(rng, 9, 12);
        p->h = test_rand_int(rng, 1, 13);
        p->w = test_rand_int(rng, 1, 13);
        p->r = test_rand_int(rng, 1, 7);
        p->s = test_rand_int(rng, 1, 7);
        p->stride_h = test_rand_int(rng, 0, 3); /* 0 means 1 */
        p->stride_w = test_rand_int(rng, 1, 3);
        p->dilation_h = test_rand_int(rng, 0, 3);
        p->dilation_w = test_rand_int(rng, 1, 3);
        p->pad_top = test_rand_int(rng, 0, 3);
        p->pad_bottom = test_rand_int(rng, 0, 3);
        p->pad_left = test_rand_int(rng, 0, 3);
        p->pad_right = test_rand_int(rng, 0, 3);
        int g = 1, cg = test_rand_int(rng, 1, 7), kg = test_rand_int(rng, 1, 9);
        switch (kind) {
        case CFG_1X1: /* 1x1, sometimes with stride/padding, sometimes plain */
            p->r = p->s = 1;
            if (test_rand_int(rng, 0, 1)) {
                p->stride_h = p->stride_w = 1;
                p->pad_top = p->pad_bottom = p->pad_left = p->pad_right = 0;
            }
            cg = test_rand_int(rng, 1, 40);
            kg = test_rand_int(rng, 1, 40);
            break;
        case CFG_DEPTHWISE: /* groups == C == K, sometimes K a multiple of C */
            g = test_rand_int(rng, 1, 9);
            cg = 1;
            kg = test_rand_int(rng, 0, 3) ? 1 : test_rand_int(rng, 2, 3);
            break;
        case CFG_GROUPS:
            g = test_rand_int(rng, 2, 3);
            break;
        case CFG_MANY_CHANNELS: /* Cg >= 16 at stride 1: dx as a flipped forward pass */
            g = test_rand_int(rng, 1, 3);
            cg = test_rand_int(rng, 16, 24);
            kg = test_rand_int(rng, 1, 20);
            p->stride_h = p->stride_w = test_rand_int(rng, 0, 1);
            p->r = test_rand_int(rng, 1, 5);
            p->s = test_rand_int(rng, 1, 5);
            p->n = test_rand_int(rng, 1, 3);
            break;
        case CFG_WIDE: /* several register tiles and K blocks in each GEMM */
            cg = test_rand_int(rng, 8, 45);
            kg = test_rand_int(rng, 8, 45);
            p->r = test_rand_int(rng, 1, 3);
            p->s = test_rand_int(rng, 1, 3);
            p->h = test_rand_int(rng, 5, 16);
            p->w = test_rand_int(rng, 5, 16);
            p->n = test_rand_int(rng, 1, 2);
            break;
        }
        p->c = g * cg;
        p->k = g * kg;
        p->groups = g == 1 && test_rand_int(rng, 0, 1) ? 0 : g; /* 0 means 1 */
        int P, Q;
        if (ccnn_conv2d_output_size(p, &P, &Q) == 0) return;
    }
}

/* Runs one configuration through all three passes on every ISA, with each
 * im2col layout. */
static void check_config(test_rng *rng, const ccnn_conv2d_params *p, const ccnn_isa *isas, int nisa)
{
    size_t nx = x_count(p), nw = w_count(p), ny = out_count(p), nk = (size_t)p->k;
    float *x = test_alloc(nx), *w = test_alloc(nw), *b = test_alloc(nk), *dy = test_alloc(ny);
    float *y_ref = test_alloc(ny), *dx_ref = test_alloc(nx), *dw_ref = test_alloc(nw),
          *db_ref = test_alloc(nk);
    float *y = test_alloc(ny), *dx = test_alloc(nx), *dw = test_alloc(nw), *db = test_alloc(nk);
    test_fill(rng, x, nx, -1, 1);
    test_fill(rng, w, nw, -1, 1);
    test_fill(rng, b, nk, -1, 1);
    test_fill(rng, dy, ny, -1, 1);
    int use_bias = test_rand_int(rng, 0, 1), use_dbias = test_rand_int(rng, 0, 1);

    CHECK_RC(ccnn_conv2d_forward_ref(p, x, w, use_bias ? b : NULL, y_ref), 0);
    CHECK_RC(ccnn_conv2d_backward_data_ref(p, dy, w, dx_ref), 0);
    CHECK_RC(ccnn_conv2d_backward_weights_ref(p, x, dy, dw_ref, db_ref), 0);

    ccnn_im2col_mode mode = ccnn_conv_fast_get_im2col();
    static const ccnn_im2col_mode modes[] = {CCNN_IM2COL_ROWS, CCNN_IM2COL_WIDE,
                                             CCNN_IM2COL_DIRECT, CCNN_IM2COL_NONE,
                                             CCNN_IM2COL_WINOGRAD};
    static const char *mode_names[] = {"rows", "wide", "direct", "none", "winograd"};
    const int nm = (int)(sizeof modes / sizeof modes[0]);
    for (int i = 0; i < nisa * nm; i++) {
        ccnn_set_isa(isas[i / nm]);
        ccnn_conv_fast_set_im2col(modes[i % nm]);
        char what[64];
        snprintf(what, sizeof what, "%s %s", ccnn_isa_name(isas[i / nm]), mode_names[i % nm]);
        fill_nan(y, ny);
        fill_nan(dx, nx);
        fill_nan(dw, nw);
        fill_nan(db, nk);
        CHECK_RC(ccnn_conv2d_forward(p, x, w, use_bias ? b : NULL, y), 0);
        CHECK_RC(ccnn_conv2d_backward_data(p, dy, w, dx), 0);
        CHECK_RC(ccnn_conv2d_backward_weights(p, x, dy, dw, use_dbias ? db : NULL), 0);
        double ey = test_rel_err(y, y_ref, ny, 1e-3), ex = test_rel_err(dx, dx_ref, nx, 1e-3);
        double ew = test_rel_err(dw, dw_ref, nw, 1e-3);
        double eb = use_dbias ? test_rel_err(db, db_ref, nk, 1e-3) : 0.0;
        CHECK_MSG(ey <= TOL, "forward %s: rel err %g (%s%s)", what, ey, describe(p),
                  use_bias ? " bias" : "");
        CHECK_MSG(ex <= TOL, "backward data %s: rel err %g (%s)", what, ex, describe(p));
        CHECK_MSG(ew <= TOL, "backward weights %s: rel err %g (%s)", what, ew, describe(p));
        CHECK_MSG(eb <= TOL, "backward bias %s: rel err %g (%s)", what, eb, describe(p));
    }
    ccnn_conv_fast_set_im2col(mode);
    free(x); free(w); free(b); free(dy);
    free(y_ref); free(dx_ref); free(dw_ref); free(db_ref);
    free(y); free(dx); free(dw); free(db);
}

static void run_random(int kind, int count, uint64_t seed)
{
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    test_rng rng = {seed};
    for (int i = 0; i < count && test_failed_now() < 10; i++) {
        ccnn_conv2d_params p;
        random_params(&rng, kind, &p);
        check_config(&rng, &p, isas, nisa);
    }
    ccnn_set_isa(cur);
    ccnn_conv2d_set_impl(impl);
}

/* 330 configurations x 3 passes = 990 comparisons per ISA. */
CCNN_TEST(conv_fast_random_general) { run_random(CFG_GENERAL, 120, 1); }
CCNN_TEST(conv_fast_random_1x1) { run_random(CFG_1X1, 50, 2); }
CCNN_TEST(conv_fast_random_depthwise) { run_random(CFG_DEPTHWISE, 50, 3); }
CCNN_TEST(conv_fast_random_groups) { run_random(CFG_GROUPS, 50, 4); }
CCNN_TEST(conv_fast_random_wide) { run_random(CFG_WIDE, 30, 5); }
CCNN_TEST(conv_fast_random_many_channels) { run_random(CFG_MANY_CHANNELS, 30, 6); }

/* Output planes wider than one GEMM panel (CCNN_GEMM_NC columns) and
 * sums longer than one K block, which the small random shapes rarely reach. */
CCNN_TEST(conv_fast_larger_images)
{
    static const ccnn_conv2d_params cfgs[] = {
        {.n = 2, .c = 20, .h = 33, .w = 31, .k = 36, .r = 3, .s = 3,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
        {.n = 2, .c = 9, .h = 61, .w = 47, .k = 20, .r = 5, .s = 3, .stride_h = 2, .stride_w = 1,
         .pad_top = 2, .pad_bottom = 1, .pad_left = 0, .pad_right = 2, .dilation_w = 2},
        {.n = 3, .c = 33, .h = 29, .w = 30, .k = 17, .r = 3, .s = 3, .groups = 1,
         .pad_top = 0, .pad_bottom = 2, .pad_left = 1, .pad_right = 1},
        {.n = 2, .c = 24, .h = 40, .w = 25, .k = 40, .r = 1, .s = 1},
    };
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    test_rng rng = {77};
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) check_config(&rng, &cfgs[c], isas, nisa);
    ccnn_set_isa(cur);
    ccnn_conv2d_set_impl(impl);
}

/* The edges of the direct tiles and of Winograd's tiles: every forward tile
 * width (1 to 14 pixels: a row is cut into equal tiles of at most 14), rows
 * of more than 16 Winograd tiles, odd output sizes (half-empty 2x2 tiles),
 * filter counts around the 32-filter blocks, tap counts that are not a
 * multiple of the 9 a weight-gradient tile takes, and pads wider than the
 * kernel (so the flipped backward-data pass has a negative pad, a crop). */
CCNN_TEST(conv_fast_tile_edges)
{
    static const int widths[] = {1, 2, 3, 5, 13, 14, 15, 16, 27, 29, 31, 33, 35, 41, 43};
    static const int heights[] = {1, 2, 3, 4, 7, 8};
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    test_rng rng = {808};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0] && test_failed_now() < 10; i++) {
        const int pad = i % 5 == 4 ? 3 : 1;
        ccnn_conv2d_params p = {.n = 2, .c = i % 2 ? 17 : 16, .h = heights[i % 6],
                                .w = widths[i], .k = i % 3 == 0 ? 33 : i % 3 == 1 ? 16 : 70,
                                .r = 3, .s = 3, .stride_h = i % 4 == 3 ? 2 : 1,
                                .stride_w = i % 4 == 3 ? 2 : 1, .pad_top = pad,
                                .pad_bottom = pad, .pad_left = pad, .pad_right = pad};
        check_config(&rng, &p, isas, nisa);
    }
    ccnn_set_isa(cur);
    ccnn_conv2d_set_impl(impl);
}

/* ---- bitwise independence of the thread count ------------------------------ */
static void check_threads_bitwise(const ccnn_conv2d_params *p, uint64_t seed)
{
    size_t nx = x_count(p), nw = w_count(p), ny = out_count(p), nk = (size_t)p->k;
    test_rng rng = {seed};
    float *x = test_alloc(nx), *w = test_alloc(nw), *b = test_alloc(nk), *dy = test_alloc(ny);
    float *out[3][4];
    size_t len[4] = {ny, nx, nw, nk};
    test_fill(&rng, x, nx, -1, 1);
    test_fill(&rng, w, nw, -1, 1);
    test_fill(&rng, b, nk, -1, 1);
    test_fill(&rng, dy, ny, -1, 1);
    for (int t = 0; t < 3; t++) {
        for (int j = 0; j < 4; j++) {
            out[t][j] = test_alloc(len[j]);
            fill_nan(out[t][j], len[j]);
        }
        ccnn_set_num_threads(t + 1);
        CHECK_RC(ccnn_conv2d_forward(p, x, w, b, out[t][0]), 0);
        CHECK_RC(ccnn_conv2d_backward_data(p, dy, w, out[t][1]), 0);
        CHECK_RC(ccnn_conv2d_backward_weights(p, x, dy, out[t][2], out[t][3]), 0);
    }
    ccnn_set_num_threads(0);
    static const char *names[4] = {"y", "dx", "dw", "dbias"};
    for (int t = 1; t < 3; t++)
        for (int j = 0; j < 4; j++)
            CHECK_MSG(memcmp(out[0][j], out[t][j], len[j] * sizeof(float)) == 0,
                      "%s differs between 1 and %d threads (%s, %s)", names[j], t + 1,
                      ccnn_isa_name(ccnn_get_isa()), describe(p));
    for (int t = 0; t < 3; t++)
        for (int j = 0; j < 4; j++) free(out[t][j]);
    free(x); free(w); free(b); free(dy);
}

CCNN_TEST(conv_fast_threads_bitwise)
{
    /* Batches of 5, 6 and 12 take both the per-image and the in-GEMM
     * threading at 2 and 3 threads; batch 1 threads only inside the GEMM.
     * Between them they reach every path: im2col, 1x1, groups, depthwise,
     * backward data through col2im and as a flipped forward pass. */
    static const ccnn_conv2d_params cfgs[] = {
        {.n = 6, .c = 16, .h = 20, .w = 19, .k = 40, .r = 3, .s = 3,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
        {.n = 5, .c = 18, .h = 17, .w = 21, .k = 36, .r = 3, .s = 5, .stride_h = 2, .stride_w = 1,
         .pad_top = 2, .pad_bottom = 0, .pad_left = 1, .pad_right = 3, .groups = 2},
        {.n = 12, .c = 40, .h = 15, .w = 15, .k = 70, .r = 1, .s = 1},
        {.n = 1, .c = 48, .h = 30, .w = 30, .k = 64, .r = 3, .s = 3, .dilation_h = 2,
         .dilation_w = 2, .pad_top = 2, .pad_bottom = 2, .pad_left = 2, .pad_right = 2},
        {.n = 5, .c = 40, .h = 16, .w = 15, .k = 24, .r = 3, .s = 3, .dilation_w = 2,
         .pad_top = 1, .pad_bottom = 2, .pad_left = 0, .pad_right = 3},
        {.n = 7, .c = 12, .h = 40, .w = 38, .k = 12, .r = 3, .s = 3, .groups = 12,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
    };
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    ccnn_im2col_mode mode = ccnn_conv_fast_get_im2col();
    for (int i = 0; i < nisa; i++) {
        ccnn_set_isa(isas[i]);
        for (int m = CCNN_IM2COL_ROWS; m <= CCNN_IM2COL_WINOGRAD; m++) {
            ccnn_conv_fast_set_im2col((ccnn_im2col_mode)m);
            for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++)
                check_threads_bitwise(&cfgs[c], 100 + c);
        }
    }
    ccnn_conv_fast_set_im2col(mode);
    ccnn_set_isa(cur);
    ccnn_conv2d_set_impl(impl);
}

/* The wide layout and the direct tiles feed the same col values in the same
 * K order as the row-by-row im2col, so the forward pass must give the same
 * bits; this catches a shifted or stale row that the tolerance could hide. */
CCNN_TEST(conv_fast_wide_forward_bitwise)
{
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_im2col_mode mode = ccnn_conv_fast_get_im2col();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    test_rng rng = {404};
    for (int i = 0; i < 60 && test_failed_now() < 10; i++) {
        ccnn_conv2d_params p;
        random_params(&rng, i % 2 ? CFG_WIDE : CFG_GENERAL, &p);
        p.stride_h = p.stride_w = 1;
        int P, Q;
        if (ccnn_conv2d_output_size(&p, &P, &Q)) continue;
        size_t nx = x_count(&p), nw = w_count(&p), ny = out_count(&p);
        float *x = test_alloc(nx), *w = test_alloc(nw), *b = test_alloc((size_t)p.k);
        float *y0 = test_alloc(ny), *y1 = test_alloc(ny);
        test_fill(&rng, x, nx, -1, 1);
        test_fill(&rng, w, nw, -1, 1);
        test_fill(&rng, b, (size_t)p.k, -1, 1);
        ccnn_set_isa(isas[i % nisa]);
        fill_nan(y0, ny);
        fill_nan(y1, ny);
        ccnn_conv_fast_set_im2col(CCNN_IM2COL_ROWS);
        CHECK_RC(ccnn_conv2d_forward(&p, x, w, i % 3 ? b : NULL, y0), 0);
        for (int m = CCNN_IM2COL_WIDE; m <= CCNN_IM2COL_DIRECT; m++) {
            fill_nan(y1, ny);
            ccnn_conv_fast_set_im2col((ccnn_im2col_mode)m);
            CHECK_RC(ccnn_conv2d_forward(&p, x, w, i % 3 ? b : NULL, y1), 0);
            CHECK_MSG(memcmp(y0, y1, ny * sizeof(float)) == 0,
                      "%s forward differs from rows (%s, %s)",
                      m == CCNN_IM2COL_WIDE ? "wide" : "direct", ccnn_isa_name(isas[i % nisa]),
                      describe(&p));
        }
        free(x); free(w); free(b); free(y0); free(y1);
    }
    ccnn_conv_fast_set_im2col(mode);
    ccnn_set_isa(cur);
    ccnn_conv2d_set_impl(impl);
}

/* ---- the GEMM on its own ------------------------------------------------------ */

/* C = beta*C + op(A) op(B) in double, the slow obvious way. */
static void naive_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                       (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = (float)(beta == 0.0f ? acc : beta * C[i * ldc + j] + acc);
        }
}

CCNN_TEST(conv_fast_sgemm_vs_naive)
{
    static const int shapes[][3] = {
        {1, 1, 1}, {7, 13, 5}, {9, 33, 17}, {8, 32, 256}, {13, 31, 257},
        {37, 70, 300}, {5, 600, 41}, {70, 3, 129}, {23, 529, 600}, {3, 2, 0},
    };
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    test_rng rng = {42};
    for (int ii = 0; ii < nisa; ii++) {
        ccnn_set_isa(isas[ii]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
        for (int bi = 0; bi < 3; bi++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            /* Leading dimensions larger than needed: submatrices. */
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
            size_t na = (size_t)(ta ? K : M) * lda + 1, nb = (size_t)(tb ? N : K) * ldb + 1;
            size_t nc = (size_t)M * ldc;
            float *A = test_alloc(na), *B = test_alloc(nb), *C = test_alloc(nc),
                  *R = test_alloc(nc);
            test_fill(&rng, A, na, -1, 1);
            test_fill(&rng, B, nb, -1, 1);
            float beta = betas[bi];
            if (beta == 0.0f) fill_nan(C, nc); /* must not be read */
            else test_fill(&rng, C, nc, -1, 1);
            memcpy(R, C, nc * sizeof(float));
            naive_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, R, ldc);
            int serial = (int)(s + bi) % 2;
            (serial ? ccnn_sgemm_serial : ccnn_sgemm)(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
            double worst = 0, scale = 1e-3;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    scale = fmax(scale, fabs(R[i * ldc + j]));
                    double e = fabs((double)C[i * ldc + j] - R[i * ldc + j]);
                    if (!(e <= worst)) worst = e;
                }
            CHECK_MSG(worst / scale <= 1e-5, "sgemm %s ta%d tb%d %dx%dx%d beta %g: rel err %g",
                      ccnn_isa_name(isas[ii]), ta, tb, M, N, K, beta, worst / scale);
            /* the padding between rows of C is not touched */
            int pad_ok = 1;
            for (int i = 0; i < M; i++)
                for (int j = N; j < ldc; j++)
                    if (memcmp(&C[i * ldc + j], &R[i * ldc + j], sizeof(float))) pad_ok = 0;
            CHECK_MSG(pad_ok, "sgemm wrote outside C (%dx%dx%d)", M, N, K);
            free(A); free(B); free(C); free(R);
        }
    }
    ccnn_set_isa(cur);
}

CCNN_TEST(conv_fast_sgemm_threads_bitwise)
{
    const int M = 45, N = 333, K = 700;
    test_rng rng = {7};
    ccnn_isa isas[3], cur = ccnn_get_isa();
    int nisa = test_isas(isas);
    float *A = test_alloc((size_t)M * K), *B = test_alloc((size_t)K * N);
    float *C[4];
    test_fill(&rng, A, (size_t)M * K, -1, 1);
    test_fill(&rng, B, (size_t)K * N, -1, 1);
    for (int i = 0; i < 4; i++) C[i] = test_alloc((size_t)M * N);
    for (int ii = 0; ii < nisa; ii++) {
        ccnn_set_isa(isas[ii]);
        for (int tb = 0; tb < 2; tb++) {
            ccnn_sgemm_serial(0, tb, M, N, K, A, K, B, tb ? K : N, 0.0f, C[0], N);
            for (int t = 1; t <= 3; t++) {
                ccnn_set_num_threads(t);
                ccnn_sgemm(0, tb, M, N, K, A, K, B, tb ? K : N, 0.0f, C[t], N);
                CHECK_MSG(memcmp(C[0], C[t], sizeof(float) * (size_t)M * N) == 0,
                          "sgemm at %d threads differs from serial (%s, tb %d)", t,
                          ccnn_isa_name(isas[ii]), tb);
            }
            ccnn_set_num_threads(0);
        }
    }
    ccnn_set_isa(cur);
    for (int i = 0; i < 4; i++) free(C[i]);
    free(A);
    free(B);
}

/* ---- the workspace ------------------------------------------------------------ */

/* One workspace through a run of different shapes (growing and shrinking,
 * every path: im2col rows and wide, 1x1, groups, depthwise, dx as a
 * forward pass and through col2im) gives the same bits as calls without
 * one; outputs start as NaN, so a stale buffer or a missed write shows. */
CCNN_TEST(conv_fast_workspace_same_bits)
{
    ccnn_conv_impl impl = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    ccnn_conv2d_workspace *ws = ccnn_conv2d_workspace_create();
    REQUIRE(ws);
    test_rng rng = {505};
    static const int kinds[] = {CFG_WIDE, CFG_GENERAL, CFG_1X1, CFG_MANY_CHANNELS, CFG_DEPTHWISE,
                                CFG_GROUPS};
    for (int i = 0; i < 48 && test_failed_now() < 10; i++) {
        ccnn_conv2d_params p;
        random_params(&rng, kinds[i % 6], &p);
        size_t nx = x_count(&p), nw = w_count(&p), ny = out_count(&p), nk = (size_t)p.k;
        float *x = test_alloc(nx), *w = test_alloc(nw), *b = test_alloc(nk), *dy = test_alloc(ny);
        float *a[4], *c[4];
        size_t len[4] = {ny, nx, nw, nk};
        test_fill(&rng, x, nx, -1, 1);
        test_fill(&rng, w, nw, -1, 1);
        test_fill(&rng, b, nk, -1, 1);
        test_fill(&rng, dy, ny, -1, 1);
        for (int j = 0; j < 4; j++) {
            a[j] = test_alloc(len[j]);
            c[j] = test_alloc(len[j]);
            fill_nan(a[j], len[j]);
            fill_nan(c[j], len[j]);
        }
        CHECK_RC(ccnn_conv2d_forward(&p, x, w, b, a[0]), 0);
        CHECK_RC(ccnn_conv2d_backward_data(&p, dy, w, a[1]), 0);
        CHECK_RC(ccnn_conv2d_backward_weights(&p, x, dy, a[2], a[3]), 0);
        CHECK_RC(ccnn_conv2d_forward_ws(ws, &p, x, w, b, c[0]), 0);
        CHECK_RC(ccnn_conv2d_backward_data_ws(ws, &p, dy, w, c[1]), 0);
        CHECK_RC(ccnn_conv2d_backward_weights_ws(ws, &p, x, dy, c[2], c[3]), 0);
        static const char *names[4] = {"y", "dx", "dw", "dbias"};
        for (int j = 0; j < 4; j++) {
            CHECK_MSG(memcmp(a[j], c[j], len[j] * sizeof(float)) == 0,
                      "%s differs with a workspace (%s)", names[j], describe(&p));
            free(a[j]);
            free(c[j]);
        }
        free(x); free(w); free(b); free(dy);
    }
    ccnn_conv2d_workspace_free(ws);
    ccnn_conv2d_workspace_free(NULL);
    ccnn_conv2d_set_impl(impl);
}
