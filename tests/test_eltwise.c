/* test_eltwise.c - the element-wise vector kernels (src/kernels/eltwise*.c)
 * and the layers that use them (batchnorm, maxpool 2x2, relu, add), on every
 * ISA the CPU has, against plain loops written here:
 *
 *   - maxpool 2x2/2: values and argmax exactly equal to "the first NaN in
 *     window order, else the first maximum", on odd sizes with many ties,
 *     signed zeros and NaNs; backward adds dy at the winner only;
 *   - batch norm: plane sums within 1e-5 of a double sum (relative to the
 *     sum of magnitudes), layer outputs, running statistics and gradients
 *     within 1e-5 of a double-precision reference;
 *   - relu, add: bit for bit (any NaN matching any NaN);
 *   - every ISA gives the same bits as the portable kernels (eltwise.h
 *     promises a fixed lane order and no FMA), and the layers give the same
 *     bits at 1 and 2 threads.
 *
 * Run with `build/ccnn_tests eltwise`. */
#include "test.h"
#include "net/layer.h"
#include "kernels/eltwise.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

static int same_bits(const void *a, const void *b, size_t n_floats)
{
    return memcmp(a, b, n_floats * sizeof(float)) == 0;
}

/* Bit for bit, except that any two NaNs match: which NaN an addition of
 * two NaNs returns depends on the operand order, which a compiler may swap
 * (so the reference loops here cannot pin it down). */
static int same_values(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(isnan(a[i]) && isnan(b[i]))) return 0;
    return 1;
}

/* Plane lengths that hit every tail: below, at and around the 8-, 16- and
 * 32-lane widths, and the default net's 14x14 and 28x28. */
static const int g_lengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100,
                                196, 255, 784};
#define N_LENGTHS ((int)(sizeof g_lengths / sizeof g_lengths[0]))

/* |got - want| <= tol * scale, NaN fails */
static int close_to(double got, double want, double scale, double tol)
{
    return fabs(got - want) <= tol * scale;
}

/* One layer outside a net, with buffers of its own; din[i] point at
 * separate arrays unless the caller changes them. */
typedef struct {
    ccnn_layer l;
    ccnn_run run;
    size_t nx, ny;
} harness;

static int h_make(harness *h, const ccnn_layer_spec *spec, int n_in, ccnn_shape in, int batch,
                  int train)
{
    memset(h, 0, sizeof *h);
    ccnn_layer *l = &h->l;
    char err[256] = "";
    l->ops = ccnn_layer_ops_for(spec->type);
    if (!l->ops) return -1;
    l->spec = *spec;
    l->n_in = n_in;
    for (int i = 0; i < n_in; i++) l->in_shape[i] = in;
    int rc = l->ops->setup(l, err, sizeof err);
    if (rc) { test_fail(__FILE__, __LINE__, "setup: %s", err); return rc; }
    h->nx = (size_t)batch * ccnn_shape_size(in);
    h->ny = (size_t)batch * ccnn_shape_size(l->out_shape);
    l->params = test_alloc(l->n_params);
    l->grads = test_alloc(l->n_params);
    l->state = test_alloc(l->n_state);
    memset(l->grads, 0, (l->n_params ? l->n_params : 1) * sizeof(float));
    if (l->ops->init) { ccnn_rng r = {7}; l->ops->init(l, &r); }
    for (int i = 0; i < n_in; i++) {
        l->in[i] = test_alloc(h->nx);
        l->din[i] = test_alloc(h->nx);
    }
    l->out = test_alloc(h->ny);
    l->dout = test_alloc(h->ny);
    h->run = (ccnn_run){batch, train, 1, 1, NULL, 0, NULL, 0, 0};
    return l->ops->reserve ? l->ops->reserve(l, batch) : 0;
}

