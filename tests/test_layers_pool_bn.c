/* test_layers_pool_bn.c - the maxpool, avgpool, global_avgpool, batchnorm
 * and dropout layers.
 *
 *   - forward values through the public net API against naive computations
 *     written here (pools on an explicitly padded copy of the input);
 *   - gradients by finite differences of the net's loss: ccnn_net_gradcheck,
 *     and for maxpool a check on inputs spaced far apart so the step never
 *     changes a window's winner;
 *   - the layer contract, on the layer ops directly: backward ADDS into din
 *     and grads, and results do not depend on the thread count;
 *   - bad specs rejected by ccnn_net_add with a message;
 *   - PyTorch fixtures in tests/fixtures/layers/ (written by
 *     tools/gen_layer_fixtures.py, format described there; paths relative
 *     to the repository root, CCNN_LAYER_FIXTURES_DIR overrides the folder).
 *
 * Run with `build/ccnn_tests maxpool` (avgpool, batchnorm, dropout,
 * pool_bn_ for the shared tests). */
#include "test.h"
#include "net/layer.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

/* A net of the given input and layers, initialised from seed 1; NULL (and a
 * recorded failure) if any layer is rejected. */
static ccnn_net *make_net(int c, int h, int w, const ccnn_layer_spec *specs, int n)
{
    ccnn_input_spec in = {.c = c, .h = h, .w = w};
    ccnn_net *net = NULL;
    char err[256] = "";
    if (ccnn_net_create(&net, &in) != 0) { CHECK(!"ccnn_net_create"); return NULL; }
    for (int i = 0; i < n; i++) {
        int rc = ccnn_net_add(net, &specs[i], err, sizeof err);
        if (rc) {
            test_fail(__FILE__, __LINE__, "layer %d rejected: %s", i, err);
            ccnn_net_free(net);
            return NULL;
        }
    }
    CHECK_RC(ccnn_net_init(net, 1), 0);
    return net;
}

/* The tensor of the net called `name`, or NULL. */
static float *tensor(ccnn_net *net, const char *name, size_t *count)
{
    ccnn_tensor_info ti;
    if (ccnn_net_find_tensor(net, name, &ti)) return NULL;
    size_t n = 1;
    for (int d = 0; d < ti.ndim; d++) n *= (size_t)ti.dims[d];
    if (count) *count = n;
    return ti.data;
}

typedef struct { int kh, kw, sh, sw, pt, pb, pl, pr; } pool_cfg;

static void pool_out_size(const pool_cfg *k, int H, int W, int *P, int *Q)
{
    int sh = k->sh ? k->sh : k->kh, sw = k->sw ? k->sw : k->kw;
    *P = (H + k->pt + k->pb - k->kh) / sh + 1;
    *Q = (W + k->pl + k->pr - k->kw) / sw + 1;
}

/* Naive pooling: copy each plane into a padded buffer (-inf or 0), then
 * take every window whole. */
static void ref_pool(const float *x, int N, int C, int H, int W, const pool_cfg *k, int is_max,
                     float *y)
{
    int sh = k->sh ? k->sh : k->kh, sw = k->sw ? k->sw : k->kw, P, Q;
    int Hp = H + k->pt + k->pb, Wp = W + k->pl + k->pr;
    pool_out_size(k, H, W, &P, &Q);
    double *pad = malloc((size_t)Hp * Wp * sizeof *pad);
    for (int nc = 0; nc < N * C; nc++) {
        for (int i = 0; i < Hp * Wp; i++) pad[i] = is_max ? -INFINITY : 0.0;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                pad[(h + k->pt) * Wp + w + k->pl] = x[((size_t)nc * H + h) * W + w];
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++) {
                double acc = is_max ? -INFINITY : 0.0;
                for (int r = 0; r < k->kh; r++)
                    for (int s = 0; s < k->kw; s++) {
                        double v = pad[(p * sh + r) * Wp + q * sw + s];
                        acc = is_max ? fmax(acc, v) : acc + v;
                    }
                y[((size_t)nc * P + p) * Q + q] = (float)(is_max ? acc : acc / (k->kh * k->kw));
            }
    }
    free(pad);
}

static const pool_cfg g_pool_cases[] = {
    {2, 2, 0, 0, 0, 0, 0, 0},   /* stride defaults to the kernel */
    {3, 3, 2, 2, 1, 1, 1, 1},   /* ResNet stem */
    {3, 3, 1, 1, 1, 1, 1, 1},   /* overlapping windows, "same" size */
    {3, 2, 2, 1, 2, 0, 1, 1},   /* a different pad on every side */
    {2, 3, 1, 2, 0, 1, 2, 0},
    {2, 2, 3, 3, 0, 0, 0, 0},   /* stride larger than the kernel: skipped pixels */
    {7, 6, 1, 1, 0, 0, 0, 0},   /* kernel as large as the input: 1x1 output */
    {4, 4, 3, 2, 3, 2, 1, 3},   /* pads up to kernel - 1 */
};
#define N_POOL_CASES ((int)(sizeof g_pool_cases / sizeof g_pool_cases[0]))

static ccnn_layer_spec pool_spec(ccnn_layer_type t, const pool_cfg *k)
{
    ccnn_layer_spec s = {.type = t, .size_h = k->kh, .size_w = k->kw, .stride_h = k->sh,
                         .stride_w = k->sw, .pad_top = k->pt, .pad_bottom = k->pb,
                         .pad_left = k->pl, .pad_right = k->pr};
    return s;
}

