/* test_layers_misc.c - the activation, flatten, add, concat and deconv
 * layers, built into small nets through the public API:
 *   - forward values against independent loops written here (deconv against
 *     a plain scatter-form transposed convolution on random configs);
 *   - deconv against PyTorch fixtures (tools/gen_deconv_fixtures.py), the
 *     backward through the layer's own ops to check it ADDS into din/grads;
 *   - gradients of whole nets by finite differences (ccnn_net_gradcheck),
 *     including a residual block and an inception-like block where one
 *     output feeds several layers;
 *   - bad specs rejected by ccnn_net_add with a message. */
#include "test.h"
#include "net/net_internal.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

static ccnn_net *new_net(int c, int h, int w)
{
    ccnn_input_spec in = {.c = c, .h = h, .w = w};
    ccnn_net *net = NULL;
    int rc = ccnn_net_create(&net, &in);
    CHECK_RC(rc, 0);
    return rc ? NULL : net;
}

/* Appends a layer; a failure is a test failure that names the layer. */
static int add(ccnn_net *net, ccnn_layer_spec s)
{
    char err[256] = "";
    int rc = ccnn_net_add(net, &s, err, sizeof err);
    CHECK_MSG(rc == 0, "ccnn_net_add(%s) failed: %s", s.name, err);
    return rc;
}

/* A spec of `type` named `name` reading the listed layers:
 * MULTI(CCNN_LAYER_ADD, "sum", "a", "b"). */
static ccnn_layer_spec multi(ccnn_layer_type type, const char *name, const char *const *ins)
{
    ccnn_layer_spec s = {.type = type};
    snprintf(s.name, sizeof s.name, "%s", name);
    for (; *ins && s.n_inputs < CCNN_MAX_INPUTS; ins++)
        snprintf(s.inputs[s.n_inputs++], CCNN_NAME_MAX, "%s", *ins);
    return s;
}
#define MULTI(type, name, ...) multi(type, name, (const char *const[]){__VA_ARGS__, NULL})

/* The data of tensor "layer.suffix", or NULL. */
static float *tensor(ccnn_net *net, const char *name, size_t *count)
{
    ccnn_tensor_info ti;
    if (ccnn_net_find_tensor(net, name, &ti)) return NULL;
    size_t n = 1;
    for (int d = 0; d < ti.ndim; d++) n *= (size_t)ti.dims[d];
    if (count) *count = n;
    return ti.data;
}

static void last_info(ccnn_net *net, ccnn_layer_info *info)
{
    CHECK_RC(ccnn_net_layer_info(net, ccnn_net_num_layers(net) - 1, info), 0);
}

/* ---- activations, flatten, add, concat: forward values -------------------- */

static double ref_act(ccnn_layer_type t, double x, double slope)
{
    switch (t) {
    case CCNN_LAYER_LEAKY_RELU: return x > 0 ? x : slope * x;
    case CCNN_LAYER_SIGMOID: return 1 / (1 + exp(-x));
    default: return tanh(x);
    }
}

CCNN_TEST(layers_misc_activations_forward)
{
    const struct { ccnn_layer_type type; float slope, want_slope; } cases[] = {
        {CCNN_LAYER_LEAKY_RELU, 0, 0.01f}, {CCNN_LAYER_LEAKY_RELU, 0.2f, 0.2f},
        {CCNN_LAYER_LEAKY_RELU, -0.5f, -0.5f}, {CCNN_LAYER_SIGMOID, 0, 0}, {CCNN_LAYER_TANH, 0, 0},
    };
    test_rng r = {11};
    int batch = 3, C = 2, H = 3, W = 5;
    size_t n = (size_t)batch * C * H * W;
    float *x = test_alloc(n);
    test_fill(&r, x, n, -6, 6);
    x[0] = 0; x[1] = -100; x[2] = 100; /* the kink and saturation */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ccnn_net *net = new_net(C, H, W);
        REQUIRE(net);
        if (add(net, (ccnn_layer_spec){.type = cases[k].type, .slope = cases[k].slope}) == 0 &&
            ccnn_net_forward(net, x, batch, 0, 0) == 0) {
            const float *y = ccnn_net_output(net);
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                double want = ref_act(cases[k].type, x[i], cases[k].want_slope);
                worst = fmax(worst, fabs(y[i] - want) / fmax(1.0, fabs(want)));
            }
            CHECK_MSG(worst < 1e-6, "case %zu: error %g", k, worst);
            ccnn_layer_info info;
            last_info(net, &info);
            CHECK(info.c == C && info.h == H && info.w == W && info.params == 0 && info.flops > 0);
        }
        ccnn_net_free(net);
    }
    free(x);
}