static void h_free(harness *h, float *const *din_owned)
{
    ccnn_layer *l = &h->l;
    if (l->ops && l->ops->destroy) l->ops->destroy(l);
    free(l->params); free(l->grads); free(l->state);
    for (int i = 0; i < l->n_in; i++) {
        free((float *)l->in[i]);
        free(din_owned ? din_owned[i] : l->din[i]);
    }
    free(l->out); free(l->dout);
}

/* ---- maxpool 2x2, stride 2 ------------------------------------------------ */

/* Values with many exact ties (small integers, both zeros) and NaNs. */
static float tie_value(test_rng *r)
{
    int k = test_rand_int(r, 0, 19);
    if (k == 0) return NAN;
    if (k == 1) return -NAN;
    if (k == 2) return -0.0f;
    if (k == 3) return 0.0f;
    if (k == 4) return test_rand_float(r, -5, 5);
    return (float)test_rand_int(r, -2, 2);
}

/* The winner of a window, defined differently from the code: the first
 * NaN in row-major window order if there is one, else the first element
 * equal to the window's maximum. */
static void ref_maxpool2x2(const float *x, int H, int W, float *y, int32_t *am)
{
    int P = H / 2, Q = W / 2;
    for (int p = 0; p < P; p++)
        for (int q = 0; q < Q; q++) {
            int32_t idx[4] = {2 * p * W + 2 * q, 2 * p * W + 2 * q + 1, (2 * p + 1) * W + 2 * q,
                              (2 * p + 1) * W + 2 * q + 1};
            int win = -1;
            for (int j = 0; j < 4 && win < 0; j++)
                if (isnan(x[idx[j]])) win = j;
            if (win < 0) {
                float m = x[idx[0]];
                for (int j = 1; j < 4; j++) m = fmaxf(m, x[idx[j]]);
                for (int j = 0; j < 4 && win < 0; j++)
                    if (x[idx[j]] == m) win = j;
            }
            y[p * Q + q] = x[idx[win]];
            am[p * Q + q] = idx[win];
        }
}

CCNN_TEST(eltwise_maxpool2x2_kernel)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    test_rng rng = {101};
    for (int t = 0; t < 150; t++) {
        /* tiny planes, odd sizes (a last row or column no window covers),
         * rows of 1..40 windows: every mask and tail */
        int H = t < 4 ? 2 + t : test_rand_int(&rng, 2, 30);
        int W = t < 4 ? 2 + (t ^ 1) : test_rand_int(&rng, 2, 83);
        if (t % 10 == 9) { H = 28; W = 28; }
        int P = H / 2, Q = W / 2;
        size_t nx = (size_t)H * W, ny = (size_t)P * Q;
        /* guards around the plane: a window reading past it would win with
         * 1e30, and the outputs' guards must stay -7 */
        float *xb = test_alloc(nx + 64), *x = xb + 32, *want = test_alloc(ny);
        float *yb = test_alloc(ny + 64), *y = yb + 32;
        int32_t *wam = malloc(ny * sizeof *wam), *amb = malloc((ny + 64) * sizeof *amb), *am = amb + 32;
        REQUIRE(wam && amb);
        for (size_t i = 0; i < nx + 64; i++) xb[i] = 1e30f;
        for (size_t i = 0; i < nx; i++) x[i] = tie_value(&rng);
        ref_maxpool2x2(x, H, W, want, wam);
        for (int k = 0; k < n_isa; k++) {
            REQUIRE(ccnn_set_isa(list[k]) == 0);
            const ccnn_eltwise_kernels *kr = ccnn_eltwise_for(ccnn_get_isa());
            for (size_t i = 0; i < ny + 64; i++) { yb[i] = -7; amb[i] = -7; }
            kr->maxpool2x2(x, W, P, Q, y, am);
            CHECK_MSG(same_bits(y, want, ny), "%s %dx%d: values differ", ccnn_isa_name(list[k]), H, W);
            CHECK_MSG(memcmp(am, wam, ny * sizeof *am) == 0, "%s %dx%d: argmax differs",
                      ccnn_isa_name(list[k]), H, W);
            int guard_ok = 1;
            for (int i = 0; i < 32; i++)
                guard_ok &= yb[i] == -7 && yb[32 + ny + i] == -7 && amb[i] == -7 && amb[32 + ny + i] == -7;
            CHECK_MSG(guard_ok, "%s %dx%d: wrote outside the output", ccnn_isa_name(list[k]), H, W);
        }
        free(xb); free(want); free(yb); free(wam); free(amb);
    }
    ccnn_set_isa(cur);
}

