/* test_conv_example2.c - the second worked example of docs/backprop.md
 * ("Second example: a batch, dilation and groups"), checked number for
 * number, as tests/test_conv_example.c checks the first.
 *
 * N=2, C=2, H=W=5, K=4 filters of 1x2x2 in G=2 groups (filters 0,1 read
 * channel 0; filters 2,3 channel 1), stride 2, dilation 2, padding top 1
 * and right 1 (bottom = left = 0), a bias; so P = Q = 2. The values are
 * `ccnn explain --input 2x2x5x5 --filters 4 --size 2 --stride 2 --dilation 2
 * --pad 1,0,0,1 --groups 2 --seed 330`'s (the same tables as the doc and
 * its figures). Small integers: every result is exact.
 *
 * Besides the reference and the public calls, dx is rebuilt twice more, as
 * the doc explains it: by the scatter form (loops written here), and as a
 * stride-1 grouped correlation of the zero-inserted, padded delta with the
 * flipped, transposed kernel. If you change a number here, change the doc
 * and docs/figures/ too (scripts/make-figures.sh). */
#include "test.h"
#include <string.h>

#define E2_N 2
#define E2_C 2
#define E2_H 5
#define E2_W 5
#define E2_K 4
#define E2_G 2
#define E2_CG (E2_C / E2_G)
#define E2_KG (E2_K / E2_G)
#define E2_R 2
#define E2_S 2
#define E2_P 2
#define E2_Q 2
#define E2_X_COUNT (E2_N * E2_C * E2_H * E2_W)
#define E2_W_COUNT (E2_K * E2_CG * E2_R * E2_S)
#define E2_Y_COUNT (E2_N * E2_K * E2_P * E2_Q)

static const ccnn_conv2d_params e2_params = {
    .n = E2_N, .c = E2_C, .h = E2_H, .w = E2_W,
    .k = E2_K, .r = E2_R, .s = E2_S,
    .stride_h = 2, .stride_w = 2,
    .pad_top = 1, .pad_bottom = 0, .pad_left = 0, .pad_right = 1,
    .dilation_h = 2, .dilation_w = 2,
    .groups = E2_G,
};

/* x[n,c,h,w] */
static const float e2_x[E2_X_COUNT] = {
    /* n = 0, c = 0 */
     2,  2, -1,  0,  1,
    -2,  1, -2,  1,  1,
     0,  0,  2,  2,  0,
     0,  1,  0,  2,  1,
    -2,  2,  2, -1, -2,
    /* n = 0, c = 1 */
     2, -2,  0,  0, -2,
     0,  2,  2,  0, -1,
    -1, -2, -2, -1, -1,
     1,  1,  0,  0,  0,
    -2,  2, -2,  0, -1,
    /* n = 1, c = 0 */
    -2,  1,  2,  1, -1,
     2, -2,  1, -1, -2,
    -2, -1, -2,  2,  0,
     2,  0, -1,  0,  0,
    -1,  0,  1, -2, -1,
    /* n = 1, c = 1 */
     2,  2, -1,  0,  2,
     1,  1, -1,  2,  0,
     1,  0, -2,  2,  0,
    -2, -2,  1,  2, -1,
     2, -1, -1, -1,  2,
};

/* w[k,0,r,s] (one channel per filter: Cg = 1) */
static const float e2_w[E2_W_COUNT] = {
    /* k = 0 */ -1,  0, -1, -1,
    /* k = 1 */ -1,  1,  1, -1,
    /* k = 2 */ -1,  1,  0,  0,
    /* k = 3 */  1, -1, -1,  1,
};

static const float e2_b[E2_K] = { -1, -1, 1, -2 };