CCNN_TEST(layers_misc_flatten_forward)
{
    test_rng r = {12};
    size_t n = 2 * 3 * 4 * 5;
    float *x = test_alloc(n);
    test_fill(&r, x, n, -1, 1);
    ccnn_net *net = new_net(3, 4, 5);
    REQUIRE(net);
    if (add(net, (ccnn_layer_spec){.type = CCNN_LAYER_FLATTEN}) == 0) {
        ccnn_layer_info info;
        last_info(net, &info);
        CHECK(info.c == 60 && info.h == 1 && info.w == 1 && info.params == 0);
        CHECK_RC(ccnn_net_forward(net, x, 2, 0, 0), 0);
        CHECK(memcmp(ccnn_net_output(net), x, n * sizeof(float)) == 0);
    }
    ccnn_net_free(net);
    free(x);
}

/* add(input, sigmoid(input), tanh(input)) = x + sigmoid(x) + tanh(x). */
CCNN_TEST(layers_misc_add_forward)
{
    test_rng r = {13};
    int batch = 2;
    size_t n = (size_t)batch * 2 * 3 * 4;
    float *x = test_alloc(n);
    test_fill(&r, x, n, -3, 3);
    ccnn_net *net = new_net(2, 3, 4);
    REQUIRE(net);
    int rc = add(net, (ccnn_layer_spec){.type = CCNN_LAYER_SIGMOID, .name = "s"});
    if (!rc) rc = add(net, MULTI(CCNN_LAYER_TANH, "t", "input"));
    if (!rc) rc = add(net, MULTI(CCNN_LAYER_ADD, "sum", "input", "s", "t"));
    if (!rc && ccnn_net_forward(net, x, batch, 0, 0) == 0) {
        const float *y = ccnn_net_output(net);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(y[i] - (x[i] + 1 / (1 + exp(-x[i])) + tanh(x[i]))));
        CHECK_MSG(worst < 1e-5, "error %g", worst);
        ccnn_layer_info info;
        last_info(net, &info);
        CHECK(info.c == 2 && info.h == 3 && info.w == 4 && info.flops == 2.0 * 24);
    }
    ccnn_net_free(net);
    free(x);
}

/* c1 = concat(input, s), out = concat(t, c1, input): per sample the channels
 * are t, x, s, x (C each). */
CCNN_TEST(layers_misc_concat_forward)
{
    test_rng r = {14};
    int batch = 3, C = 2, HW = 3 * 2;
    size_t n = (size_t)batch * C * HW;
    float *x = test_alloc(n);
    test_fill(&r, x, n, -3, 3);
    ccnn_net *net = new_net(C, 3, 2);
    REQUIRE(net);
    int rc = add(net, (ccnn_layer_spec){.type = CCNN_LAYER_SIGMOID, .name = "s"});
    if (!rc) rc = add(net, MULTI(CCNN_LAYER_CONCAT, "c1", "input", "s"));
    if (!rc) rc = add(net, MULTI(CCNN_LAYER_TANH, "t", "input"));
    if (!rc) rc = add(net, MULTI(CCNN_LAYER_CONCAT, "c2", "t", "c1", "input"));
    if (!rc && ccnn_net_forward(net, x, batch, 0, 0) == 0) {
        ccnn_layer_info info;
        last_info(net, &info);
        CHECK(info.c == 4 * C && info.h == 3 && info.w == 2);
        const float *y = ccnn_net_output(net);
        double worst = 0;
        for (int b = 0; b < batch; b++)
            for (int part = 0; part < 4; part++)
                for (int i = 0; i < C * HW; i++) {
                    double v = x[(size_t)b * C * HW + i];
                    double want = part == 0 ? tanh(v) : part == 2 ? 1 / (1 + exp(-v)) : v;
                    worst = fmax(worst, fabs(y[((size_t)b * 4 + part) * C * HW + i] - want));
                }
        CHECK_MSG(worst < 1e-6, "error %g", worst);
    }
    ccnn_net_free(net);
    free(x);
}

/* ---- deconv against a plain scatter --------------------------------------- */

typedef struct {
    int n, c, h, w, f, r, s, sh, sw, pt, pb, pl, pr, dh, dw, oph, opw, groups, bias;
} deconv_cfg;