/* The layer: forward as the reference on every plane, backward adds dy at
 * the winners into a din that already holds values. */
CCNN_TEST(eltwise_maxpool2x2_layer)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    test_rng rng = {102};
    const ccnn_layer_spec spec = {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2};
    for (int t = 0; t < 12; t++) {
        ccnn_shape in = {test_rand_int(&rng, 1, 5), test_rand_int(&rng, 2, 33), test_rand_int(&rng, 2, 37)};
        int batch = test_rand_int(&rng, 1, 4);
        if (t == 0) in = (ccnn_shape){32, 28, 28}, batch = 3; /* above the parallel threshold */
        int P = in.h / 2, Q = in.w / 2;
        size_t plane = (size_t)in.h * in.w, oplane = (size_t)P * Q;
        for (int k = 0; k < n_isa; k++) {
            REQUIRE(ccnn_set_isa(list[k]) == 0);
            harness h;
            REQUIRE(h_make(&h, &spec, 1, in, batch, 1) == 0);
            ccnn_layer *l = &h.l;
            test_rng vr = {200 + (uint64_t)t}; /* the same values at every ISA */
            for (size_t i = 0; i < h.nx; i++) ((float *)l->in[0])[i] = tie_value(&vr);
            test_fill(&vr, l->dout, h.ny, -1, 1);
            test_fill(&vr, l->din[0], h.nx, -1, 1);
            float *din0 = test_alloc(h.nx), *want = test_alloc(h.ny), *wdx = test_alloc(h.nx);
            int32_t *wam = malloc(oplane * sizeof *wam);
            REQUIRE(wam);
            memcpy(din0, l->din[0], h.nx * sizeof(float));
            memcpy(wdx, din0, h.nx * sizeof(float));
            for (size_t pl = 0; pl < h.nx / plane; pl++) {
                ref_maxpool2x2(l->in[0] + pl * plane, in.h, in.w, want + pl * oplane, wam);
                for (size_t o = 0; o < oplane; o++) wdx[pl * plane + wam[o]] += l->dout[pl * oplane + o];
            }
            CHECK_RC(l->ops->forward(l, &h.run), 0);
            CHECK_RC(l->ops->backward(l, &h.run), 0);
            CHECK_MSG(same_bits(l->out, want, h.ny), "%s %dx%dx%d: forward differs",
                      ccnn_isa_name(list[k]), in.c, in.h, in.w);
            CHECK_MSG(same_bits(l->din[0], wdx, h.nx), "%s %dx%dx%d: backward differs",
                      ccnn_isa_name(list[k]), in.c, in.h, in.w);
            /* set_din: with din_fresh, din is written whatever it held */
            memset(wdx, 0, h.nx * sizeof(float));
            for (size_t pl = 0; pl < h.nx / plane; pl++) {
                ref_maxpool2x2(l->in[0] + pl * plane, in.h, in.w, want + pl * oplane, wam);
                for (size_t o = 0; o < oplane; o++) wdx[pl * plane + wam[o]] += l->dout[pl * oplane + o];
            }
            test_fill(&vr, l->din[0], h.nx, -1, 1);
            h.run.din_fresh = 1;
            CHECK_RC(l->ops->backward(l, &h.run), 0);
            h.run.din_fresh = 0;
            CHECK_MSG(l->ops->set_din && same_bits(l->din[0], wdx, h.nx),
                      "%s %dx%dx%d: backward into a fresh din differs", ccnn_isa_name(list[k]),
                      in.c, in.h, in.w);
            free(din0); free(want); free(wdx); free(wam);
            h_free(&h, NULL);
        }
    }
    ccnn_set_isa(cur);
}