static void check_pool_forward(ccnn_layer_type type)
{
    test_rng rng = {11};
    const int N = 2, C = 3, H = 7, W = 6;
    float *x = test_alloc((size_t)N * C * H * W);
    for (int ci = 0; ci < N_POOL_CASES; ci++) {
        const pool_cfg *k = &g_pool_cases[ci];
        ccnn_layer_spec s = pool_spec(type, k);
        ccnn_net *net = make_net(C, H, W, &s, 1);
        REQUIRE(net);
        int P, Q;
        pool_out_size(k, H, W, &P, &Q);
        ccnn_layer_info info;
        CHECK_RC(ccnn_net_layer_info(net, 0, &info), 0);
        CHECK_MSG(info.c == C && info.h == P && info.w == Q, "case %d: shape %dx%dx%d, want %dx%dx%d",
                  ci, info.c, info.h, info.w, C, P, Q);
        CHECK(info.flops > 0 && info.params == 0);
        test_fill(&rng, x, (size_t)N * C * H * W, -2, 1); /* mostly negative: padding must not win */
        size_t ny = (size_t)N * C * P * Q;
        float *want = test_alloc(ny);
        ref_pool(x, N, C, H, W, k, type == CCNN_LAYER_MAXPOOL, want);
        for (int train = 0; train < 2; train++) {
            CHECK_RC(ccnn_net_forward(net, x, N, train, 1), 0);
            double e = test_rel_err(ccnn_net_output(net), want, ny, 1.0);
            CHECK_MSG(e < 1e-6, "case %d train %d: rel err %.3g", ci, train, e);
        }
        free(want);
        ccnn_net_free(net);
    }
    free(x);
}

CCNN_TEST(maxpool_forward) { check_pool_forward(CCNN_LAYER_MAXPOOL); }
CCNN_TEST(avgpool_forward) { check_pool_forward(CCNN_LAYER_AVGPOOL); }

/* Ties go to the first maximum in scan order; NaN propagates. Checked
 * through the gradient: it lands where the winner was. */
CCNN_TEST(maxpool_ties_and_nan)
{
    ccnn_layer_spec s[] = {
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2},
        {.type = CCNN_LAYER_DENSE, .filters = 2},
        {.type = CCNN_LAYER_SOFTMAX},
    };
    ccnn_net *net = make_net(1, 2, 4, s, 3);
    REQUIRE(net);
    /* window 1: all equal; window 2: the max twice, second row */
    float x[8] = {5, 5, 1, 2,
                  5, 5, 3, 3}, dx[8];
    uint8_t label = 0;
    CHECK_RC(ccnn_net_forward(net, x, 1, 1, 1), 0);
    CHECK_RC(ccnn_net_backward(net, &label, dx), 0);
    CHECK(dx[0] != 0 && dx[1] == 0 && dx[4] == 0 && dx[5] == 0);
    CHECK(dx[6] != 0 && dx[7] == 0 && dx[2] == 0 && dx[3] == 0);
    ccnn_net_free(net);

    x[5] = NAN;
    ccnn_layer_spec p = {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2};
    net = make_net(1, 2, 4, &p, 1);
    REQUIRE(net);
    CHECK_RC(ccnn_net_forward(net, x, 1, 0, 1), 0);
    CHECK(isnan(ccnn_net_output(net)[0]) && ccnn_net_output(net)[1] == 3);
    ccnn_net_free(net);
}

CCNN_TEST(global_avgpool_forward)
{
    test_rng rng = {12};
    const int N = 3, C = 4, H = 5, W = 3;
    ccnn_layer_spec s = {.type = CCNN_LAYER_GLOBAL_AVGPOOL};
    ccnn_net *net = make_net(C, H, W, &s, 1);
    REQUIRE(net);
    ccnn_layer_info info;
    CHECK_RC(ccnn_net_layer_info(net, 0, &info), 0);
    CHECK(info.c == C && info.h == 1 && info.w == 1 && info.flops > 0);
    float x[3 * 4 * 5 * 3], want[3 * 4];
    test_fill(&rng, x, sizeof x / sizeof x[0], -1, 3);
    for (int nc = 0; nc < N * C; nc++) {
        double sum = 0;
        for (int i = 0; i < H * W; i++) sum += x[nc * H * W + i];
        want[nc] = (float)(sum / (H * W));
    }
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 0), 0);
    CHECK(test_rel_err(ccnn_net_output(net), want, (size_t)N * C, 1.0) < 1e-6);
    ccnn_net_free(net);
}

/* ---- batchnorm forward ---------------------------------------------------- */

/* Naive batch norm of x (N x C x HW) with batch (train) or given stats;
 * updates rm/rv like PyTorch in training. */
static void ref_bn(const float *x, int N, int C, int HW, const float *g, const float *b,
                   float *rm, float *rv, int train, double eps, double mom, float *y)
{
    for (int c = 0; c < C; c++) {
        double mean = rm[c], var = rv[c];
        if (train) {
            double m = (double)N * HW, s = 0, ss = 0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
            mean = s / m;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) {
                    double d = x[(n * C + c) * HW + i] - mean;
                    ss += d * d;
                }
            var = ss / m;
            rm[c] = (float)((1 - mom) * rm[c] + mom * mean);
            rv[c] = (float)((1 - mom) * rv[c] + mom * ss / (m - 1));
        }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int j = (n * C + c) * HW + i;
                y[j] = (float)(g[c] * (x[j] - mean) / sqrt(var + eps) + b[c]);
            }
    }
}

