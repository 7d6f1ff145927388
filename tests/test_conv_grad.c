/* test_conv_grad.c - finite differences of the reference forward pass prove
 * the reference backward passes (equations 2-4 of docs/backprop.md).
 *
 * The loss is L = sum(y * g) for a random upstream gradient g, so
 * dL/dy = g. The convolution is linear in x, in w and in b separately, so
 * a central difference has no truncation error at any step size: with a
 * step of 0.5 only float rounding remains, and the loss is summed in double.
 * The forward pass walks output positions; the backward passes under test
 * walk input positions and weights, so no indexing loop is shared. */
#include "conv_cases.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FD_STEP 0.5

static double loss(const ccnn_conv2d_params *p, const float *x, const float *w, const float *b,
                   const float *g, float *y, size_t ny)
{
    if (ccnn_conv2d_forward_ref(p, x, w, b, y) != 0) return NAN;
    double l = 0;
    for (size_t i = 0; i < ny; i++) l += (double)y[i] * g[i];
    return l;
}

/* Central difference of L with respect to v[i]. */
static double fd(const ccnn_conv2d_params *p, float *x, float *w, float *b, const float *g,
                 float *y, size_t ny, float *v, size_t i)
{
    float keep = v[i];
    v[i] = keep + (float)FD_STEP;
    double lp = loss(p, x, w, b, g, y, ny);
    v[i] = keep - (float)FD_STEP;
    double lm = loss(p, x, w, b, g, y, ny);
    v[i] = keep;
    return (lp - lm) / (2 * FD_STEP);
}

/* Worst |analytic - numeric| over all elements, relative to the largest
 * numeric value. */
static double check_all(const ccnn_conv2d_params *p, float *x, float *w, float *b,
                        const float *g, float *y, size_t ny, float *v, size_t nv,
                        const float *analytic)
{
    double worst = 0, scale = 1e-3;
    for (size_t i = 0; i < nv; i++) {
        double num = fd(p, x, w, b, g, y, ny, v, i);
        scale = fmax(scale, fabs(num));
        worst = fmax(worst, fabs(num - analytic[i]));
    }
    return worst / scale;
}

static void run_case(const ccnn_conv2d_params *p, test_rng *rng, int with_bias)
{
    size_t nx = conv_x_count(p), nw = conv_w_count(p), ny = conv_y_count(p);
    float *x = test_alloc(nx), *w = test_alloc(nw), *b = test_alloc(p->k);
    float *g = test_alloc(ny), *y = test_alloc(ny);
    float *dx = test_alloc(nx), *dw = test_alloc(nw), *db = test_alloc(p->k);
    test_fill(rng, x, nx, -1, 1);
    test_fill(rng, w, nw, -1, 1);
    test_fill(rng, b, p->k, -1, 1);
    test_fill(rng, g, ny, -1, 1);
    for (size_t i = 0; i < nx; i++) dx[i] = NAN; /* every element must be written */
    char desc[256];
    conv_case_print(p, desc, sizeof desc);

    CHECK_RC(ccnn_conv2d_backward_data_ref(p, g, w, dx), 0);
    CHECK_RC(ccnn_conv2d_backward_weights_ref(p, x, g, dw, with_bias ? db : NULL), 0);
    float *bb = with_bias ? b : NULL;
    double ex = check_all(p, x, w, bb, g, y, ny, x, nx, dx);
    double ew = check_all(p, x, w, bb, g, y, ny, w, nw, dw);
    CHECK_MSG(ex < 1e-5, "dx rel err %.3g on %s", ex, desc);
    CHECK_MSG(ew < 1e-5, "dw rel err %.3g on %s", ew, desc);
    if (with_bias) {
        double eb = check_all(p, x, w, b, g, y, ny, b, (size_t)p->k, db);
        CHECK_MSG(eb < 1e-5, "db rel err %.3g on %s", eb, desc);
    }
    free(x); free(w); free(b); free(g); free(y); free(dx); free(dw); free(db);
}

CCNN_TEST(conv_grad_fd_random)
{
    test_rng rng = {12345};
    for (int i = 0; i < 120; i++) {
        ccnn_conv2d_params p = conv_case_random(&rng, 7, 3, 2);
        run_case(&p, &rng, i % 2);
    }
}

/* The cases people get wrong, each on its own. */
CCNN_TEST(conv_grad_fd_named)
{
    test_rng rng = {777};
    const ccnn_conv2d_params cases[] = {
        /* n c  h  w  k r s  sh sw  pt pb pl pr  dh dw  g */
        {2, 3, 7, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},  /* channels, filters, stride 2 */
        {1, 2, 8, 6, 3, 3, 2, 3, 2, 0, 2, 1, 0, 1, 1, 1},  /* stride 3, asymmetric padding */
        {1, 2, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 3, 1},  /* dilation */
        {2, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},  /* groups */
        {1, 3, 6, 6, 3, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1, 3},  /* depthwise */
        {2, 3, 5, 7, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1},  /* 1x1 with stride and padding */
        {1, 1, 9, 9, 2, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1},  /* 7x7 */
        {1, 2, 8, 8, 2, 2, 2, 3, 3, 0, 0, 0, 0, 1, 1, 1},  /* stride leaves last rows unused */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], &rng, 1);
        run_case(&cases[i], &rng, 0);
    }
}

/* Rows and columns that no output reads get a gradient of exactly 0. */
CCNN_TEST(conv_grad_unused_inputs_zero)
{
    ccnn_conv2d_params p = {1, 1, 7, 7, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0}; /* P = Q = 2 */
    float w[4] = {1, 2, 3, 4}, dy[4] = {1, 1, 1, 1}, dx[49];
    for (int i = 0; i < 49; i++) dx[i] = NAN;
    CHECK_RC(ccnn_conv2d_backward_data_ref(&p, dy, w, dx), 0);
    for (int h = 0; h < 7; h++)
        for (int ww = 0; ww < 7; ww++) {
            int used = (h % 3) < 2 && h < 5 && (ww % 3) < 2 && ww < 5;
            float want = used ? w[(h % 3) * 2 + ww % 3] : 0.0f;
            CHECK_MSG(dx[h * 7 + ww] == want, "dx[%d][%d] = %g, want %g", h, ww, dx[h * 7 + ww], want);
        }
    CHECK_RC(ccnn_conv2d_backward_data(&p, dy, w, dx), 0);
    CHECK(dx[6 * 7 + 6] == 0.0f && dx[2 * 7 + 2] == 0.0f && dx[0] == 1.0f);
}