/* ---- batch norm kernels --------------------------------------------------- */

/* The plane sums within 1e-5 of double sums, relative to the sum of the
 * terms' magnitudes (the error bound of any summation order); the
 * element-wise kernels bit for bit against the same float expressions;
 * and every ISA the same bits as the portable kernels. */
CCNN_TEST(eltwise_batchnorm_kernels)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    const ccnn_eltwise_kernels *portable = ccnn_eltwise_for(CCNN_ISA_SCALAR);
    test_rng rng = {103};
    for (int t = 0; t < 3 * N_LENGTHS; t++) {
        const int n = g_lengths[t % N_LENGTHS];
        float *x = test_alloc((size_t)n), *dy = test_alloc((size_t)n), *y = test_alloc((size_t)n + 1);
        float *dx = test_alloc((size_t)n + 1), *want = test_alloc((size_t)n), *dx0 = test_alloc((size_t)n);
        const float offset = t < N_LENGTHS ? 0.0f : t < 2 * N_LENGTHS ? 3.0f : -100.0f;
        for (int i = 0; i < n; i++) x[i] = offset + test_rand_float(&rng, -2, 2);
        test_fill(&rng, dy, (size_t)n, -1, 1);
        test_fill(&rng, dx0, (size_t)n, -1, 1);
        const float mean = offset + test_rand_float(&rng, -0.1f, 0.1f);
        const float scale = test_rand_float(&rng, 0.3f, 3), shift = test_rand_float(&rng, -1, 1);
        const float fa = test_rand_float(&rng, -2, 2), fb = test_rand_float(&rng, -2, 2),
                    fc = test_rand_float(&rng, -2, 2);
        double s = 0, sa = 0, q = 0, g = 0, ga = 0, h = 0, ha = 0;
        for (int i = 0; i < n; i++) {
            double d = (double)x[i] - mean;
            s += x[i]; sa += fabs(x[i]);
            q += d * d;
            g += dy[i]; ga += fabs(dy[i]);
            h += dy[i] * d; ha += fabs(dy[i] * d);
        }
        float p_sum = portable->sum(x, n), p_sq = portable->sq_dev(x, n, mean), p_g, p_h;
        portable->bn_grad_sums(x, dy, n, mean, &p_g, &p_h);
        for (int k = 0; k < n_isa; k++) {
            REQUIRE(ccnn_set_isa(list[k]) == 0);
            const ccnn_eltwise_kernels *kr = ccnn_eltwise_for(ccnn_get_isa());
            const char *nm = ccnn_isa_name(list[k]);
            float ks = kr->sum(x, n), kq = kr->sq_dev(x, n, mean), kg, kh;
            kr->bn_grad_sums(x, dy, n, mean, &kg, &kh);
            /* (q's terms are all positive: it is its own scale) */
            CHECK_MSG(close_to(ks, s, sa, 1e-5), "%s n=%d: sum %.9g, want %.9g", nm, n, ks, s);
            CHECK_MSG(close_to(kq, q, q, 1e-5), "%s n=%d: sq_dev %.9g, want %.9g", nm, n, kq, q);
            CHECK_MSG(close_to(kg, g, ga, 1e-5), "%s n=%d: sum dy %.9g, want %.9g", nm, n, kg, g);
            CHECK_MSG(close_to(kh, h, ha, 1e-5),
                      "%s n=%d: sum dy*(x-mean) %.9g, want %.9g", nm, n, kh, h);
            CHECK_MSG(ks == p_sum && kq == p_sq && kg == p_g && kh == p_h,
                      "%s n=%d: sums differ from the portable kernels", nm, n);

            y[n] = 42; /* must not be written */
            kr->scale_shift(x, n, scale, shift, y);
            for (int i = 0; i < n; i++) want[i] = x[i] * scale + shift;
            CHECK_MSG(same_bits(y, want, (size_t)n) && y[n] == 42, "%s n=%d: scale_shift", nm, n);

            memcpy(dx, dx0, (size_t)n * sizeof(float));
            dx[n] = 42;
            kr->bn_grad_dx(x, dy, n, fa, fb, fc, dx, 0);
            for (int i = 0; i < n; i++) want[i] = dx0[i] + ((fa * dy[i] + fb * x[i]) + fc);
            CHECK_MSG(same_bits(dx, want, (size_t)n) && dx[n] == 42, "%s n=%d: bn_grad_dx", nm, n);
        }
        free(x); free(dy); free(y); free(dx); free(want); free(dx0);
    }
    ccnn_set_isa(cur);
}