static void check_bn_forward(int N, int C, int H, int W, float eps, float momentum)
{
    test_rng rng = {13};
    ccnn_layer_spec s = {.type = CCNN_LAYER_BATCHNORM, .name = "bn", .eps = eps,
                         .momentum = momentum};
    ccnn_net *net = make_net(C, H, W, &s, 1);
    REQUIRE(net);
    CHECK(ccnn_net_num_params(net) == (size_t)2 * C && ccnn_net_num_state(net) == (size_t)2 * C);
    size_t nc = 0;
    float *g = tensor(net, "bn.weight", &nc), *b = tensor(net, "bn.bias", NULL);
    float *rm = tensor(net, "bn.running_mean", NULL), *rv = tensor(net, "bn.running_var", NULL);
    REQUIRE(g && b && rm && rv && nc == (size_t)C);
    for (int c = 0; c < C; c++) CHECK(g[c] == 1 && b[c] == 0 && rm[c] == 0 && rv[c] == 1);
    test_fill(&rng, g, (size_t)C, 0.5f, 2);
    test_fill(&rng, b, (size_t)C, -1, 1);
    test_fill(&rng, rm, (size_t)C, -0.5f, 0.5f);
    test_fill(&rng, rv, (size_t)C, 0.5f, 2);

    size_t n = (size_t)N * C * H * W;
    float *x = test_alloc(n), *want = test_alloc(n);
    float erm[64], erv[64];
    REQUIRE(C <= 64);
    for (size_t i = 0; i < n; i++) x[i] = test_rand_float(&rng, -1, 1) * 3 + 2; /* mean far from 0 */
    memcpy(erm, rm, (size_t)C * sizeof(float));
    memcpy(erv, rv, (size_t)C * sizeof(float));
    double e_eps = eps ? eps : 1e-5, e_mom = momentum ? momentum : 0.1;

    /* training: batch statistics, running statistics move once per forward */
    ref_bn(x, N, C, H * W, g, b, erm, erv, 1, e_eps, e_mom, want);
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 0), 0);
    double e = test_rel_err(ccnn_net_output(net), want, n, 1.0);
    CHECK_MSG(e < 2e-6, "train forward rel err %.3g", e);
    CHECK_MSG(test_rel_err(rm, erm, (size_t)C, 1e-3) < 1e-6, "running_mean");
    CHECK_MSG(test_rel_err(rv, erv, (size_t)C, 1e-3) < 1e-6, "running_var");

    /* evaluation: the running statistics, which stay as they are */
    memcpy(erm, rm, (size_t)C * sizeof(float));
    memcpy(erv, rv, (size_t)C * sizeof(float));
    ref_bn(x, N, C, H * W, g, b, erm, erv, 0, e_eps, e_mom, want);
    CHECK_RC(ccnn_net_forward(net, x, N, 0, 0), 0);
    e = test_rel_err(ccnn_net_output(net), want, n, 1.0);
    CHECK_MSG(e < 2e-6, "eval forward rel err %.3g", e);
    CHECK(memcmp(rm, erm, (size_t)C * sizeof(float)) == 0 && memcmp(rv, erv, (size_t)C * sizeof(float)) == 0);
    free(x);
    free(want);
    ccnn_net_free(net);
}

CCNN_TEST(batchnorm_forward_2d) { check_bn_forward(4, 3, 5, 6, 0, 0); }
CCNN_TEST(batchnorm_forward_1d) { check_bn_forward(7, 10, 1, 1, 1e-3f, 0.25f); }
CCNN_TEST(batchnorm_forward_batch1_2d) { check_bn_forward(1, 2, 3, 3, 0, 1.0f); }

/* One value per channel in training has no variance: y = beta, running_var
 * unchanged (PyTorch raises an error there instead). */
CCNN_TEST(batchnorm_single_value)
{
    ccnn_layer_spec s = {.type = CCNN_LAYER_BATCHNORM, .name = "bn"};
    ccnn_net *net = make_net(3, 1, 1, &s, 1);
    REQUIRE(net);
    float *b = tensor(net, "bn.bias", NULL), *rv = tensor(net, "bn.running_var", NULL);
    float *rm = tensor(net, "bn.running_mean", NULL);
    b[0] = 0.5f; b[1] = -1; b[2] = 2;
    float x[3] = {4, -2, 7};
    CHECK_RC(ccnn_net_forward(net, x, 1, 1, 0), 0);
    const float *y = ccnn_net_output(net);
    CHECK(y[0] == 0.5f && y[1] == -1 && y[2] == 2);
    CHECK(rv[0] == 1 && rv[1] == 1 && rv[2] == 1);
    CHECK(fabsf(rm[0] - 0.4f) < 1e-6f && fabsf(rm[2] - 0.7f) < 1e-6f);
    ccnn_net_free(net);
}

/* ---- dropout -------------------------------------------------------------- */

