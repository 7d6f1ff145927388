/* test_conv_example.c - the worked example of docs/backprop.md ("Worked
 * example"), checked number for number.
 *
 * N=1, C=2, H=W=5, K=2 filters of 2x3x3, stride 2, padding 1 on the top
 * and the left only (bottom = right = 0), dilation 1, groups 1, a bias per
 * filter; so P = Q = 2. The tables below are the doc's tables, flattened in
 * NCHW / KCRS order. They are small integers and every product and sum is
 * exact in float, so the results must match exactly (the 1e-5 tolerance is
 * a formality); any difference is an indexing bug.
 *
 * The same numbers go through the reference (_ref) functions and through the
 * public ones on each implementation (fast, the default, and ref). A last
 * test rebuilds dx the way the doc explains it: zero-insert dy, pad it,
 * and run a forward convolution with the flipped, channel/filter-swapped
 * kernel. If you change a number here, change the doc too. */
#include "test.h"
#include <string.h>

#define EX_N 1
#define EX_C 2
#define EX_H 5
#define EX_W 5
#define EX_K 2
#define EX_R 3
#define EX_S 3
#define EX_P 2
#define EX_Q 2
#define EX_SH 2
#define EX_SW 2
#define EX_HD ((EX_P - 1) * EX_SH + 1) /* dy with zeros inserted: 3 x 3 */
#define EX_WD ((EX_Q - 1) * EX_SW + 1)

#define EX_X_COUNT (EX_N * EX_C * EX_H * EX_W)
#define EX_W_COUNT (EX_K * EX_C * EX_R * EX_S)
#define EX_Y_COUNT (EX_N * EX_K * EX_P * EX_Q)

static const ccnn_conv2d_params ex_params = {
    .n = EX_N, .c = EX_C, .h = EX_H, .w = EX_W,
    .k = EX_K, .r = EX_R, .s = EX_S,
    .stride_h = EX_SH, .stride_w = EX_SW,
    .pad_top = 1, .pad_bottom = 0, .pad_left = 1, .pad_right = 0,
    .dilation_h = 1, .dilation_w = 1,
    .groups = 1,
};

/* x[0,c,h,w] */
static const float ex_x[EX_X_COUNT] = {
    /* c = 0 */
     0, -1,  1, -2, -2,
     2, -2,  0,  2, -2,
     2, -1, -2, -2,  1,
     1, -2, -1, -2,  2,
     1, -2,  2, -2, -1,
    /* c = 1 */
     2, -2,  2,  2,  1,
    -2, -1, -2,  2, -1,
     0,  1, -1,  2, -2,
     2,  0,  2, -1, -2,
     2,  2, -1,  0, -2,
};

/* w[k,c,r,s] */
static const float ex_w[EX_W_COUNT] = {
    /* k = 0, c = 0 */   1,  1, -1,    1, -1,  1,   -1,  0,  1,
    /* k = 0, c = 1 */   1,  0,  0,    0,  1,  0,    0,  0, -1,
    /* k = 1, c = 0 */  -1,  1, -1,   -1,  1,  0,    1,  0,  0,
    /* k = 1, c = 1 */   1,  0,  0,    1, -1, -1,    1,  0, -1,
};

static const float ex_b[EX_K] = { 1, -2 };

/* y[0,k,p,q] (bias included) */
static const float ex_y[EX_Y_COUNT] = {
    /* k = 0 */   1,   1,    0,  -5,
    /* k = 1 */  -1, -11,    3,  -5,
};

/* the upstream gradient dy[0,k,p,q] = dL/dy */
static const float ex_dy[EX_Y_COUNT] = {
    /* k = 0 */   1, -1,    2,  1,
    /* k = 1 */  -1,  2,    1,  2,
};