/* ---- batch norm layer ------------------------------------------------------ */

/* Double-precision batch norm in training, forward and backward, from the
 * formulas (not the code's rearrangement): y = g xhat + b;
 * dx = g inv (dy - mean(dy) - xhat mean(dy xhat)), dgamma = sum dy xhat,
 * dbeta = sum dy. */
static void ref_bn_train(const float *x, const float *dy, int N, int C, int HW, const float *g,
                         const float *b, double eps, double *y, double *dx, double *dgamma,
                         double *dbeta, double *mean_out, double *var_out)
{
    double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0, sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += x[((size_t)n * C + c) * HW + i];
        double mean = s / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double d = x[((size_t)n * C + c) * HW + i] - mean;
                ss += d * d;
            }
        double var = ss / M, inv = 1 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t j = ((size_t)n * C + c) * HW + i;
                double xh = (x[j] - mean) * inv;
                y[j] = g[c] * xh + b[c];
                sdy += dy[j];
                sdyx += dy[j] * xh;
            }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t j = ((size_t)n * C + c) * HW + i;
                double xh = (x[j] - mean) * inv;
                dx[j] = g[c] * inv * (dy[j] - sdy / M - xh * sdyx / M);
            }
        dgamma[c] = sdyx;
        dbeta[c] = sdy;
        mean_out[c] = mean;
        var_out[c] = var;
    }
}

/* max |got - want| / max(max |want|, floor) */
static double rel_err_d(const float *got, const double *want, size_t n, double floor)
{
    double scale = floor, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= worst)) worst = e;
    }
    return worst / scale;
}