static int out_len(int in, int k, int st, int p0, int p1, int dil, int op)
{
    return (in - 1) * st - p0 - p1 + dil * (k - 1) + op + 1;
}

/* Every input value times every tap of its group's filters lands on
 * output (i*sh - pt + r*dh, j*sw - pl + s*dw), if that is inside. */
static void naive_deconv(const deconv_cfg *g, const float *x, const float *w, const float *b,
                         double *y, int ho, int wo)
{
    int cg = g->c / g->groups, fg = g->f / g->groups;
    for (int n = 0; n < g->n; n++)
        for (int f = 0; f < g->f; f++)
            for (int i = 0; i < ho * wo; i++) y[((size_t)n * g->f + f) * ho * wo + i] = b ? b[f] : 0;
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++)
            for (int i = 0; i < g->h; i++)
                for (int j = 0; j < g->w; j++) {
                    double v = x[(((size_t)n * g->c + c) * g->h + i) * g->w + j];
                    for (int fo = 0; fo < fg; fo++) {
                        int f = c / cg * fg + fo;
                        for (int r = 0; r < g->r; r++)
                            for (int s = 0; s < g->s; s++) {
                                int oh = i * g->sh - g->pt + r * g->dh, ow = j * g->sw - g->pl + s * g->dw;
                                if (oh < 0 || oh >= ho || ow < 0 || ow >= wo) continue;
                                y[(((size_t)n * g->f + f) * ho + oh) * wo + ow] +=
                                    v * w[(((size_t)c * fg + fo) * g->r + r) * g->s + s];
                            }
                    }
                }
}

static ccnn_layer_spec deconv_spec(const deconv_cfg *g)
{
    return (ccnn_layer_spec){
        .type = CCNN_LAYER_DECONV, .name = "d", .filters = g->f, .size_h = g->r, .size_w = g->s,
        .stride_h = g->sh, .stride_w = g->sw, .pad_top = g->pt, .pad_bottom = g->pb,
        .pad_left = g->pl, .pad_right = g->pr, .dilation_h = g->dh, .dilation_w = g->dw,
        .groups = g->groups, .output_pad_h = g->oph, .output_pad_w = g->opw, .no_bias = !g->bias};
}

static deconv_cfg random_cfg(test_rng *r)
{
    for (;;) {
        deconv_cfg g;
        g.groups = test_rand_int(r, 1, 3);
        g.c = g.groups * test_rand_int(r, 1, 2);
        g.f = g.groups * test_rand_int(r, 1, 3);
        g.n = test_rand_int(r, 1, 3);
        g.h = test_rand_int(r, 1, 6); g.w = test_rand_int(r, 1, 6);
        g.r = test_rand_int(r, 1, 4); g.s = test_rand_int(r, 1, 4);
        g.sh = test_rand_int(r, 1, 3); g.sw = test_rand_int(r, 1, 3);
        g.dh = test_rand_int(r, 1, 3); g.dw = test_rand_int(r, 1, 3);
        g.pt = test_rand_int(r, 0, 3); g.pb = test_rand_int(r, 0, 3);
        g.pl = test_rand_int(r, 0, 3); g.pr = test_rand_int(r, 0, 3);
        /* PyTorch's limit: below the stride or below the dilation */
        g.oph = test_rand_int(r, 0, (g.sh > g.dh ? g.sh : g.dh) - 1);
        g.opw = test_rand_int(r, 0, (g.sw > g.dw ? g.sw : g.dw) - 1);
        g.bias = test_rand_int(r, 0, 1);
        /* not empty, and the top/left crop leaves part of the scatter */
        if (out_len(g.h, g.r, g.sh, g.pt, g.pb, g.dh, g.oph) < 1 ||
            out_len(g.w, g.s, g.sw, g.pl, g.pr, g.dw, g.opw) < 1 ||
            g.pt >= out_len(g.h, g.r, g.sh, 0, 0, g.dh, 0) ||
            g.pl >= out_len(g.w, g.s, g.sw, 0, 0, g.dw, 0))
            continue;
        return g;
    }
}

