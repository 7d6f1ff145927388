/* test_explain.c - `ccnn explain` end to end: its --json numbers against the
 * library's reference convolution on random configurations (every conv
 * parameter), its derived facts (output size, unread rows, the delta's pads)
 * against brute force written here, its errors against the net-file
 * parser's, and the large-layer note. The binary is build/ccnn or $CCNN_CLI. */
#include "test.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs `ccnn explain ARGS`; *out (malloc'ed) gets stdout, stderr too if
 * `both`. Returns the exit status. */
static int explain(char **out, int both, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int explain(char **out, int both, const char *fmt, ...)
{
    char args[1024], cmd[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s explain %s %s </dev/null", test_cli_path(), args, both ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    *out = NULL;
    if (!p) return -1;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    *out = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A JSON array of numbers into floats; the count must be n. */
static float *json_floats(const cJSON *a, int64_t n)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return NULL;
    float *v = test_alloc((size_t)n);
    int64_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsNumber(it)) { free(v); return NULL; }
        v[i++] = (float)it->valuedouble;
    }
    return v;
}

static int json_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : -999;
}

static int json_ints_are(const cJSON *a, const int *want, int n)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
    for (int i = 0; i < n; i++)
        if (cJSON_GetArrayItem(a, i)->valueint != want[i]) return 0;
    return 1;
}

static int same(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* Rows no window reads, by brute force over (p, r), and why: inside some
 * window's span ("gap"), after the last window's span ("below"), or else
 * "between" windows. */
static int unread_rows(int size, int out, int taps, int st, int dil, int pad, int *rows, const char **why)
{
    int n = 0;
    for (int h = 0; h < size; h++) {
        int read = 0, in_span = 0;
        for (int p = 0; p < out; p++) {
            for (int r = 0; r < taps; r++) read |= p * st + r * dil - pad == h;
            in_span |= h >= p * st - pad && h <= p * st - pad + (taps - 1) * dil;
        }
        if (read) continue;
        why[n] = in_span ? "gap" : h > (out - 1) * st - pad + (taps - 1) * dil ? "below" : "between";
        rows[n++] = h;
    }
    return n;
}

static int json_strings_are(const cJSON *a, const char **want, int n)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || strcmp(v->valuestring, want[i])) return 0;
    }
    return 1;
}