/* dx[0,c,h,w]: the last row and column are 0 (no output reads them). */
static const float ex_dx[EX_X_COUNT] = {
    /* c = 0 */
    -2, -2,  3, -1,  0,
     3,  0,  3, -4,  0,
    -1,  1,  1,  1,  0,
     0,  3,  0,  1,  0,
     0,  0,  0,  0,  0,
    /* c = 1 */
     2,  3, -3, -2,  0,
     0,  5,  0, -1,  0,
     1,  1, -1, -2,  0,
     0, -1,  0, -3,  0,
     0,  0,  0,  0,  0,
};

/* dw[k,c,r,s] */
static const float ex_dw[EX_W_COUNT] = {
    /* k = 0, c = 0 */  -2,  4, -2,    0,  1, -3,    0,  3, -10,
    /* k = 0, c = 1 */  -1, -6,  0,    3, -1,  0,    1,  6,  -4,
    /* k = 1, c = 0 */  -4,  2,  2,   -4,  0, -8,   -8, -3,   0,
    /* k = 1, c = 1 */  -2, -6,  3,   -2,  0, 11,   -2,  4,   3,
};

static const float ex_db[EX_K] = { 3, 4 };

#define EX_TOL 1e-5

typedef int (*fwd_fn)(const ccnn_conv2d_params *, const float *, const float *, const float *, float *);
typedef int (*bwd_data_fn)(const ccnn_conv2d_params *, const float *, const float *, float *);
typedef int (*bwd_w_fn)(const ccnn_conv2d_params *, const float *, const float *, float *, float *);

/* Runs the three calls and checks y, dx, dw, db, plus the NULL-bias forms:
 * forward without a bias gives y - b, and dbias = NULL leaves dw the same.
 * Outputs start as NaN, so a value the function forgets to write (such as
 * dx's all-zero last row) shows up. */
static void run_example(fwd_fn fwd, bwd_data_fn bwd_data, bwd_w_fn bwd_w)
{
    float y[EX_Y_COUNT], dx[EX_X_COUNT], dw[EX_W_COUNT], db[EX_K];

    test_fill_nan(y, EX_Y_COUNT);
    CHECK_RC(fwd(&ex_params, ex_x, ex_w, ex_b, y), CCNN_OK);
    CHECK_TABLE("y", y, ex_y, EX_Y_COUNT, EX_TOL);

    test_fill_nan(dx, EX_X_COUNT);
    CHECK_RC(bwd_data(&ex_params, ex_dy, ex_w, dx), CCNN_OK);
    CHECK_TABLE("dx", dx, ex_dx, EX_X_COUNT, EX_TOL);

    test_fill_nan(dw, EX_W_COUNT);
    test_fill_nan(db, EX_K);
    CHECK_RC(bwd_w(&ex_params, ex_x, ex_dy, dw, db), CCNN_OK);
    CHECK_TABLE("dw", dw, ex_dw, EX_W_COUNT, EX_TOL);
    CHECK_TABLE("db", db, ex_db, EX_K, EX_TOL);

    float y_nobias[EX_Y_COUNT];
    for (int i = 0; i < EX_Y_COUNT; i++) y_nobias[i] = ex_y[i] - ex_b[i / (EX_P * EX_Q)];
    test_fill_nan(y, EX_Y_COUNT);
    CHECK_RC(fwd(&ex_params, ex_x, ex_w, NULL, y), CCNN_OK);
    CHECK_TABLE("y without bias", y, y_nobias, EX_Y_COUNT, EX_TOL);

    test_fill_nan(dw, EX_W_COUNT);
    CHECK_RC(bwd_w(&ex_params, ex_x, ex_dy, dw, NULL), CCNN_OK);
    CHECK_TABLE("dw with dbias NULL", dw, ex_dw, EX_W_COUNT, EX_TOL);
}

CCNN_TEST(conv_example_output_size)
{
    int oh = -1, ow = -1;
    CHECK_RC(ccnn_conv2d_output_size(&ex_params, &oh, &ow), CCNN_OK);
    /* P = floor((5 + 1 + 0 - 1*(3-1) - 1) / 2) + 1 = floor(3/2) + 1 = 2 */
    CHECK(oh == EX_P);
    CHECK(ow == EX_Q);
}