CCNN_TEST(eltwise_batchnorm_layer)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    test_rng rng = {104};
    const ccnn_layer_spec spec = {.type = CCNN_LAYER_BATCHNORM};
    for (int t = 0; t < 14; t++) {
        ccnn_shape in = {test_rand_int(&rng, 1, 6), test_rand_int(&rng, 1, 19), test_rand_int(&rng, 1, 23)};
        int batch = test_rand_int(&rng, 1, 5);
        if (t == 0) in = (ccnn_shape){1, 1, 1}, batch = 5;  /* one value per plane */
        if (t == 1) in = (ccnn_shape){4, 14, 14}, batch = 8; /* the default net's shapes */
        if (t == 2) in = (ccnn_shape){3, 28, 28}, batch = 4;
        if (batch * in.h * in.w < 2) batch = 2;            /* a variance needs two values */
        const int C = in.c, HW = in.h * in.w;
        size_t n = (size_t)batch * C * HW;
        float *x = test_alloc(n), *dy = test_alloc(n), *g = test_alloc((size_t)C), *b = test_alloc((size_t)C);
        float *din0 = test_alloc(n), *ref_out = NULL, *ref_dx = NULL, *ref_g = NULL;
        double *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *dg = malloc(C * sizeof *dg),
               *db = malloc(C * sizeof *db), *mean = malloc(C * sizeof *mean), *var = malloc(C * sizeof *var);
        REQUIRE(y && dx && dg && db && mean && var);
        /* means away from 0, yet not many standard deviations away: y is
         * computed as x * scale + shift in float (as PyTorch does), which
         * loses |mean| / std ulps of y */
        const float offset = (float)test_rand_int(&rng, -3, 3);
        for (size_t i = 0; i < n; i++) x[i] = offset + test_rand_float(&rng, -1, 1) * 2;
        test_fill(&rng, dy, n, -1, 1);
        test_fill(&rng, g, (size_t)C, 0.5f, 2);
        test_fill(&rng, b, (size_t)C, -1, 1);
        test_fill(&rng, din0, n, -1, 1);
        ref_bn_train(x, dy, batch, C, HW, g, b, 1e-5, y, dx, dg, db, mean, var);
        for (size_t i = 0; i < n; i++) dx[i] += din0[i]; /* backward adds */
        for (int k = 0; k < n_isa; k++) {
            REQUIRE(ccnn_set_isa(list[k]) == 0);
            const char *nm = ccnn_isa_name(list[k]);
            harness h;
            REQUIRE(h_make(&h, &spec, 1, in, batch, 1) == 0);
            ccnn_layer *l = &h.l;
            memcpy((float *)l->in[0], x, n * sizeof(float));
            memcpy(l->dout, dy, n * sizeof(float));
            memcpy(l->din[0], din0, n * sizeof(float));
            memcpy(l->params, g, C * sizeof(float));
            memcpy(l->params + C, b, C * sizeof(float));
            CHECK_RC(l->ops->forward(l, &h.run), 0);
            CHECK_RC(l->ops->backward(l, &h.run), 0);
            double ey = rel_err_d(l->out, y, n, 1), edx = rel_err_d(l->din[0], dx, n, 1e-3);
            double edg = rel_err_d(l->grads, dg, (size_t)C, 1e-3), edb = rel_err_d(l->grads + C, db, (size_t)C, 1e-3);
            CHECK_MSG(ey <= 1e-5, "%s %dx%dx%d batch %d: y rel err %.3g", nm, C, in.h, in.w, batch, ey);
            CHECK_MSG(edx <= 1e-5, "%s %dx%dx%d batch %d: dx rel err %.3g", nm, C, in.h, in.w, batch, edx);
            CHECK_MSG(edg <= 1e-5, "%s %dx%dx%d batch %d: dgamma rel err %.3g", nm, C, in.h, in.w, batch, edg);
            CHECK_MSG(edb <= 1e-5, "%s %dx%dx%d batch %d: dbeta rel err %.3g", nm, C, in.h, in.w, batch, edb);
            /* running statistics after one step from (0, 1), momentum 0.1 */
            double M = (double)batch * HW;
            for (int c = 0; c < C; c++) {
                double rm = 0.1 * mean[c], rv = 0.9 + 0.1 * var[c] * M / (M - 1);
                CHECK_MSG(close_to(l->state[c], rm, fmax(fabs(rm), 1e-3), 1e-5) &&
                          close_to(l->state[C + c], rv, rv, 1e-5),
                          "%s: running stats of channel %d", nm, c);
            }
            /* the same bits at every ISA */
            if (k == 0) {
                ref_out = test_alloc(n); ref_dx = test_alloc(n); ref_g = test_alloc((size_t)2 * C);
                memcpy(ref_out, l->out, n * sizeof(float));
                memcpy(ref_dx, l->din[0], n * sizeof(float));
                memcpy(ref_g, l->grads, (size_t)2 * C * sizeof(float));
            } else {
                CHECK_MSG(same_bits(ref_out, l->out, n) && same_bits(ref_dx, l->din[0], n) &&
                          same_bits(ref_g, l->grads, (size_t)2 * C),
                          "%s %dx%dx%d: bits differ from %s", nm, C, in.h, in.w, ccnn_isa_name(list[0]));
            }
            h_free(&h, NULL);
        }
        free(x); free(dy); free(g); free(b); free(din0); free(ref_out); free(ref_dx); free(ref_g);
        free(y); free(dx); free(dg); free(db); free(mean); free(var);
    }
    ccnn_set_isa(cur);
}