CCNN_TEST(layers_misc_deconv_forward_naive)
{
    test_rng r = {15};
    ccnn_conv_impl saved = ccnn_conv2d_get_impl();
    int saved_threads = ccnn_get_num_threads();
    for (int t = 0; t < 60 && !test_failed_now(); t++) {
        deconv_cfg g = random_cfg(&r);
        int ho = out_len(g.h, g.r, g.sh, g.pt, g.pb, g.dh, g.oph);
        int wo = out_len(g.w, g.s, g.sw, g.pl, g.pr, g.dw, g.opw);
        ccnn_net *net = new_net(g.c, g.h, g.w);
        REQUIRE(net);
        if (add(net, deconv_spec(&g))) { ccnn_net_free(net); continue; }
        ccnn_layer_info info;
        last_info(net, &info);
        CHECK_MSG(info.c == g.f && info.h == ho && info.w == wo, "config %d: output %dx%dx%d, want %dx%dx%d",
                  t, info.c, info.h, info.w, g.f, ho, wo);
        CHECK(info.flops == 2.0 * g.c * g.h * g.w * (g.f / g.groups) * g.r * g.s);
        CHECK_RC(ccnn_net_init(net, 1), 0);
        size_t nw = 0, nb = 0, nx = (size_t)g.n * g.c * g.h * g.w, ny = (size_t)g.n * g.f * ho * wo;
        float *w = tensor(net, "d.weight", &nw), *b = tensor(net, "d.bias", &nb);
        REQUIRE(w && nw == (size_t)g.c * (g.f / g.groups) * g.r * g.s);
        REQUIRE(g.bias ? b && nb == (size_t)g.f : !b);
        float *x = test_alloc(nx);
        double *want = malloc(ny * sizeof *want);
        REQUIRE(want);
        test_fill(&r, x, nx, -1, 1);
        test_fill(&r, w, nw, -1, 1);
        if (b) test_fill(&r, b, nb, -1, 1);
        naive_deconv(&g, x, w, b, want, ho, wo);
        float *first = test_alloc(ny);
        /* both conv implementations; 1 and 3 threads give the same bits */
        for (int run = 0; run < 3; run++) {
            ccnn_conv2d_set_impl(run == 0 ? CCNN_CONV_REF : CCNN_CONV_FAST);
            ccnn_set_num_threads(run == 2 ? 3 : 1);
            /* a larger batch first, so the net runs on grown buffers */
            CHECK_RC(ccnn_net_forward(net, x, g.n, 1, 0), 0);
            const float *y = ccnn_net_output(net);
            double worst = 0, scale = 1e-6;
            for (size_t i = 0; i < ny; i++) {
                worst = fmax(worst, fabs(y[i] - want[i]));
                scale = fmax(scale, fabs(want[i]));
            }
            CHECK_MSG(worst / scale < 1e-5, "config %d run %d: n%d c%d %dx%d f%d k%dx%d s%d,%d "
                      "p%d,%d,%d,%d d%d,%d op%d,%d g%d: rel error %g", t, run, g.n, g.c, g.h, g.w,
                      g.f, g.r, g.s, g.sh, g.sw, g.pt, g.pb, g.pl, g.pr, g.dh, g.dw, g.oph, g.opw,
                      g.groups, worst / scale);
            if (run == 1) memcpy(first, y, ny * sizeof(float));
            if (run == 2) CHECK_MSG(memcmp(first, y, ny * sizeof(float)) == 0, "config %d: thread count changes results", t);
        }
        free(first); free(x); free(want);
        ccnn_net_free(net);
    }
    ccnn_set_num_threads(saved_threads);
    ccnn_conv2d_set_impl(saved);
}

/* ---- deconv against PyTorch ----------------------------------------------- */

#define DECONV_FIXTURES(X) \
    X(basic) X(stride2_up) X(asym_pad) X(opad_dilation) X(opad_in_pad) X(groups2) X(depthwise) X(mixed)
#define DCV_NAME_STR(name) #name,
static const char *const g_deconv_fixtures[] = {DECONV_FIXTURES(DCV_NAME_STR)};
#define N_DCV ((int)(sizeof g_deconv_fixtures / sizeof g_deconv_fixtures[0]))
#define DCV_NINTS 19

typedef struct {
    deconv_cfg g;
    int ho, wo;
    size_t nx, nw, nb, ny;
    float *x, *w, *b, *dy, *y, *dx, *dw, *db, *buf;
} deconv_fixture;