CCNN_TEST(conv_example_ref)
{
    run_example(ccnn_conv2d_forward_ref, ccnn_conv2d_backward_data_ref,
                ccnn_conv2d_backward_weights_ref);
}

/* The public entry points on the fast path (the default). */
CCNN_TEST(conv_example_public_fast)
{
    ccnn_conv_impl saved = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    run_example(ccnn_conv2d_forward, ccnn_conv2d_backward_data, ccnn_conv2d_backward_weights);
    ccnn_conv2d_set_impl(saved);
}

/* The public entry points switched to the reference. */
CCNN_TEST(conv_example_public_ref)
{
    ccnn_conv_impl saved = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_REF);
    run_example(ccnn_conv2d_forward, ccnn_conv2d_backward_data, ccnn_conv2d_backward_weights);
    ccnn_conv2d_set_impl(saved);
}

/* The doc's recipe for dx, carried out with the forward convolution:
 *   1. insert sh-1 zeros between the rows of dy and sw-1 between its
 *      columns: P x Q -> Hd x Wd with Hd = (P-1)*sh + 1;
 *   2. pad it by (R-1)*dh - pt on top, (R-1)*dh - pb + rem_h at the bottom
 *      (rem_h = rows the forward stride left unread), likewise left/right;
 *   3. correlate with stride 1 with the kernel rotated 180 degrees and its
 *      filter and channel axes swapped: w'[c,k,r,s] = w[k,c,R-1-r,S-1-s].
 * The result must be exactly ex_dx. */
CCNN_TEST(conv_example_dx_is_flipped_transposed_conv)
{
    /* rows / columns of the padded input that the forward stride never reached */
    const int rem_h = (EX_H + ex_params.pad_top + ex_params.pad_bottom - (EX_R - 1) - 1) % EX_SH;
    const int rem_w = (EX_W + ex_params.pad_left + ex_params.pad_right - (EX_S - 1) - 1) % EX_SW;

    float dil[EX_N * EX_K * EX_HD * EX_WD];
    memset(dil, 0, sizeof dil);
    for (int k = 0; k < EX_K; k++)
        for (int p = 0; p < EX_P; p++)
            for (int q = 0; q < EX_Q; q++)
                dil[(k * EX_HD + p * EX_SH) * EX_WD + q * EX_SW] = ex_dy[(k * EX_P + p) * EX_Q + q];

    float wt[EX_C * EX_K * EX_R * EX_S]; /* C filters of K x R x S */
    for (int c = 0; c < EX_C; c++)
        for (int k = 0; k < EX_K; k++)
            for (int r = 0; r < EX_R; r++)
                for (int s = 0; s < EX_S; s++)
                    wt[((c * EX_K + k) * EX_R + r) * EX_S + s] =
                        ex_w[((k * EX_C + c) * EX_R + (EX_R - 1 - r)) * EX_S + (EX_S - 1 - s)];

    ccnn_conv2d_params t = {
        .n = EX_N, .c = EX_K, .h = EX_HD, .w = EX_WD,
        .k = EX_C, .r = EX_R, .s = EX_S,
        .stride_h = 1, .stride_w = 1,
        .pad_top = (EX_R - 1) - ex_params.pad_top,
        .pad_bottom = (EX_R - 1) - ex_params.pad_bottom + rem_h,
        .pad_left = (EX_S - 1) - ex_params.pad_left,
        .pad_right = (EX_S - 1) - ex_params.pad_right + rem_w,
        .dilation_h = 1, .dilation_w = 1, .groups = 1,
    };
    int oh = -1, ow = -1;
    CHECK_RC(ccnn_conv2d_output_size(&t, &oh, &ow), CCNN_OK);
    REQUIRE(oh == EX_H && ow == EX_W);

    float dx[EX_X_COUNT];
    test_fill_nan(dx, EX_X_COUNT);
    CHECK_RC(ccnn_conv2d_forward_ref(&t, dil, wt, NULL, dx), CCNN_OK);
    CHECK_TABLE("dx via flipped transposed conv", dx, ex_dx, EX_X_COUNT, EX_TOL);
}