/* ---- relu and add ----------------------------------------------------------- */

/* Random values with the special ones the selects must get right. */
static float special_value(test_rng *r)
{
    switch (test_rand_int(r, 0, 15)) {
    case 0: return NAN;
    case 1: return -0.0f;
    case 2: return 0.0f;
    case 3: return INFINITY;
    case 4: return -INFINITY;
    default: return test_rand_float(r, -3, 3);
    }
}

CCNN_TEST(eltwise_relu_add_layers)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    test_rng rng = {105};
    for (int t = 0; t < 16; t++) {
        ccnn_shape in = {test_rand_int(&rng, 1, 5), test_rand_int(&rng, 1, 13), test_rand_int(&rng, 1, 17)};
        int batch = test_rand_int(&rng, 1, 3);
        if (t == 0) in = (ccnn_shape){32, 28, 28}, batch = 2; /* threaded, blocks of 8192 plus a tail */
        if (t == 1) in = (ccnn_shape){1, 1, 1}, batch = 1;
        size_t n = (size_t)batch * ccnn_shape_size(in);
        for (int k = 0; k < n_isa; k++) {
            REQUIRE(ccnn_set_isa(list[k]) == 0);
            const char *nm = ccnn_isa_name(list[k]);
            test_rng vr = {300 + (uint64_t)t};

            /* relu */
            harness h;
            const ccnn_layer_spec rs = {.type = CCNN_LAYER_RELU};
            REQUIRE(h_make(&h, &rs, 1, in, batch, 1) == 0);
            float *x = (float *)h.l.in[0], *want = test_alloc(n), *wdx = test_alloc(n);
            for (size_t i = 0; i < n; i++) {
                x[i] = special_value(&vr);
                h.l.dout[i] = special_value(&vr);
                h.l.din[0][i] = special_value(&vr);
            }
            for (size_t i = 0; i < n; i++) {
                want[i] = x[i] > 0 ? x[i] : 0.0f;
                wdx[i] = h.l.din[0][i] + (want[i] > 0 ? h.l.dout[i] : 0.0f);
            }
            CHECK_RC(h.l.ops->forward(&h.l, &h.run), 0);
            CHECK_RC(h.l.ops->backward(&h.l, &h.run), 0);
            CHECK_MSG(same_values(h.l.out, want, n), "%s relu n=%zu: forward differs", nm, n);
            CHECK_MSG(same_values(h.l.din[0], wdx, n), "%s relu n=%zu: backward differs", nm, n);
            free(want); free(wdx);
            h_free(&h, NULL);

            /* add of 2..4 inputs; for 3 inputs, the first is named twice
             * (din[0] == din[2]) and must receive the gradient twice */
            int m = 2 + t % 3;
            const ccnn_layer_spec as = {.type = CCNN_LAYER_ADD};
            REQUIRE(h_make(&h, &as, m, in, batch, 1) == 0);
            float *owned[CCNN_MAX_INPUTS];
            for (int j = 0; j < m; j++) owned[j] = h.l.din[j];
            if (m == 3) h.l.din[2] = h.l.din[0];
            want = test_alloc(n);
            float *wd[CCNN_MAX_INPUTS];
            for (int j = 0; j < m; j++) {
                for (size_t i = 0; i < n; i++) ((float *)h.l.in[j])[i] = special_value(&vr);
                for (size_t i = 0; i < n; i++) owned[j][i] = special_value(&vr);
            }
            for (size_t i = 0; i < n; i++) h.l.dout[i] = special_value(&vr);
            for (size_t i = 0; i < n; i++) {
                float s = h.l.in[0][i];
                for (int j = 1; j < m; j++) s += h.l.in[j][i];
                want[i] = s;
            }
            for (int j = 0; j < m; j++) {
                wd[j] = test_alloc(n);
                memcpy(wd[j], owned[j], n * sizeof(float));
            }
            for (int j = 0; j < m; j++) {
                float *d = (m == 3 && j == 2) ? wd[0] : wd[j];
                for (size_t i = 0; i < n; i++) d[i] += h.l.dout[i];
            }
            CHECK_RC(h.l.ops->forward(&h.l, &h.run), 0);
            CHECK_RC(h.l.ops->backward(&h.l, &h.run), 0);
            CHECK_MSG(same_values(h.l.out, want, n), "%s add of %d, n=%zu: forward differs", nm, m, n);
            for (int j = 0; j < m; j++)
                if (!(m == 3 && j == 2))
                    CHECK_MSG(same_values(owned[j], wd[j], n), "%s add of %d, n=%zu: din[%d] differs", nm, m, n, j);
            for (int j = 0; j < m; j++) free(wd[j]);
            free(want);
            h_free(&h, owned);
        }
    }
    ccnn_set_isa(cur);
}