static const char *deconv_dir(void)
{
    const char *d = getenv("CCNN_FIXTURES_DIR");
    return d && *d ? d : "tests/fixtures/deconv";
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads tests/fixtures/deconv/<name>.bin (format: the generator's docstring). */
static int deconv_fixture_load(const char *name, deconv_fixture *f)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", deconv_dir(), name);
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    CHECK_MSG(fp != NULL, "%s: %s; regenerate with /usr/bin/python3 tools/gen_deconv_fixtures.py",
              path, strerror(errno));
    if (!fp) return -1;
    unsigned char hdr[12 + 4 * DCV_NINTS];
    int v[DCV_NINTS], ok = fread(hdr, 1, sizeof hdr, fp) == sizeof hdr && memcmp(hdr, "CCNNDCV1", 8) == 0 &&
                           le32(hdr + 8) == DCV_NINTS;
    for (int i = 0; ok && i < DCV_NINTS; i++) {
        v[i] = (int)le32(hdr + 12 + 4 * i);
        ok = v[i] >= 0 && v[i] <= 64;
    }
    if (ok) {
        deconv_cfg *g = &f->g;
        *g = (deconv_cfg){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                          v[12], v[13], v[14], v[15], v[16], v[17], v[18]};
        ok = g->groups > 0 && g->c % g->groups == 0 && g->f % g->groups == 0 && g->sh > 0 && g->sw > 0;
        f->ho = out_len(g->h, g->r, g->sh, g->pt, g->pb, g->dh, g->oph);
        f->wo = out_len(g->w, g->s, g->sw, g->pl, g->pr, g->dw, g->opw);
        ok = ok && f->ho > 0 && f->wo > 0;
    }
    size_t total = 0;
    if (ok) {
        const deconv_cfg *g = &f->g;
        f->nx = (size_t)g->n * g->c * g->h * g->w;
        f->nw = (size_t)g->c * (g->f / g->groups) * g->r * g->s;
        f->nb = g->bias ? (size_t)g->f : 0;
        f->ny = (size_t)g->n * g->f * f->ho * f->wo;
        total = 2 * (f->nx + f->nw + f->nb + f->ny);
        unsigned char *raw = malloc(4 * total + 1);
        f->buf = test_alloc(total);
        ok = raw && fread(raw, 1, 4 * total + 1, fp) == 4 * total; /* and nothing after */
        for (size_t i = 0; ok && i < total; i++) {
            uint32_t u = le32(raw + 4 * i);
            memcpy(&f->buf[i], &u, 4);
            ok = isfinite(f->buf[i]);
        }
        free(raw);
    }
    fclose(fp);
    CHECK_MSG(ok, "%s: bad or truncated fixture", path);
    if (!ok) { free(f->buf); f->buf = NULL; return -1; }
    float *q = f->buf;
    f->x = q; q += f->nx;
    f->w = q; q += f->nw;
    f->b = f->nb ? q : NULL; q += f->nb;
    f->dy = q; q += f->ny;
    f->y = q; q += f->ny;
    f->dx = q; q += f->nx;
    f->dw = q; q += f->nw;
    f->db = f->nb ? q : NULL;
    return 0;
}

static void check_rel(const char *name, const char *what, const float *got, const float *want, size_t n,
                      double tol)
{
    double e = test_rel_err(got, want, n, 1e-6);
    CHECK_MSG(e <= tol, "%s: %s relative error %.3g > %.0e", name, what, e, tol);
}

/* Forward through the net; backward by the layer's own ops with dout = the
 * fixture's dy and din/grads pre-filled with 1, so the result must be
 * 1 + torch's gradient (the layer adds, never overwrites). */
static void run_deconv_fixture(const char *name, ccnn_conv_impl impl, double tol)
{
    deconv_fixture f;
    if (deconv_fixture_load(name, &f)) return;
    ccnn_conv_impl saved = ccnn_conv2d_get_impl();
    ccnn_conv2d_set_impl(impl);
    ccnn_net *net = new_net(f.g.c, f.g.h, f.g.w);
    if (net && add(net, deconv_spec(&f.g)) == 0) {
        ccnn_layer *l = net->layers[0];
        REQUIRE(l->n_params == f.nw + f.nb);
        memcpy(l->params, f.w, f.nw * sizeof(float));
        if (f.nb) memcpy(l->params + f.nw, f.b, f.nb * sizeof(float));
        CHECK_RC(ccnn_net_forward(net, f.x, f.g.n, 1, 0), 0);
        check_rel(name, "y", ccnn_net_output(net), f.y, f.ny, tol);

        float *dx = test_alloc(f.nx), *one_dx = test_alloc(f.nx), *one_g = test_alloc(f.nw + f.nb);
        for (size_t i = 0; i < f.nx; i++) dx[i] = 1;
        for (size_t i = 0; i < f.nw + f.nb; i++) l->grads[i] = 1;
        memcpy(l->dout, f.dy, f.ny * sizeof(float));
        l->in[0] = f.x;
        l->din[0] = dx;
        ccnn_run run = {f.g.n, 1, 0, 0, NULL, 0, NULL, 0, 0};
        CHECK_RC(l->ops->backward(l, &run), 0);
        for (size_t i = 0; i < f.nx; i++) one_dx[i] = 1 + f.dx[i];
        for (size_t i = 0; i < f.nw; i++) one_g[i] = 1 + f.dw[i];
        for (size_t i = 0; i < f.nb; i++) one_g[f.nw + i] = 1 + f.db[i];
        check_rel(name, "dx", dx, one_dx, f.nx, tol);
        check_rel(name, "dw", l->grads, one_g, f.nw, tol);
        if (f.nb) check_rel(name, "db", l->grads + f.nw, one_g + f.nw, f.nb, tol);
        free(dx); free(one_dx); free(one_g);
    }
    ccnn_net_free(net);
    ccnn_conv2d_set_impl(saved);
    free(f.buf);
}

#define DCV_TEST(name) \
    CCNN_TEST(layers_misc_deconv_torch_##name) \
    { run_deconv_fixture(#name, CCNN_CONV_REF, 1e-5); run_deconv_fixture(#name, CCNN_CONV_FAST, 1e-4); }
DECONV_FIXTURES(DCV_TEST)

/* Every .bin in the folder is listed above, and every listed one exists. */
CCNN_TEST(layers_misc_deconv_torch_fixture_set)
{
    DIR *d = opendir(deconv_dir());
    CHECK_MSG(d != NULL, "cannot open %s (%s)", deconv_dir(), strerror(errno));
    if (!d) return;
    int seen[N_DCV] = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin")) continue;
        int found = 0;
        for (int i = 0; i < N_DCV; i++)
            if (strlen(g_deconv_fixtures[i]) == len - 4 && !strncmp(g_deconv_fixtures[i], e->d_name, len - 4))
                seen[i] = found = 1;
        CHECK_MSG(found, "%s/%s is not listed in DECONV_FIXTURES", deconv_dir(), e->d_name);
    }
    closedir(d);
    for (int i = 0; i < N_DCV; i++) CHECK_MSG(seen[i], "fixture %s.bin is missing", g_deconv_fixtures[i]);
}

/* ---- gradients by finite differences -------------------------------------- */

#define GC_TOL 2e-2

/* Finishes net with dense 5 + softmax, initialises it and runs the check. */
static void gradcheck(ccnn_net *net, const char *what, int batch, uint64_t seed)
{
    if (!net) return;
    if (!test_failed_now() && add(net, (ccnn_layer_spec){.type = CCNN_LAYER_DENSE, .filters = 5}) == 0 &&
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_SOFTMAX}) == 0) {
        CHECK_RC(ccnn_net_init(net, seed), 0);
        double worst = INFINITY;
        char err[256] = "";
        int rc = ccnn_net_gradcheck(net, batch, 0, seed + 100, &worst, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: gradcheck failed: %s", what, err);
        CHECK_MSG(worst < GC_TOL, "%s: worst relative error %g", what, worst);
    }
    ccnn_net_free(net);
}

/* Every layer's input is read again by a later layer, so a backward that
 * overwrote din instead of adding would lose the later layer's gradient
 * (backward runs from the last layer to the first). */
CCNN_TEST(layers_misc_grad_activations)
{
    ccnn_net *net = new_net(2, 3, 3);
    if (net) {
        ccnn_layer_spec l1 = MULTI(CCNN_LAYER_LEAKY_RELU, "l1", "input");
        l1.slope = 0.2f;
        add(net, l1);
        add(net, MULTI(CCNN_LAYER_SIGMOID, "s", "input"));
        add(net, MULTI(CCNN_LAYER_LEAKY_RELU, "l2", "input"));
        add(net, MULTI(CCNN_LAYER_TANH, "t", "input"));
        add(net, MULTI(CCNN_LAYER_CONCAT, "cat", "l1", "s", "l2", "t"));
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_FLATTEN, .name = "f1"});
        add(net, MULTI(CCNN_LAYER_SIGMOID, "g", "cat"));
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_FLATTEN, .name = "f2"});
        add(net, MULTI(CCNN_LAYER_ADD, "sum", "f1", "f2"));
    }
    gradcheck(net, "activations", 3, 1);
}