CCNN_TEST(dropout_forward)
{
    const int N = 10, C = 4, H = 20, W = 25;
    const size_t n = (size_t)N * C * H * W;
    const float p = 0.3f;
    ccnn_layer_spec s = {.type = CCNN_LAYER_DROPOUT, .rate = p};
    ccnn_net *net = make_net(C, H, W, &s, 1);
    REQUIRE(net);
    test_rng rng = {14};
    float *x = test_alloc(n), *a = test_alloc(n), *b = test_alloc(n);
    test_fill(&rng, x, n, 0.5f, 1.5f); /* no zeros: a zero output means dropped */

    CHECK_RC(ccnn_net_forward(net, x, N, 1, 5), 0);
    memcpy(a, ccnn_net_output(net), n * sizeof(float));
    size_t kept = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == 0) continue;
        kept++;
        bad += fabs(a[i] - x[i] / (1.0 - p)) > 1e-6 * x[i];
    }
    double frac = (double)kept / n, sigma = sqrt(p * (1 - p) / n);
    CHECK_MSG(fabs(frac - (1 - p)) < 5 * sigma, "kept %.4f, expected %.4f", frac, 1 - p);
    CHECK_MSG(bad == 0, "%zu kept values not scaled by 1/(1-p)", bad);

    /* same step: same mask; another step: another mask */
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 5), 0);
    CHECK(memcmp(a, ccnn_net_output(net), n * sizeof(float)) == 0);
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 6), 0);
    memcpy(b, ccnn_net_output(net), n * sizeof(float));
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += (a[i] == 0) != (b[i] == 0);
    double dfrac = (double)differ / n, dwant = 2 * p * (1 - p);
    CHECK_MSG(fabs(dfrac - dwant) < 0.02, "masks of steps 5 and 6 differ in %.4f, expected %.4f",
              dfrac, dwant);

    /* another training seed: another mask */
    ccnn_net_train_config(net)->seed = 99;
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 5), 0);
    CHECK(memcmp(a, ccnn_net_output(net), n * sizeof(float)) != 0);

    /* evaluation: the identity */
    CHECK_RC(ccnn_net_forward(net, x, N, 0, 5), 0);
    CHECK(memcmp(x, ccnn_net_output(net), n * sizeof(float)) == 0);
    free(x); free(a); free(b);
    ccnn_net_free(net);
}

/* Two dropout layers see different masks; a sample's mask depends on its
 * position in the batch; rate 0 is the identity in training. */
CCNN_TEST(dropout_layers_independent)
{
    ccnn_layer_spec s[] = {
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.5f},
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.0f},
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.5f},
    };
    const int N = 4, C = 1, H = 16, W = 16;
    const size_t n = (size_t)N * C * H * W, per = n / N;
    ccnn_net *net = make_net(C, H, W, s, 3);
    REQUIRE(net);
    float *x = test_alloc(n);
    for (size_t i = 0; i < n; i++) x[i] = 1;
    CHECK_RC(ccnn_net_forward(net, x, N, 1, 3), 0);
    /* after two independent p=0.5 masks (and p=0 between them) a quarter survives, at 4x */
    const float *y = ccnn_net_output(net);
    size_t kept = 0, same_as_first = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0) { kept++; CHECK(y[i] == 4.0f); }
        if (i >= per) same_as_first += (y[i] != 0) == (y[i - per] != 0);
    }
    double frac = (double)kept / n;
    CHECK_MSG(fabs(frac - 0.25) < 0.06, "after two dropouts %.3f kept, expected 0.25", frac);
    CHECK_MSG(same_as_first < n - per, "every sample has the same mask");
    free(x);
    ccnn_net_free(net);
}

/* ---- gradients ------------------------------------------------------------- */