/* ---- threads ----------------------------------------------------------------- */

/* Every layer here, forward and backward at 1 and 2 threads, bit for bit,
 * at each ISA; sizes above the layers' thresholds for going parallel. */
CCNN_TEST(eltwise_layers_thread_independent)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n_isa = test_isas(list);
    const ccnn_layer_spec specs[] = {
        {.type = CCNN_LAYER_BATCHNORM},
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2},
        {.type = CCNN_LAYER_RELU},
        {.type = CCNN_LAYER_ADD},
    };
    const ccnn_shape shapes[] = {{6, 15, 13}, {32, 28, 28}};
    for (int k = 0; k < n_isa; k++) {
        REQUIRE(ccnn_set_isa(list[k]) == 0);
        for (int si = 0; si < 2; si++)
            for (int t = 0; t < 4; t++) {
                const int m = specs[t].type == CCNN_LAYER_ADD ? 2 : 1, batch = 9;
                float *ref[4] = {NULL, NULL, NULL, NULL};
                for (int pass = 0; pass < 2; pass++) {
                    ccnn_set_num_threads(pass ? 2 : 1);
                    harness h;
                    test_rng rng = {106};
                    REQUIRE(h_make(&h, &specs[t], m, shapes[si], batch, 1) == 0);
                    ccnn_layer *l = &h.l;
                    for (int j = 0; j < m; j++) {
                        test_fill(&rng, (float *)l->in[j], h.nx, -1, 3);
                        test_fill(&rng, l->din[j], h.nx, -1, 1);
                    }
                    test_fill(&rng, l->dout, h.ny, -1, 1);
                    CHECK_RC(l->ops->forward(l, &h.run), 0);
                    CHECK_RC(l->ops->backward(l, &h.run), 0);
                    const float *got[4] = {l->out, l->din[0], m > 1 ? l->din[1] : l->din[0], l->grads};
                    size_t cnt[4] = {h.ny, h.nx, h.nx, l->n_params};
                    for (int a = 0; a < 4; a++) {
                        if (!pass) {
                            ref[a] = test_alloc(cnt[a]);
                            memcpy(ref[a], got[a], cnt[a] * sizeof(float));
                        } else {
                            CHECK_MSG(same_bits(ref[a], got[a], cnt[a]), "%s %s %dx%dx%d: array %d differs at 2 threads",
                                      ccnn_isa_name(list[k]), l->ops->type_name, shapes[si].c,
                                      shapes[si].h, shapes[si].w, a);
                        }
                    }
                    h_free(&h, NULL);
                }
                for (int a = 0; a < 4; a++) free(ref[a]);
            }
    }
    ccnn_set_num_threads(0);
    ccnn_set_isa(cur);
}