/* add(t, t, input): the same layer twice, so its gradient must arrive twice. */
CCNN_TEST(layers_misc_grad_add_concat)
{
    ccnn_net *net = new_net(2, 3, 4);
    if (net) {
        add(net, MULTI(CCNN_LAYER_TANH, "t", "input"));
        add(net, MULTI(CCNN_LAYER_ADD, "a", "t", "t", "input"));
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_SIGMOID, .name = "s"});
        add(net, MULTI(CCNN_LAYER_CONCAT, "c", "s", "input", "a"));
    }
    gradcheck(net, "add/concat", 2, 2);
}

CCNN_TEST(layers_misc_grad_deconv)
{
    const deconv_cfg cfgs[] = {
        /* n,c,h,w, f,r,s, sh,sw, pt,pb,pl,pr, dh,dw, oph,opw, groups, bias */
        {0, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* 2x upsampling */
        {0, 4, 3, 2, 4, 2, 3, 2, 1, 0, 1, 2, 0, 2, 2, 1, 1, 2, 1},  /* groups, dilation, asym */
        {0, 2, 2, 3, 2, 3, 2, 1, 1, 1, 0, 0, 1, 2, 3, 1, 2, 1, 0},  /* output pad >= stride: cropped conv */
        {0, 3, 3, 3, 3, 2, 2, 3, 2, 0, 2, 1, 1, 1, 1, 2, 0, 3, 1},  /* depthwise, stride 3 */
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        ccnn_net *net = new_net(cfgs[i].c, cfgs[i].h, cfgs[i].w);
        if (net) {
            add(net, deconv_spec(&cfgs[i]));
            add(net, (ccnn_layer_spec){.type = CCNN_LAYER_TANH});
        }
        char what[32];
        snprintf(what, sizeof what, "deconv config %zu", i);
        gradcheck(net, what, 2, 10 + i);
    }
}

/* conv(a) -> tanh -> conv -> add(a, previous) -> deconv. tanh, not relu:
 * a relu input within the check's step (1e-2) of 0 makes the central
 * difference straddle the kink, which for this net exceeds the tolerance
 * on about a third of the seeds, whatever the add layer does. */
CCNN_TEST(layers_misc_grad_residual)
{
    ccnn_net *net = new_net(2, 4, 4);
    if (net) {
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_CONV, .name = "a", .filters = 3, .size_h = 3,
                                   .size_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1});
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_TANH});
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_CONV, .name = "b", .filters = 3, .size_h = 3,
                                   .size_w = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1});
        add(net, MULTI(CCNN_LAYER_ADD, "sum", "a", "b"));
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_DECONV, .filters = 2, .size_h = 2, .size_w = 2,
                                   .stride_h = 2, .stride_w = 2});
    }
    gradcheck(net, "residual", 2, 3);
}