static void gradcheck_net(int c, int h, int w, const ccnn_layer_spec *specs, int n_specs,
                          int batch, const char *what)
{
    ccnn_net *net = make_net(c, h, w, specs, n_specs);
    REQUIRE(net);
    /* non-trivial batch-norm scale and shift, where there are any */
    test_rng rng = {15};
    for (int i = 0; i < ccnn_net_num_tensors(net); i++) {
        ccnn_tensor_info ti;
        CHECK_RC(ccnn_net_tensor(net, i, &ti), 0);
        const char *dot = strrchr(ti.name, '.');
        if (strncmp(ti.name, "batchnorm", 9) == 0 && dot && !ti.is_state)
            test_fill(&rng, ti.data, (size_t)ti.dims[0], strcmp(dot, ".weight") ? -1.0f : 0.5f, 1.5f);
    }
    double worst = -1;
    char err[256] = "";
    int rc = ccnn_net_gradcheck(net, batch, 0, 42, &worst, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: gradcheck failed: %s", what, err);
    CHECK_MSG(worst >= 0 && worst < 2e-2, "%s: worst relative error %.3g", what, worst);
    ccnn_net_free(net);
}

#define DENSE5 {.type = CCNN_LAYER_DENSE, .filters = 5}
#define SOFTMAX {.type = CCNN_LAYER_SOFTMAX}

CCNN_TEST(avgpool_gradcheck)
{
    for (int ci = 0; ci < N_POOL_CASES; ci++) {
        ccnn_layer_spec s[] = {pool_spec(CCNN_LAYER_AVGPOOL, &g_pool_cases[ci]), DENSE5, SOFTMAX};
        char what[32];
        snprintf(what, sizeof what, "avgpool case %d", ci);
        gradcheck_net(2, 7, 6, s, 3, 2, what);
    }
}

CCNN_TEST(global_avgpool_gradcheck)
{
    ccnn_layer_spec s[] = {{.type = CCNN_LAYER_GLOBAL_AVGPOOL}, DENSE5, SOFTMAX};
    gradcheck_net(3, 4, 5, s, 3, 3, "global_avgpool");
}

CCNN_TEST(batchnorm_gradcheck)
{
    ccnn_layer_spec s2[] = {{.type = CCNN_LAYER_BATCHNORM}, DENSE5, SOFTMAX};
    gradcheck_net(3, 4, 4, s2, 3, 3, "batchnorm 2-D");
    gradcheck_net(2, 5, 5, s2, 3, 16, "batchnorm 2-D, batch 16");
    gradcheck_net(2, 3, 3, s2, 3, 1, "batchnorm 2-D, batch 1");
    /* BatchNorm1d after a dense layer: without its bias, which batch norm
     * cancels (its true gradient is 0, which a relative check cannot take) */
    ccnn_layer_spec s1[] = {{.type = CCNN_LAYER_DENSE, .filters = 6, .no_bias = 1},
                            {.type = CCNN_LAYER_BATCHNORM, .momentum = 0.5f}, DENSE5, SOFTMAX};
    gradcheck_net(2, 3, 3, s1, 4, 4, "batchnorm 1-D after dense");
    gradcheck_net(2, 3, 3, s1, 4, 16, "batchnorm 1-D after dense, batch 16");
    ccnn_layer_spec s0[] = {{.type = CCNN_LAYER_BATCHNORM}, DENSE5, SOFTMAX};
    gradcheck_net(6, 1, 1, s0, 3, 5, "batchnorm 1-D on the input");
}

CCNN_TEST(dropout_gradcheck)
{
    ccnn_layer_spec s[] = {{.type = CCNN_LAYER_DROPOUT, .rate = 0.4f}, DENSE5, SOFTMAX};
    gradcheck_net(2, 4, 4, s, 3, 3, "dropout");
}

/* maxpool: inputs are a shuffled ladder of values 0.04 apart, so a step of
 * 1e-2 never changes a window's winner and the loss is smooth in x. */
CCNN_TEST(maxpool_gradient_fd)
{
    const int N = 2, C = 2, H = 7, W = 6;
    const size_t n = (size_t)N * C * H * W;
    const double step = 1e-2;
    test_rng rng = {16};
    float *x = test_alloc(n), *dx = test_alloc(n);
    for (int ci = 0; ci < N_POOL_CASES; ci++) {
        ccnn_layer_spec s[] = {pool_spec(CCNN_LAYER_MAXPOOL, &g_pool_cases[ci]), DENSE5, SOFTMAX};
        ccnn_net *net = make_net(C, H, W, s, 3);
        REQUIRE(net);
        for (size_t i = 0; i < n; i++) x[i] = (float)(0.04 * (double)i - 0.02 * (double)n);
        for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            size_t j = (size_t)(test_rand_u64(&rng) % (i + 1));
            float t = x[i]; x[i] = x[j]; x[j] = t;
        }
        uint8_t labels[2] = {(uint8_t)(ci % 5), 3};
        CHECK_RC(ccnn_net_forward(net, x, N, 1, 0), 0);
        CHECK_RC(ccnn_net_backward(net, labels, dx), 0);
        double max_err = 0, scale = 1e-6;
        for (size_t i = 0; i < n; i++) {
            float keep = x[i];
            double lp = 0, lm = 0;
            x[i] = keep + (float)step;
            CHECK_RC(ccnn_net_forward(net, x, N, 1, 0), 0);
            CHECK_RC(ccnn_net_loss(net, labels, &lp), 0);
            x[i] = keep - (float)step;
            CHECK_RC(ccnn_net_forward(net, x, N, 1, 0), 0);
            CHECK_RC(ccnn_net_loss(net, labels, &lm), 0);
            x[i] = keep;
            double num = (lp - lm) / ((double)(keep + (float)step) - (double)(keep - (float)step));
            max_err = fmax(max_err, fabs(num - dx[i]));
            scale = fmax(scale, fabs(num));
        }
        CHECK_MSG(max_err / scale < 1e-3, "maxpool case %d: dx rel err %.3g", ci, max_err / scale);
        ccnn_net_free(net);
    }
    free(x);
    free(dx);
}

/* ---- the layer contract, on the ops directly -------------------------------- */

/* One layer outside a net, with buffers of its own. */
typedef struct {
    ccnn_layer l;
    ccnn_run run;
    size_t nx, ny;
} lh;

static int lh_make(lh *h, const ccnn_layer_spec *spec, ccnn_shape in, int batch, int train)
{
    memset(h, 0, sizeof *h);
    ccnn_layer *l = &h->l;
    char err[256] = "";
    l->ops = ccnn_layer_ops_for(spec->type);
    l->spec = *spec;
    l->index = 3;
    l->n_in = 1;
    l->in_shape[0] = in;
    if (!l->ops) return -1;
    int rc = l->ops->setup(l, err, sizeof err);
    if (rc) { test_fail(__FILE__, __LINE__, "setup: %s", err); return rc; }
    h->nx = (size_t)batch * ccnn_shape_size(in);
    h->ny = (size_t)batch * ccnn_shape_size(l->out_shape);
    l->params = test_alloc(l->n_params);
    l->grads = test_alloc(l->n_params);
    l->state = test_alloc(l->n_state);
    memset(l->params, 0, (l->n_params ? l->n_params : 1) * sizeof(float));
    memset(l->state, 0, (l->n_state ? l->n_state : 1) * sizeof(float));
    if (l->ops->init) { ccnn_rng r = {7}; l->ops->init(l, &r); }
    l->in[0] = test_alloc(h->nx);
    l->din[0] = test_alloc(h->nx);
    l->out = test_alloc(h->ny);
    l->dout = test_alloc(h->ny);
    h->run = (ccnn_run){batch, train, 1234, 9, NULL, 0, NULL, 0, 0};
    return l->ops->reserve ? l->ops->reserve(l, batch) : 0;
}