/* One configuration: run, parse, recompute, compare. */
static void check_config(const ccnn_conv2d_params *p, int bias, unsigned seed)
{
    char *out = NULL;
    int rc = explain(&out, 0, "--input %dx%dx%dx%d --filters %d --size %dx%d --stride %dx%d --pad %d,%d,%d,%d "
                     "--dilation %dx%d --groups %d %s--seed %u --json", p->n, p->c, p->h, p->w, p->k, p->r, p->s,
                     p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right,
                     p->dilation_h, p->dilation_w, p->groups, bias ? "" : "--no-bias ", seed);
    char what[200];
    snprintf(what, sizeof what, "N%d C%d H%d W%d K%d %dx%d s%dx%d pad %d,%d,%d,%d d%dx%d g%d bias %d", p->n, p->c,
             p->h, p->w, p->k, p->r, p->s, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
             p->pad_right, p->dilation_h, p->dilation_w, p->groups, bias);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    free(out);
    if (!j) { CHECK_MSG(0, "%s: exit %d or JSON unreadable", what, rc); return; }

    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    int st[2] = {p->stride_h, p->stride_w}, pad[4] = {p->pad_top, p->pad_bottom, p->pad_left, p->pad_right};
    int dil[2] = {p->dilation_h, p->dilation_w};
    CHECK_MSG(json_int(cfg, "n") == p->n && json_int(cfg, "c") == p->c && json_int(cfg, "h") == p->h &&
              json_int(cfg, "w") == p->w && json_int(cfg, "k") == p->k && json_int(cfg, "r") == p->r &&
              json_int(cfg, "s") == p->s && json_int(cfg, "groups") == p->groups &&
              json_ints_are(cJSON_GetObjectItemCaseSensitive(cfg, "stride"), st, 2) &&
              json_ints_are(cJSON_GetObjectItemCaseSensitive(cfg, "pad"), pad, 4) &&
              json_ints_are(cJSON_GetObjectItemCaseSensitive(cfg, "dilation"), dil, 2) &&
              cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(cfg, "bias")) &&
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "bias")) == bias,
              "%s: config echoed wrong", what);

    int P = 0, Q = 0;
    REQUIRE(ccnn_conv2d_output_size(p, &P, &Q) == CCNN_OK);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "output");
    int rem_h = (p->h + p->pad_top + p->pad_bottom - p->dilation_h * (p->r - 1) - 1) % p->stride_h;
    int rem_w = (p->w + p->pad_left + p->pad_right - p->dilation_w * (p->s - 1) - 1) % p->stride_w;
    CHECK_MSG(json_int(o, "p") == P && json_int(o, "q") == Q && json_int(o, "rem_h") == rem_h &&
              json_int(o, "rem_w") == rem_w, "%s: output size", what);
    int rows[64], cols[64];
    const char *row_why[64], *col_why[64];
    int nr = unread_rows(p->h, P, p->r, p->stride_h, p->dilation_h, p->pad_top, rows, row_why);
    int nc = unread_rows(p->w, Q, p->s, p->stride_w, p->dilation_w, p->pad_left, cols, col_why);
    const cJSON *zg = cJSON_GetObjectItemCaseSensitive(j, "zero_gradient");
    CHECK_MSG(json_ints_are(cJSON_GetObjectItemCaseSensitive(zg, "rows"), rows, nr) &&
              json_ints_are(cJSON_GetObjectItemCaseSensitive(zg, "columns"), cols, nc), "%s: unread rows", what);
    CHECK_MSG(json_strings_are(cJSON_GetObjectItemCaseSensitive(zg, "row_reasons"), row_why, nr) &&
              json_strings_are(cJSON_GetObjectItemCaseSensitive(zg, "column_reasons"), col_why, nc),
              "%s: reasons for unread rows", what);
    /* the full correlation's pads give back exactly H x W */
    const cJSON *dpad = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "delta"), "pad");
    if (cJSON_GetArraySize(dpad) == 4) {
        int t = cJSON_GetArrayItem(dpad, 0)->valueint, b = cJSON_GetArrayItem(dpad, 1)->valueint;
        int l = cJSON_GetArrayItem(dpad, 2)->valueint, r = cJSON_GetArrayItem(dpad, 3)->valueint;
        CHECK_MSG((P - 1) * p->stride_h + 1 + t + b - p->dilation_h * (p->r - 1) == p->h &&
                  (Q - 1) * p->stride_w + 1 + l + r - p->dilation_w * (p->s - 1) == p->w, "%s: delta pads", what);
    } else CHECK_MSG(0, "%s: no delta pads", what);

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "tensors");
    int64_t nx = (int64_t)p->n * p->c * p->h * p->w, nw = (int64_t)p->k * (p->c / p->groups) * p->r * p->s;
    int64_t ny = (int64_t)p->n * p->k * P * Q;
    float *x = json_floats(cJSON_GetObjectItemCaseSensitive(t, "x"), nx);
    float *w = json_floats(cJSON_GetObjectItemCaseSensitive(t, "w"), nw);
    float *y = json_floats(cJSON_GetObjectItemCaseSensitive(t, "y"), ny);
    float *dy = json_floats(cJSON_GetObjectItemCaseSensitive(t, "dy"), ny);
    float *dx = json_floats(cJSON_GetObjectItemCaseSensitive(t, "dx"), nx);
    float *dw = json_floats(cJSON_GetObjectItemCaseSensitive(t, "dw"), nw);
    float *b = NULL, *db = NULL;
    if (bias) {
        b = json_floats(cJSON_GetObjectItemCaseSensitive(t, "b"), p->k);
        db = json_floats(cJSON_GetObjectItemCaseSensitive(t, "db"), p->k);
        CHECK_MSG(b && db, "%s: b or db missing", what);
    } else {
        CHECK_MSG(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "b")) &&
                  cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t, "db")), "%s: b and db must be null", what);
    }
    if (x && w && y && dy && dx && dw && (!bias || (b && db))) {
        /* small integers: the example is exact, so the comparison is too */
        int ints = 1;
        for (int64_t i = 0; i < nx; i++) ints &= x[i] == floorf(x[i]) && fabsf(x[i]) <= 2;
        for (int64_t i = 0; i < nw; i++) ints &= w[i] == floorf(w[i]) && fabsf(w[i]) <= 2;
        for (int64_t i = 0; i < ny; i++) ints &= dy[i] == floorf(dy[i]) && fabsf(dy[i]) <= 2;
        CHECK_MSG(ints, "%s: x, w, dy are not small integers", what);
        float *ry = test_alloc((size_t)ny), *rdx = test_alloc((size_t)nx), *rdw = test_alloc((size_t)nw);
        float rdb[64];
        CHECK_RC(ccnn_conv2d_forward_ref(p, x, w, b, ry), CCNN_OK);
        CHECK_RC(ccnn_conv2d_backward_data_ref(p, dy, w, rdx), CCNN_OK);
        CHECK_RC(ccnn_conv2d_backward_weights_ref(p, x, dy, rdw, bias ? rdb : NULL), CCNN_OK);
        CHECK_MSG(same(y, ry, ny), "%s: y differs from the reference", what);
        CHECK_MSG(same(dx, rdx, nx), "%s: dx differs from the reference", what);
        CHECK_MSG(same(dw, rdw, nw), "%s: dw differs from the reference", what);
        if (bias) CHECK_MSG(same(db, rdb, p->k), "%s: db differs from the reference", what);
        /* the rows said to get a zero gradient do */
        for (int64_t i = 0; i < nx; i++) {
            int h = (int)(i / p->w % p->h), ww = (int)(i % p->w), zero = 0;
            for (int k = 0; k < nr; k++) zero |= rows[k] == h;
            for (int k = 0; k < nc; k++) zero |= cols[k] == ww;
            if (zero && dx[i] != 0) { CHECK_MSG(0, "%s: dx[%lld] = %g in an unread row", what, (long long)i, dx[i]); break; }
        }
        free(ry); free(rdx); free(rdw);
    } else CHECK_MSG(0, "%s: a tensor is missing or has the wrong size", what);
    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
    cJSON_Delete(j);
}