/* y[n,k,p,q] (bias included) */
static const float e2_y[E2_Y_COUNT] = {
    /* n = 0, k = 0 */  3,  0,  1,  0,
    /* n = 0, k = 1 */ -1, -4, -1,  1,
    /* n = 0, k = 2 */  1,  1,  3, -2,
    /* n = 0, k = 3 */  0, -5, -5,  1,
    /* n = 1, k = 0 */ -4,  0, -4, -1,
    /* n = 1, k = 1 */  0,  2,  1, -5,
    /* n = 1, k = 2 */  1,  1, -1,  2,
    /* n = 1, k = 3 */ -4, -1,  3, -5,
};

/* the upstream gradient dy[n,k,p,q] */
static const float e2_dy[E2_Y_COUNT] = {
    /* n = 0, k = 0 */  2, -1, -1, -2,
    /* n = 0, k = 1 */  0, -2,  0,  1,
    /* n = 0, k = 2 */  2, -2, -1,  1,
    /* n = 0, k = 3 */ -1,  0, -1, -2,
    /* n = 1, k = 0 */  1, -1,  2,  2,
    /* n = 1, k = 1 */  2,  1, -2,  1,
    /* n = 1, k = 2 */  1,  1,  1, -2,
    /* n = 1, k = 3 */ -2, -2, -2,  2,
};

/* dx[n,c,h,w]: rows 0 and 2 (dilation gaps), row 4 (below the last window)
 * and columns 1 and 3 (dilation gaps) are 0: no window reads them. */
static const float e2_dx[E2_X_COUNT] = {
    /* n = 0, c = 0 */
     0,  0,  0,  0,  0,
    -1,  0, -2,  0,  4,
     0,  0,  0,  0,  0,
     1,  0,  4,  0,  1,
     0,  0,  0,  0,  0,
    /* n = 0, c = 1 */
     0,  0,  0,  0,  0,
     1,  0, -4,  0,  3,
     0,  0,  0,  0,  0,
     1,  0,  1,  0, -2,
     0,  0,  0,  0,  0,
    /* n = 1, c = 0 */
     0,  0,  0,  0,  0,
     1,  0, -6,  0,  1,
     0,  0,  0,  0,  0,
    -4,  0, -1,  0, -3,
     0,  0,  0,  0,  0,
    /* n = 1, c = 1 */
     0,  0,  0,  0,  0,
    -1,  0,  7,  0, -6,
     0,  0,  0,  0,  0,
     2,  0, -4,  0,  2,
     0,  0,  0,  0,  0,
};

/* dw[k,0,r,s] */
static const float e2_dw[E2_W_COUNT] = {
    /* k = 0 */ 12, -2,  1, -6,
    /* k = 1 */ -5, -3,  4,  1,
    /* k = 2 */  5, -4, -9,  8,
    /* k = 3 */ -8,  2,  5, -4,
};

static const float e2_db[E2_K] = { 2, 1, 1, -8 };

typedef int (*fwd_fn)(const ccnn_conv2d_params *, const float *, const float *, const float *, float *);
typedef int (*bwd_data_fn)(const ccnn_conv2d_params *, const float *, const float *, float *);
typedef int (*bwd_w_fn)(const ccnn_conv2d_params *, const float *, const float *, float *, float *);

static void run_example(fwd_fn fwd, bwd_data_fn bwd_data, bwd_w_fn bwd_w)
{
    float y[E2_Y_COUNT], dx[E2_X_COUNT], dw[E2_W_COUNT], db[E2_K];
    test_fill_nan(y, E2_Y_COUNT);
    CHECK_RC(fwd(&e2_params, e2_x, e2_w, e2_b, y), CCNN_OK);
    CHECK_TABLE("y", y, e2_y, E2_Y_COUNT, 1e-5);
    test_fill_nan(dx, E2_X_COUNT);
    CHECK_RC(bwd_data(&e2_params, e2_dy, e2_w, dx), CCNN_OK);
    CHECK_TABLE("dx", dx, e2_dx, E2_X_COUNT, 1e-5);
    test_fill_nan(dw, E2_W_COUNT);
    test_fill_nan(db, E2_K);
    CHECK_RC(bwd_w(&e2_params, e2_x, e2_dy, dw, db), CCNN_OK);
    CHECK_TABLE("dw", dw, e2_dw, E2_W_COUNT, 1e-5);
    CHECK_TABLE("db", db, e2_db, E2_K, 1e-5);
}