/* An inception-like block: the stem feeds four branches, a concat and a
 * skip conv added at the end, whose gradient reaches the stem (and the
 * concat's inputs) before the concats' do: an overwrite would lose it. */
CCNN_TEST(layers_misc_grad_inception)
{
    ccnn_net *net = new_net(2, 4, 4);
    if (net) {
        ccnn_layer_spec conv3 = {.type = CCNN_LAYER_CONV, .size_h = 3, .size_w = 3,
                                 .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
        ccnn_layer_spec s = conv3;
        snprintf(s.name, sizeof s.name, "stem");
        s.filters = 4;
        add(net, s);
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_CONV, .name = "b1", .filters = 2, .size_h = 1, .size_w = 1});
        s = conv3;
        snprintf(s.name, sizeof s.name, "b2");
        s.filters = 3;
        s.n_inputs = 1;
        snprintf(s.inputs[0], CCNN_NAME_MAX, "stem");
        add(net, s);
        s.type = CCNN_LAYER_DECONV; /* same geometry: 3x3, pad 1 keeps 4x4 */
        snprintf(s.name, sizeof s.name, "b3");
        s.filters = 2;
        add(net, s);
        add(net, MULTI(CCNN_LAYER_SIGMOID, "b4", "stem"));
        add(net, MULTI(CCNN_LAYER_CONCAT, "cat", "b1", "b2", "b3", "stem"));   /* 11 channels */
        add(net, MULTI(CCNN_LAYER_CONCAT, "cat2", "cat", "b4"));               /* 15 */
        ccnn_layer_spec skip = MULTI(CCNN_LAYER_CONV, "skip", "stem");
        skip.filters = 15;
        skip.size_h = skip.size_w = 1;
        add(net, skip);
        add(net, MULTI(CCNN_LAYER_ADD, "sum", "cat2", "skip"));
        add(net, (ccnn_layer_spec){.type = CCNN_LAYER_TANH});
    }
    gradcheck(net, "inception", 2, 4);
}