static void lh_free(lh *h)
{
    ccnn_layer *l = &h->l;
    if (l->ops && l->ops->destroy) l->ops->destroy(l);
    free(l->params); free(l->grads); free(l->state);
    free((float *)l->in[0]); free(l->din[0]); free(l->out); free(l->dout);
}

/* The five layer types, each with a spec that exercises it. */
static const ccnn_layer_spec g_contract_specs[] = {
    {.type = CCNN_LAYER_MAXPOOL, .size_h = 3, .size_w = 3, .stride_h = 1, .stride_w = 1,
     .pad_top = 1, .pad_bottom = 2, .pad_left = 1, .pad_right = 0},
    {.type = CCNN_LAYER_AVGPOOL, .size_h = 3, .size_w = 2, .stride_h = 1, .stride_w = 1,
     .pad_top = 2, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
    {.type = CCNN_LAYER_GLOBAL_AVGPOOL},
    {.type = CCNN_LAYER_BATCHNORM},
    {.type = CCNN_LAYER_DROPOUT, .rate = 0.25f},
};
#define N_CONTRACT ((int)(sizeof g_contract_specs / sizeof g_contract_specs[0]))

/* backward adds: with din and grads pre-filled with D and G, it leaves
 * D + (what it leaves from zeros), likewise G. */
CCNN_TEST(pool_bn_backward_adds)
{
    test_rng rng = {17};
    ccnn_shape in = {3, 6, 5};
    const int batch = 3;
    for (int t = 0; t < N_CONTRACT; t++) {
        lh h;
        REQUIRE(lh_make(&h, &g_contract_specs[t], in, batch, 1) == 0);
        ccnn_layer *l = &h.l;
        size_t np = l->n_params;
        float *din0 = test_alloc(h.nx), *g0 = test_alloc(np), *pre = test_alloc(h.nx), *gpre = test_alloc(np);
        test_fill(&rng, (float *)l->in[0], h.nx, -1, 1);
        test_fill(&rng, l->dout, h.ny, -1, 1);
        test_fill(&rng, l->params, np, 0.5f, 1.5f);
        CHECK_RC(l->ops->forward(l, &h.run), 0);
        memset(l->din[0], 0, h.nx * sizeof(float));
        memset(l->grads, 0, np * sizeof(float));
        CHECK_RC(l->ops->backward(l, &h.run), 0);
        memcpy(din0, l->din[0], h.nx * sizeof(float));
        memcpy(g0, l->grads, np * sizeof(float));
        CHECK_MSG(test_max_abs(din0, h.nx) > 0, "%s: no input gradient", l->ops->type_name);
        test_fill(&rng, pre, h.nx, -1, 1);
        test_fill(&rng, gpre, np, -1, 1);
        memcpy(l->din[0], pre, h.nx * sizeof(float));
        memcpy(l->grads, gpre, np * sizeof(float));
        CHECK_RC(l->ops->backward(l, &h.run), 0);
        double e = 0;
        for (size_t i = 0; i < h.nx; i++) e = fmax(e, fabs(l->din[0][i] - pre[i] - din0[i]));
        for (size_t i = 0; i < np; i++) e = fmax(e, fabs(l->grads[i] - gpre[i] - g0[i]));
        CHECK_MSG(e < 1e-5, "%s: backward does not add (off by %.3g)", l->ops->type_name, e);
        /* din may be NULL: the net input needs no gradient */
        float *din = l->din[0];
        l->din[0] = NULL;
        CHECK_RC(l->ops->backward(l, &h.run), 0);
        l->din[0] = din;
        free(din0); free(g0); free(pre); free(gpre);
        lh_free(&h);
    }
}

/* The same numbers with 1 and with 4 threads, bit for bit (sizes above the
 * layers' thresholds for going parallel). */
CCNN_TEST(pool_bn_thread_independent)
{
    ccnn_shape in = {8, 16, 16};
    const int batch = 10;
    for (int t = 0; t < N_CONTRACT; t++) {
        float *ref[3] = {NULL, NULL, NULL};
        for (int pass = 0; pass < 2; pass++) {
            ccnn_set_num_threads(pass ? 4 : 1);
            lh h;
            test_rng rng = {18};
            REQUIRE(lh_make(&h, &g_contract_specs[t], in, batch, 1) == 0);
            ccnn_layer *l = &h.l;
            test_fill(&rng, (float *)l->in[0], h.nx, -1, 1);
            test_fill(&rng, l->dout, h.ny, -1, 1);
            memset(l->din[0], 0, h.nx * sizeof(float));
            memset(l->grads, 0, (l->n_params ? l->n_params : 1) * sizeof(float));
            CHECK_RC(l->ops->forward(l, &h.run), 0);
            CHECK_RC(l->ops->backward(l, &h.run), 0);
            const float *got[3] = {l->out, l->din[0], l->grads};
            size_t cnt[3] = {h.ny, h.nx, l->n_params};
            for (int k = 0; k < 3; k++) {
                if (!pass) {
                    ref[k] = test_alloc(cnt[k]);
                    memcpy(ref[k], got[k], cnt[k] * sizeof(float));
                } else {
                    CHECK_MSG(memcmp(ref[k], got[k], cnt[k] * sizeof(float)) == 0,
                              "%s: array %d differs with 4 threads", l->ops->type_name, k);
                }
            }
            lh_free(&h);
        }
        for (int k = 0; k < 3; k++) free(ref[k]);
    }
    ccnn_set_num_threads(0);
}

/* ---- bad specs ---------------------------------------------------------------- */

CCNN_TEST(pool_bn_bad_specs)
{
    static const struct { ccnn_layer_spec s; const char *msg; } bad[] = {
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 5, .size_w = 2}, "does not fit"}, /* 5 > 4 rows */
        {{.type = CCNN_LAYER_AVGPOOL, .size_h = 2, .size_w = 8, .pad_left = 1}, "does not fit"},
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 0, .size_w = 2}, "size"},
        {{.type = CCNN_LAYER_AVGPOOL, .size_h = 2, .size_w = -1}, "size"},
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2, .pad_top = 2}, "smaller than"},
        {{.type = CCNN_LAYER_AVGPOOL, .size_h = 3, .size_w = 3, .pad_right = 3}, "smaller than"},
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2, .pad_left = -1}, "padding"},
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2, .stride_w = -2}, "stride"},
        {{.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2, .dilation_h = 2}, "dilation"},
        {{.type = CCNN_LAYER_AVGPOOL, .size_h = 2, .size_w = 2, .dilation_w = 3}, "dilation"},
        {{.type = CCNN_LAYER_DROPOUT, .rate = 1.0f}, "rate"},
        {{.type = CCNN_LAYER_DROPOUT, .rate = -0.1f}, "rate"},
        {{.type = CCNN_LAYER_DROPOUT, .rate = NAN}, "rate"},
        {{.type = CCNN_LAYER_BATCHNORM, .eps = -1e-5f}, "eps"},
        {{.type = CCNN_LAYER_BATCHNORM, .eps = INFINITY}, "eps"},
        {{.type = CCNN_LAYER_BATCHNORM, .momentum = 1.5f}, "momentum"},
        {{.type = CCNN_LAYER_BATCHNORM, .momentum = -0.1f}, "momentum"},
    };
    ccnn_input_spec in = {.c = 2, .h = 4, .w = 6};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccnn_net *net = NULL;
        REQUIRE(ccnn_net_create(&net, &in) == 0);
        char err[256] = "";
        int rc = ccnn_net_add(net, &bad[i].s, err, sizeof err);
        CHECK_MSG(rc < 0, "bad spec %zu accepted", i);
        CHECK_MSG(strstr(err, bad[i].msg) != NULL, "bad spec %zu: message \"%s\" lacks \"%s\"", i,
                  err, bad[i].msg);
        CHECK(ccnn_net_num_layers(net) == 0);
        ccnn_net_free(net);
    }
    /* the limits themselves are accepted */
    static const ccnn_layer_spec good[] = {
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 4, .size_w = 6},
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 3, .pad_top = 1, .pad_bottom = 1,
         .pad_left = 2, .pad_right = 2, .dilation_h = 1, .dilation_w = 1},
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.0f},
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.999f},
        {.type = CCNN_LAYER_BATCHNORM, .momentum = 1.0f},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ccnn_net *net = NULL;
        REQUIRE(ccnn_net_create(&net, &in) == 0);
        char err[256] = "";
        CHECK_MSG(ccnn_net_add(net, &good[i], err, sizeof err) == 0, "good spec %zu: %s", i, err);
        ccnn_net_free(net);
    }
}