CCNN_TEST(conv_example2_output_size)
{
    int oh = -1, ow = -1;
    CHECK_RC(ccnn_conv2d_output_size(&e2_params, &oh, &ow), CCNN_OK);
    /* P = floor((5 + 1 + 0 - 2*(2-1) - 1) / 2) + 1 = floor(3/2) + 1 = 2; Q alike with 0 + 1 */
    CHECK(oh == E2_P && ow == E2_Q);
}

CCNN_TEST(conv_example2_ref)
{
    run_example(ccnn_conv2d_forward_ref, ccnn_conv2d_backward_data_ref, ccnn_conv2d_backward_weights_ref);
}

CCNN_TEST(conv_example2_public)
{
    ccnn_conv_impl saved = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    run_example(ccnn_conv2d_forward, ccnn_conv2d_backward_data, ccnn_conv2d_backward_weights);
    ccnn_conv2d_set_impl(CCNN_CONV_REF);
    run_example(ccnn_conv2d_forward, ccnn_conv2d_backward_data, ccnn_conv2d_backward_weights);
    ccnn_conv2d_set_impl(saved);
}

/* The scatter form: for each output, add w times dy into its input window.
 * No divisibility test; taps in the padding are skipped. */
CCNN_TEST(conv_example2_dx_scatter_form)
{
    const ccnn_conv2d_params *p = &e2_params;
    float dx[E2_X_COUNT];
    memset(dx, 0, sizeof dx);
    for (int n = 0; n < E2_N; n++)
        for (int k = 0; k < E2_K; k++) {
            int g = k / E2_KG;
            for (int pp = 0; pp < E2_P; pp++)
                for (int q = 0; q < E2_Q; q++)
                    for (int cc = 0; cc < E2_CG; cc++)
                        for (int r = 0; r < E2_R; r++)
                            for (int s = 0; s < E2_S; s++) {
                                int h = pp * p->stride_h + r * p->dilation_h - p->pad_top;
                                int w = q * p->stride_w + s * p->dilation_w - p->pad_left;
                                if (h < 0 || h >= E2_H || w < 0 || w >= E2_W) continue;
                                dx[((n * E2_C + g * E2_CG + cc) * E2_H + h) * E2_W + w] +=
                                    e2_w[((k * E2_CG + cc) * E2_R + r) * E2_S + s] *
                                    e2_dy[((n * E2_K + k) * E2_P + pp) * E2_Q + q];
                            }
        }
    CHECK_TABLE("dx by scatter", dx, e2_dx, E2_X_COUNT, 1e-5);
}

/* dx as the doc's full correlation, with groups and dilation:
 *   D: dy with sh-1 zero rows / sw-1 zero columns inserted, 3 x 3;
 *   padded (R-1)*dh - pt = 1 top, (R-1)*dh - pb + rem_h = 3 bottom,
 *   (S-1)*dw - pl = 2 left, (S-1)*dw - pr + rem_w = 2 right (rem_h = rem_w = 1);
 *   a stride-1 correlation, dilation 2, G groups, with C filters of Kg x R x S:
 *   w'[c,k',r,s] = w[g*Kg + k', c - g*Cg, R-1-r, S-1-s]. */