CCNN_TEST(explain_json_matches_reference)
{
    test_rng rng = {1212};
    for (int t = 0; t < 60; t++) {
        ccnn_conv2d_params p = {0};
        p.groups = test_rand_int(&rng, 1, 3);
        p.n = test_rand_int(&rng, 1, 3);
        p.c = p.groups * test_rand_int(&rng, 1, 3);
        p.k = p.groups * test_rand_int(&rng, 1, 3);
        p.r = test_rand_int(&rng, 1, 4);
        p.s = test_rand_int(&rng, 1, 4);
        p.stride_h = test_rand_int(&rng, 1, 3);
        p.stride_w = test_rand_int(&rng, 1, 3);
        p.dilation_h = test_rand_int(&rng, 1, 3);
        p.dilation_w = test_rand_int(&rng, 1, 3);
        p.pad_top = test_rand_int(&rng, 0, 2);
        p.pad_bottom = test_rand_int(&rng, 0, 2);
        p.pad_left = test_rand_int(&rng, 0, 2);
        p.pad_right = test_rand_int(&rng, 0, 2);
        int min_h = p.dilation_h * (p.r - 1) + 1 - p.pad_top - p.pad_bottom;
        int min_w = p.dilation_w * (p.s - 1) + 1 - p.pad_left - p.pad_right;
        p.h = (min_h > 1 ? min_h : 1) + test_rand_int(&rng, 0, 6);
        p.w = (min_w > 1 ? min_w : 1) + test_rand_int(&rng, 0, 6);
        check_config(&p, test_rand_int(&rng, 0, 1), (unsigned)test_rand_int(&rng, 0, 1000));
    }
}

/* The two rows-with-zero-gradient cases, and a stride that divides. */
CCNN_TEST(explain_text_unread_rows)
{
    char *out = NULL;
    /* H=5, R=3, stride 2, pad 0/1: rem_h = 1 counts a padded row; every real row is read */
    CHECK(explain(&out, 1, "--input 1x1x5x5 --filters 1 --size 3 --stride 2 --pad 0,1,0,1") == 0);
    CHECK_MSG(out && strstr(out, "Every input row is read") && strstr(out, "They are all padding"), "%s", out ? out : "");
    free(out);
    /* H=6, R=2, dilation 3, stride 2: rows 1 and 4 unread, rem_h = 0 */
    CHECK(explain(&out, 1, "--input 1x1x6x6 --filters 1 --size 2 --stride 2 --dilation 3") == 0);
    CHECK_MSG(out && strstr(out, "1: in a dilation gap") && strstr(out, "4: in a dilation gap") &&
              strstr(out, "(rem = 0)"), "%s", out ? out : "");
    free(out);
    /* the numbers and the worked entries are printed; the worked dx agrees */
    CHECK(explain(&out, 1, "--input 2x3x7x7 --filters 4 --size 3 --stride 2 --pad 1,0,1,0") == 0);
    CHECK_MSG(out && strstr(out, "dx[0,0,i,j]") && strstr(out, "db = [") && strstr(out, "6. Multiply-adds"),
              "%s", out ? out : "");
    if (out) {
        /* every "= A (the reference: B)" has A == B */
        int n = 0;
        for (const char *s = out; (s = strstr(s, " (the reference: ")); s++) {
            const char *eq = s;
            while (eq > out && eq[-1] != '=') eq--;
            double a = atof(eq), b = atof(s + 17);
            CHECK_MSG(a == b, "worked entry %g vs reference %g", a, b);
            n++;
        }
        CHECK(n == 3);
    }
    free(out);
}