/* ---- PyTorch fixtures ----------------------------------------------------------- */

#define LAY_MAGIC "CCNNLAY1"
#define LAY_HEADER 72
static const char *const g_layer_fixtures[] = {
    "bn_train_2d", "bn_train_1d", "bn_eval_2d",
    "maxpool_3x3s2p1", "maxpool_asym", "avgpool_3x3s2p1", "avgpool_asym",
};

static uint32_t le_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Reads a whole fixture; NULL (with a recorded failure) if it is missing. */
static unsigned char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("CCNN_LAYER_FIXTURES_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", dir && *dir ? dir : "tests/fixtures/layers", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        test_fail(__FILE__, __LINE__, "%s: %s (run from the repository root; regenerate with "
                  "/usr/bin/python3 tools/gen_layer_fixtures.py)", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            unsigned char *p = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!p) { free(buf); fclose(f); return NULL; }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got);
    fclose(f);
    *len = n;
    return buf;
}

/* Next `count` floats of the fixture into a fresh array. */
static float *take(const unsigned char *buf, size_t *off, size_t count)
{
    float *a = test_alloc(count);
    for (size_t i = 0; i < count; i++) {
        uint32_t u = le_u32(buf + *off + 4 * i);
        memcpy(&a[i], &u, sizeof u);
    }
    *off += 4 * count;
    return a;
}