CCNN_TEST(conv_example2_dx_is_flipped_transposed_conv)
{
    const ccnn_conv2d_params *p = &e2_params;
    enum { HD = (E2_P - 1) * 2 + 1, WD = (E2_Q - 1) * 2 + 1 };
    float dil[E2_N * E2_K * HD * WD];
    memset(dil, 0, sizeof dil);
    for (int n = 0; n < E2_N; n++)
        for (int k = 0; k < E2_K; k++)
            for (int pp = 0; pp < E2_P; pp++)
                for (int q = 0; q < E2_Q; q++)
                    dil[((n * E2_K + k) * HD + pp * p->stride_h) * WD + q * p->stride_w] =
                        e2_dy[((n * E2_K + k) * E2_P + pp) * E2_Q + q];
    float wt[E2_C * E2_KG * E2_R * E2_S];
    for (int c = 0; c < E2_C; c++) {
        int g = c / E2_CG, cc = c - g * E2_CG;
        for (int kk = 0; kk < E2_KG; kk++)
            for (int r = 0; r < E2_R; r++)
                for (int s = 0; s < E2_S; s++)
                    wt[((c * E2_KG + kk) * E2_R + r) * E2_S + s] =
                        e2_w[(((g * E2_KG + kk) * E2_CG + cc) * E2_R + (E2_R - 1 - r)) * E2_S + (E2_S - 1 - s)];
    }
    int rem_h = (E2_H + p->pad_top + p->pad_bottom - p->dilation_h * (E2_R - 1) - 1) % p->stride_h;
    int rem_w = (E2_W + p->pad_left + p->pad_right - p->dilation_w * (E2_S - 1) - 1) % p->stride_w;
    CHECK(rem_h == 1 && rem_w == 1);
    ccnn_conv2d_params t = {
        .n = E2_N, .c = E2_K, .h = HD, .w = WD, .k = E2_C, .r = E2_R, .s = E2_S,
        .stride_h = 1, .stride_w = 1,
        .pad_top = (E2_R - 1) * p->dilation_h - p->pad_top,
        .pad_bottom = (E2_R - 1) * p->dilation_h - p->pad_bottom + rem_h,
        .pad_left = (E2_S - 1) * p->dilation_w - p->pad_left,
        .pad_right = (E2_S - 1) * p->dilation_w - p->pad_right + rem_w,
        .dilation_h = p->dilation_h, .dilation_w = p->dilation_w, .groups = E2_G,
    };
    CHECK(t.pad_top == 1 && t.pad_bottom == 3 && t.pad_left == 2 && t.pad_right == 2);
    int oh = -1, ow = -1;
    CHECK_RC(ccnn_conv2d_output_size(&t, &oh, &ow), CCNN_OK);
    REQUIRE(oh == E2_H && ow == E2_W);
    float dx[E2_X_COUNT];
    test_fill_nan(dx, E2_X_COUNT);
    CHECK_RC(ccnn_conv2d_forward_ref(&t, dil, wt, NULL, dx), CCNN_OK);
    CHECK_TABLE("dx via flipped transposed conv", dx, e2_dx, E2_X_COUNT, 1e-5);
}

/* The doc's rule: input row h has dx = 0 exactly when no (p, r) has
 * h = p*sh + r*dh - pt; likewise columns. Here rows 0, 2, 4 and columns 1, 3. */
CCNN_TEST(conv_example2_unread_rows_are_zero)
{
    const ccnn_conv2d_params *p = &e2_params;
    int unread_rows = 0, unread_cols = 0;
    for (int h = 0; h < E2_H; h++) {
        int read = 0;
        for (int pp = 0; pp < E2_P; pp++)
            for (int r = 0; r < E2_R; r++) read |= pp * p->stride_h + r * p->dilation_h - p->pad_top == h;
        unread_rows |= !read << h;
        for (int i = 0; i < E2_N * E2_C * E2_W; i++)
            if (!read) CHECK(e2_dx[(i / E2_W * E2_H + h) * E2_W + i % E2_W] == 0);
    }
    for (int w = 0; w < E2_W; w++) {
        int read = 0;
        for (int q = 0; q < E2_Q; q++)
            for (int s = 0; s < E2_S; s++) read |= q * p->stride_w + s * p->dilation_w - p->pad_left == w;
        unread_cols |= !read << w;
    }
    CHECK(unread_rows == ((1 << 0) | (1 << 2) | (1 << 4)));
    CHECK(unread_cols == ((1 << 1) | (1 << 3)));
}