/* ---- bad specs ---------------------------------------------------------- */

/* ccnn_net_add must fail with `want` and a message containing each of the
 * strings, leaving the net as it was. */
static void expect_reject(ccnn_net *net, ccnn_layer_spec s, int want, const char *m1, const char *m2)
{
    char err[256] = "";
    int before = ccnn_net_num_layers(net);
    int rc = ccnn_net_add(net, &s, err, sizeof err);
    CHECK_MSG(rc == want, "%s: rc %d, expected %d (%s)", s.name, rc, want, err);
    CHECK_MSG(m1 == NULL || strstr(err, m1), "%s: message \"%s\" lacks \"%s\"", s.name, err, m1);
    CHECK_MSG(m2 == NULL || strstr(err, m2), "%s: message \"%s\" lacks \"%s\"", s.name, err, m2);
    CHECK(ccnn_net_num_layers(net) == before);
}

CCNN_TEST(layers_misc_bad_specs)
{
    ccnn_net *net = new_net(2, 6, 6);
    REQUIRE(net);
    REQUIRE(add(net, (ccnn_layer_spec){.type = CCNN_LAYER_CONV, .name = "c4", .filters = 4, .size_h = 1,
                                       .size_w = 1}) == 0);
    REQUIRE(add(net, (ccnn_layer_spec){.type = CCNN_LAYER_CONV, .name = "small", .filters = 2,
                                       .size_h = 3, .size_w = 3}) == 0);
    expect_reject(net, MULTI(CCNN_LAYER_ADD, "bad_add", "input", "c4"), CCNN_ESHAPE, "2x6x6", "4x6x6");
    expect_reject(net, MULTI(CCNN_LAYER_ADD, "bad_add3", "input", "input", "small"), CCNN_ESHAPE,
                  "small 2x4x4", "input 2x6x6");
    expect_reject(net, MULTI(CCNN_LAYER_ADD, "one_add", "input"), CCNN_EINVAL, "2 to 4", NULL);
    expect_reject(net, MULTI(CCNN_LAYER_CONCAT, "bad_cat", "c4", "small"), CCNN_ESHAPE, "4x6x6", "2x4x4");
    expect_reject(net, MULTI(CCNN_LAYER_CONCAT, "no_such", "c4", "nope"), CCNN_EINVAL, "nope", NULL);
    expect_reject(net, MULTI(CCNN_LAYER_ADD, "later", "c4", "later"), CCNN_EINVAL, "later", NULL);

    ccnn_layer_spec d = {.type = CCNN_LAYER_DECONV, .name = "dc", .filters = 2, .size_h = 3, .size_w = 3,
                         .stride_h = 2, .stride_w = 2, .output_pad_h = 2};
    expect_reject(net, d, CCNN_EINVAL, "output_pad_h=2", "stride_h=2");
    d.output_pad_h = 0; d.output_pad_w = 1; d.stride_w = 1;
    expect_reject(net, d, CCNN_EINVAL, "output_pad_w=1", "dilation_w=1");
    d.dilation_w = 2; /* now allowed: below the dilation */
    CHECK(add(net, d) == 0);
    d.output_pad_w = 0; d.groups = 3; snprintf(d.name, sizeof d.name, "dg");
    expect_reject(net, d, CCNN_ESHAPE, "groups=3", NULL);
    d.groups = 0; d.pad_top = d.pad_bottom = 20;
    expect_reject(net, d, CCNN_ESHAPE, "empty", NULL);
    d.pad_top = d.pad_bottom = 0; d.filters = 0;
    expect_reject(net, d, CCNN_EINVAL, "filters", NULL);
    d.filters = 2; d.size_w = 0;
    expect_reject(net, d, CCNN_EINVAL, "size", NULL);
    d.size_w = 3; d.pad_left = -1;
    expect_reject(net, d, CCNN_EINVAL, "padding", NULL);
    d.pad_left = 0; d.stride_h = -2;
    expect_reject(net, d, CCNN_EINVAL, "stride", NULL);
    ccnn_layer_spec lr = {.type = CCNN_LAYER_LEAKY_RELU, .slope = NAN};
    expect_reject(net, lr, CCNN_EINVAL, "slope", NULL);
    ccnn_net_free(net);
}