static void check_close(const float *got, const float *want, size_t n, double tol,
                        const char *name, const char *what)
{
    double e = test_rel_err(got, want, n, 1e-3);
    CHECK_MSG(e < tol, "%s: %s rel err %.3g", name, what, e);
}

static void run_layer_fixture(const char *name)
{
    size_t len = 0;
    unsigned char *buf = read_fixture(name, &len);
    if (!buf) return;
    REQUIRE(len >= LAY_HEADER && memcmp(buf, LAY_MAGIC, 8) == 0);
    int v[14];
    for (int i = 0; i < 14; i++) v[i] = (int32_t)le_u32(buf + 8 + 4 * i);
    float eps, mom;
    uint32_t u = le_u32(buf + 64);
    memcpy(&eps, &u, 4);
    u = le_u32(buf + 68);
    memcpy(&mom, &u, 4);
    int kind = v[0], N = v[1], C = v[2], H = v[3], W = v[4];
    for (int i = 1; i < 9; i++) REQUIRE(v[i] >= 0 && v[i] <= 64);
    REQUIRE(kind >= 0 && kind <= 2 && N > 0 && C > 0 && H > 0 && W > 0);
    ccnn_layer_spec s = {.type = kind == 0 ? CCNN_LAYER_BATCHNORM
                                 : kind == 1 ? CCNN_LAYER_MAXPOOL : CCNN_LAYER_AVGPOOL,
                         .size_h = v[5], .size_w = v[6], .stride_h = v[7], .stride_w = v[8],
                         .pad_top = v[9], .pad_bottom = v[10], .pad_left = v[11], .pad_right = v[12],
                         .eps = eps, .momentum = mom};
    lh h;
    REQUIRE(lh_make(&h, &s, (ccnn_shape){C, H, W}, N, kind == 0 ? v[13] : 1) == 0);
    ccnn_layer *l = &h.l;
    size_t nx = h.nx, ny = h.ny, off = LAY_HEADER, c = (size_t)C;
    size_t want_len = LAY_HEADER + 4 * (kind == 0 ? 4 * nx + 8 * c : 2 * (nx + ny));
    if (len != want_len) {
        test_fail(__FILE__, __LINE__, "%s: %zu bytes, expected %zu", name, len, want_len);
        lh_free(&h);
        free(buf);
        return;
    }
    float *x = take(buf, &off, nx);
    memcpy((float *)l->in[0], x, nx * sizeof(float));
    float *arrays[12] = {x};
    int na = 1;
    if (kind == 0) {
        const ccnn_layer_tensor *t = l->tensors;
        float *g = arrays[na++] = take(buf, &off, c), *b = arrays[na++] = take(buf, &off, c);
        float *rm = arrays[na++] = take(buf, &off, c), *rv = arrays[na++] = take(buf, &off, c);
        memcpy(l->params + t[0].offset, g, c * sizeof(float));
        memcpy(l->params + t[1].offset, b, c * sizeof(float));
        memcpy(l->state + t[2].offset, rm, c * sizeof(float));
        memcpy(l->state + t[3].offset, rv, c * sizeof(float));
        float *dy = arrays[na++] = take(buf, &off, nx);
        memcpy(l->dout, dy, nx * sizeof(float));
        float *y = arrays[na++] = take(buf, &off, nx);
        float *rm2 = arrays[na++] = take(buf, &off, c), *rv2 = arrays[na++] = take(buf, &off, c);
        float *dx = arrays[na++] = take(buf, &off, nx);
        float *dg = arrays[na++] = take(buf, &off, c), *db = arrays[na++] = take(buf, &off, c);
        memset(l->din[0], 0, nx * sizeof(float));
        memset(l->grads, 0, l->n_params * sizeof(float));
        CHECK_RC(l->ops->forward(l, &h.run), 0);
        CHECK_RC(l->ops->backward(l, &h.run), 0);
        check_close(l->out, y, nx, 1e-5, name, "y");
        check_close(l->state + t[2].offset, rm2, c, 1e-6, name, "running_mean");
        check_close(l->state + t[3].offset, rv2, c, 1e-6, name, "running_var");
        check_close(l->din[0], dx, nx, 1e-5, name, "dx");
        check_close(l->grads + t[0].offset, dg, c, 1e-5, name, "dgamma");
        check_close(l->grads + t[1].offset, db, c, 1e-5, name, "dbeta");
    } else {
        float *dy = arrays[na++] = take(buf, &off, ny);
        float *y = arrays[na++] = take(buf, &off, ny);
        float *dx = arrays[na++] = take(buf, &off, nx);
        memcpy(l->dout, dy, ny * sizeof(float));
        memset(l->din[0], 0, nx * sizeof(float));
        CHECK_RC(l->ops->forward(l, &h.run), 0);
        CHECK_RC(l->ops->backward(l, &h.run), 0);
        check_close(l->out, y, ny, 1e-6, name, "y");
        check_close(l->din[0], dx, nx, 1e-6, name, "dx");
    }
    for (int i = 0; i < na; i++) free(arrays[i]);
    lh_free(&h);
    free(buf);
}

CCNN_TEST(pool_bn_torch_fixtures)
{
    for (size_t i = 0; i < sizeof g_layer_fixtures / sizeof g_layer_fixtures[0]; i++)
        run_layer_fixture(g_layer_fixtures[i]);
}