/* A layer too large to print: shapes, equations, counts and a note. */
CCNN_TEST(explain_large_layer)
{
    char *out = NULL;
    CHECK(explain(&out, 1, "--input 8x64x56x56 --filters 64 --size 3 --pad 1") == 0);
    CHECK_MSG(out && strstr(out, "not printed") && strstr(out, "P = floor") && strstr(out, "924844032"), "%s", out ? out : "");
    free(out);
    CHECK(explain(&out, 0, "--input 8x64x56x56 --filters 64 --size 3 --pad 1 --json") == 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    CHECK(j && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "tensors")) &&
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "note")));
    cJSON_Delete(j);
    free(out);
}

/* A bad option gets the message a net file's conv layer gets for it. */
CCNN_TEST(explain_errors_as_netfile)
{
    static const struct { const char *opts, *line; } cases[] = {
        {"--input 1x4x8x8 --filters 6 --size 3 --groups 3", "conv filters=6 size=3 groups=3"},
        {"--input 1x2x8x8 --filters 2 --size 9", "conv filters=2 size=9"},
        {"--input 1x2x8x8 --filters 2 --size 3 --dilation 4", "conv filters=2 size=3 dilation=4"},
        {"--input 1x2x8x8 --filters 2 --size 3 --pad 1,2", "conv filters=2 size=3 pad=1,2"},
        {"--input 1x2x8x8 --filters 2 --size 0", "conv filters=2 size=0"},
        {"--input 1x2x8x8 --filters 2 --size 3 --stride 2x", "conv filters=2 size=3 stride=2x"},
        {"--input 1x2x8x8 --filters 0 --size 3", "conv filters=0 size=3"},
        {"--input 1x2x8x8 --filters 2 --size 3 --groups -1", "conv filters=2 size=3 groups=-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], err[512] = "";
        int c = 0, h = 0, w = 0;
        sscanf(cases[i].opts, "--input 1x%dx%dx%d", &c, &h, &w);
        snprintf(text, sizeof text, "input %dx%dx%d\n%s\nsoftmax\n", c, h, w, cases[i].line);
        ccnn_net *net = NULL;
        CHECK(ccnn_net_parse(text, "a.net", &net, err, sizeof err) != CCNN_OK);
        ccnn_net_free(net);
        const char *msg = strstr(err, "a.net:2: ") ? err + 9 : err;
        char *out = NULL;
        CHECK_MSG(explain(&out, 1, "%s", cases[i].opts) == 2, "%s: exit status", cases[i].opts);
        char want[600];
        snprintf(want, sizeof want, "ccnn explain: %s\n", msg);
        CHECK_MSG(out && !strcmp(out, want), "%s: said '%s', the net file says '%s'", cases[i].opts,
                  out ? out : "", msg);
        free(out);
    }
    char *out = NULL;
    CHECK(explain(&out, 1, "--input 1x2x8 --filters 2") == 2 && strstr(out, "required"));
    free(out);
    CHECK(explain(&out, 1, "--input 1x0x8x8 --filters 2 --size 3") == 2 && strstr(out, "--input"));
    free(out);
    CHECK(explain(&out, 1, "--input 1x2x8x8 --filters 2 --size 3 --bogus 1") == 2 && strstr(out, "unknown option"));
    free(out);
    CHECK(explain(&out, 1, "--input 1x2x8x8 --filters 2 --size '3 stride=2'") == 2 && strstr(out, "bad value"));
    free(out);
    CHECK(explain(&out, 1, "--help") == 0 && strstr(out, "usage: ccnn explain"));
    free(out);
}
