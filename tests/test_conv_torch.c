/* test_conv_torch.c - the convolution against PyTorch.
 *
 * tools/gen_conv_fixtures.py wrote one file per configuration into
 * tests/fixtures/conv/ (format: tests/fixtures/README.md): inputs x, w,
 * bias, an upstream gradient dy, and torch's y, dx, dw, dbias computed in
 * float64. For each file this runs the reference (ccnn_conv2d_*_ref,
 * relative tolerance 1e-5) and the public calls on the fast path at every
 * SIMD level the CPU has (relative tolerance 1e-4), outputs pre-filled with
 * NaN so an unwritten element fails.
 *
 * Paths are relative to the repository root (where `make test` runs);
 * CCNN_FIXTURES_DIR overrides the folder. The file names are listed here,
 * so a missing fixture fails, and a fixture in the folder that is not
 * listed fails too. */
#include "test.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REL_TOL_REF 1e-5
#define REL_TOL_FAST 1e-4
#define REL_FLOOR 1e-6

/* Every fixture; X(name) for tests/fixtures/conv/<name>.bin. */
#define CONV_TORCH_FIXTURES(X) \
    X(multichannel)            \
    X(stride2)                 \
    X(stride3)                 \
    X(stride3_pad)             \
    X(asym_pad)                \
    X(asym_pad_stride2)        \
    X(dilation2)               \
    X(dilation3)               \
    X(dilation_mixed)          \
    X(groups2)                 \
    X(depthwise)               \
    X(depthwise_mult2)         \
    X(batch3)                  \
    X(k1x1_stride2_pad1)       \
    X(k7x7)                    \
    X(full_kernel)             \
    X(mixed)                   \
    X(wide)

#define FIXTURE_NAME_STR(name) #name,
static const char *const g_fixture_names[] = { CONV_TORCH_FIXTURES(FIXTURE_NAME_STR) };
#define N_FIXTURES ((int)(sizeof g_fixture_names / sizeof g_fixture_names[0]))

/* ---- reading a fixture ---------------------------------------------------- */

#define FIX_MAGIC "CCNNFIX1"
#define FIX_NINTS 15
#define FIX_HEADER_BYTES (8 + 4 + 4 * FIX_NINTS + 4 + 4)
#define FIX_MAX_DIM 4096              /* sanity bound on every header int */
#define FIX_MAX_FLOATS (1L << 24)     /* and on each array */

typedef struct {
    ccnn_conv2d_params prm;
    int has_bias, p, q;
    size_t nx, nw, nb, ny;            /* element counts (nb = 0 without bias) */
    float *x, *w, *bias, *dy;         /* inputs */
    float *y, *dx, *dw, *db;          /* torch's results */
    float *buf;                       /* owns all of the above */
} conv_fixture;

static const char *fixture_dir(void)
{
    const char *d = getenv("CCNN_FIXTURES_DIR");
    return (d && *d) ? d : "tests/fixtures/conv";
}

static void fixture_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s.bin", fixture_dir(), name);
}

static int32_t le_i32(const unsigned char *b)
{
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static float le_f32(const unsigned char *b)
{
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static void fixture_free(conv_fixture *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/* Reads and validates one fixture file. Returns 0, or -1 with a message in
 * err (and *f left empty). */
static int fixture_load(const char *path, conv_fixture *f, char *err, size_t errlen)
{
    unsigned char hdr[FIX_HEADER_BYTES];
    unsigned char *raw = NULL;
    memset(f, 0, sizeof *f);

    FILE *fp = fopen(path, "rb");
    if (!fp) {
        set_err(err, errlen, "%s: cannot open (%s); run from the repository root or set "
                "CCNN_FIXTURES_DIR; regenerate with /usr/bin/python3 tools/gen_conv_fixtures.py",
                path, strerror(errno));
        return -1;
    }
    size_t got = fread(hdr, 1, sizeof hdr, fp);
    if (got < 8 || memcmp(hdr, FIX_MAGIC, 8) != 0) {
        set_err(err, errlen, "%s: not a ccnn fixture (magic \"%s\" missing)", path, FIX_MAGIC);
        goto fail;
    }
    if (got < 12) {
        set_err(err, errlen, "%s: truncated header (%zu bytes)", path, got);
        goto fail;
    }
    int32_t nints = le_i32(hdr + 8);
    if (nints != FIX_NINTS) {
        set_err(err, errlen, "%s: header says %d shape ints, expected %d", path, (int)nints, FIX_NINTS);
        goto fail;
    }
    if (got < sizeof hdr) {
        set_err(err, errlen, "%s: truncated header (%zu of %zu bytes)", path, got, sizeof hdr);
        goto fail;
    }
    int32_t v[FIX_NINTS + 2];
    for (int i = 0; i < FIX_NINTS + 2; i++) v[i] = le_i32(hdr + 12 + 4 * i);
    static const char *const what[FIX_NINTS + 2] = {
        "n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_top", "pad_bottom",
        "pad_left", "pad_right", "dilation_h", "dilation_w", "groups", "has_bias"
    };
    for (int i = 0; i < FIX_NINTS + 1; i++) {
        int is_pad = i >= 9 && i <= 12;
        if (v[i] < (is_pad ? 0 : 1) || v[i] > FIX_MAX_DIM) {
            set_err(err, errlen, "%s: bad header value %s = %d", path, what[i], (int)v[i]);
            goto fail;
        }
    }
    if (v[16] != 0 && v[16] != 1) {
        set_err(err, errlen, "%s: bad header value has_bias = %d", path, (int)v[16]);
        goto fail;
    }
    ccnn_conv2d_params *p = &f->prm;
    p->n = v[0]; p->c = v[1]; p->h = v[2]; p->w = v[3];
    p->k = v[4]; p->r = v[5]; p->s = v[6];
    p->stride_h = v[7]; p->stride_w = v[8];
    p->pad_top = v[9]; p->pad_bottom = v[10]; p->pad_left = v[11]; p->pad_right = v[12];
    p->dilation_h = v[13]; p->dilation_w = v[14];
    p->groups = v[15];
    f->has_bias = v[16];
    if (p->c % p->groups || p->k % p->groups) {
        set_err(err, errlen, "%s: groups %d does not divide c %d and k %d", path,
                p->groups, p->c, p->k);
        goto fail;
    }
    long span_h = (long)p->dilation_h * (p->r - 1) + 1, span_w = (long)p->dilation_w * (p->s - 1) + 1;
    long in_h = (long)p->h + p->pad_top + p->pad_bottom, in_w = (long)p->w + p->pad_left + p->pad_right;
    if (span_h > in_h || span_w > in_w) {
        set_err(err, errlen, "%s: kernel larger than the padded input", path);
        goto fail;
    }
    f->p = (int)((in_h - span_h) / p->stride_h + 1);
    f->q = (int)((in_w - span_w) / p->stride_w + 1);

    long nx = (long)p->n * p->c * p->h * p->w;
    long nw = (long)p->k * (p->c / p->groups) * p->r * p->s;
    long ny = (long)p->n * p->k * f->p * f->q;
    if (nx > FIX_MAX_FLOATS || nw > FIX_MAX_FLOATS || ny > FIX_MAX_FLOATS) {
        set_err(err, errlen, "%s: implausibly large shapes", path);
        goto fail;
    }
    f->nx = (size_t)nx; f->nw = (size_t)nw; f->ny = (size_t)ny;
    f->nb = f->has_bias ? (size_t)p->k : 0;
    size_t total = 2 * (f->nx + f->nw + f->ny + f->nb);

    raw = malloc(4 * total);
    f->buf = test_alloc(total);
    if (!raw) {
        set_err(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    got = fread(raw, 1, 4 * total, fp);
    if (got != 4 * total) {
        set_err(err, errlen, "%s: truncated: %zu of %zu data bytes after the header", path, got,
                4 * total);
        goto fail;
    }
    if (fgetc(fp) != EOF) {
        set_err(err, errlen, "%s: trailing bytes after the %zu expected data bytes", path, 4 * total);
        goto fail;
    }
    for (size_t i = 0; i < total; i++) {
        f->buf[i] = le_f32(raw + 4 * i);
        if (!isfinite(f->buf[i])) {
            set_err(err, errlen, "%s: non-finite value at float %zu", path, i);
            goto fail;
        }
    }
    float *q = f->buf;
    f->x = q;  q += f->nx;
    f->w = q;  q += f->nw;
    f->bias = f->has_bias ? q : NULL; q += f->nb;
    f->dy = q; q += f->ny;
    f->y = q;  q += f->ny;
    f->dx = q; q += f->nx;
    f->dw = q; q += f->nw;
    f->db = f->has_bias ? q : NULL;
    free(raw);
    fclose(fp);
    return 0;

fail:
    free(raw);
    fclose(fp);
    fixture_free(f);
    return -1;
}

/* ---- running one fixture -------------------------------------------------- */

static void fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

/* Checks one output against torch's; label names the config and the path. */
static void check_close(const char *name, const char *label, const char *what,
                        const float *got, const float *want, size_t n, double tol)
{
    double e = test_rel_err(got, want, n, REL_FLOOR);
    CHECK_MSG(e <= tol, "%s [%s]: %s relative error %.3g > %.0e", name, label, what, e, tol);
}

/* forward, backward_data and backward_weights through one set of functions */
typedef struct {
    int (*fwd)(const ccnn_conv2d_params *, const float *, const float *, const float *, float *);
    int (*bwd_data)(const ccnn_conv2d_params *, const float *, const float *, float *);
    int (*bwd_weights)(const ccnn_conv2d_params *, const float *, const float *, float *, float *);
} conv_fns;

static void run_impl(const char *name, const char *label, const conv_fixture *f,
                     const conv_fns *fn, double tol)
{
    float *y = test_alloc(f->ny), *dx = test_alloc(f->nx), *dw = test_alloc(f->nw);
    float *db = test_alloc(f->has_bias ? f->nb : 1);
    int rc;

    fill_nan(y, f->ny);
    rc = fn->fwd(&f->prm, f->x, f->w, f->bias, y);
    CHECK_MSG(rc == 0, "%s [%s]: forward returned %d (%s)", name, label, rc, ccnn_strerror(rc));
    if (rc == 0) check_close(name, label, "y", y, f->y, f->ny, tol);

    fill_nan(dx, f->nx);
    rc = fn->bwd_data(&f->prm, f->dy, f->w, dx);
    CHECK_MSG(rc == 0, "%s [%s]: backward_data returned %d (%s)", name, label, rc, ccnn_strerror(rc));
    if (rc == 0) check_close(name, label, "dx", dx, f->dx, f->nx, tol);

    fill_nan(dw, f->nw);
    fill_nan(db, f->has_bias ? f->nb : 1);
    rc = fn->bwd_weights(&f->prm, f->x, f->dy, dw, f->has_bias ? db : NULL);
    CHECK_MSG(rc == 0, "%s [%s]: backward_weights returned %d (%s)", name, label, rc,
              ccnn_strerror(rc));
    if (rc == 0) {
        check_close(name, label, "dw", dw, f->dw, f->nw, tol);
        if (f->has_bias) check_close(name, label, "dbias", db, f->db, f->nb, tol);
    }
    free(y); free(dx); free(dw); free(db);
}

static void run_fixture(const char *name)
{
    char path[4096], err[4096 + 256];
    conv_fixture f;
    fixture_path(path, sizeof path, name);
    if (fixture_load(path, &f, err, sizeof err) != 0) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return;
    }

    int oh = -1, ow = -1;
    CHECK_RC(ccnn_conv2d_output_size(&f.prm, &oh, &ow), 0);
    CHECK_MSG(oh == f.p && ow == f.q, "%s: output size %dx%d, torch's is %dx%d", name, oh, ow,
              f.p, f.q);
    if (oh != f.p || ow != f.q) { fixture_free(&f); return; }

    static const conv_fns ref = { ccnn_conv2d_forward_ref, ccnn_conv2d_backward_data_ref,
                                  ccnn_conv2d_backward_weights_ref };
    static const conv_fns pub = { ccnn_conv2d_forward, ccnn_conv2d_backward_data,
                                  ccnn_conv2d_backward_weights };
    run_impl(name, "ref", &f, &ref, REL_TOL_REF);

    /* The public calls on the fast path (the default), at each SIMD level
     * this CPU runs; the previous settings are restored afterwards. */
    ccnn_conv_impl saved_impl = ccnn_conv2d_get_impl();
    ccnn_isa saved_isa = ccnn_get_isa();
    ccnn_conv2d_set_impl(CCNN_CONV_FAST);
    for (int isa = CCNN_ISA_SCALAR; isa < CCNN_ISA_COUNT; isa++) {
        if (ccnn_set_isa((ccnn_isa)isa) != 0) continue; /* not on this CPU */
        char label[64];
        snprintf(label, sizeof label, "fast/%s", ccnn_isa_name((ccnn_isa)isa));
        run_impl(name, label, &f, &pub, REL_TOL_FAST);
    }
    ccnn_set_isa(saved_isa);
    ccnn_conv2d_set_impl(saved_impl);
    fixture_free(&f);
}

#define FIXTURE_TEST(name) CCNN_TEST(conv_torch_##name) { run_fixture(#name); }
CONV_TORCH_FIXTURES(FIXTURE_TEST)

/* ---- the fixture set and the loader themselves ---------------------------- */

/* Every .bin in the folder is one of the listed fixtures (so a new fixture
 * cannot go untested), and every listed one exists. */
CCNN_TEST(conv_torch_fixture_set)
{
    const char *dir = fixture_dir();
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open fixture folder %s (%s)", dir, strerror(errno));
    if (!d) return;
    int seen[N_FIXTURES] = { 0 };
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin") != 0) continue;
        int found = 0;
        for (int i = 0; i < N_FIXTURES; i++) {
            if (strlen(g_fixture_names[i]) == len - 4 &&
                strncmp(g_fixture_names[i], e->d_name, len - 4) == 0) {
                seen[i] = found = 1;
            }
        }
        CHECK_MSG(found, "%s/%s is not listed in tests/test_conv_torch.c", dir, e->d_name);
    }
    closedir(d);
    for (int i = 0; i < N_FIXTURES; i++)
        CHECK_MSG(seen[i], "fixture %s/%s.bin is missing", dir, g_fixture_names[i]);
}

static int write_file(const char *path, const unsigned char *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t put = fwrite(b, 1, n, fp);
    return (fclose(fp) == 0 && put == n) ? 0 : -1;
}

static void put_i32(unsigned char *b, int32_t v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    b[0] = (unsigned char)u; b[1] = (unsigned char)(u >> 8);
    b[2] = (unsigned char)(u >> 16); b[3] = (unsigned char)(u >> 24);
}

/* Damaged copies of a good fixture are each rejected with a message. */
CCNN_TEST(conv_torch_loader_rejects_bad_files)
{
    char src[4096], err[8192];
    fixture_path(src, sizeof src, g_fixture_names[0]);
    FILE *fp = fopen(src, "rb");
    CHECK_MSG(fp != NULL, "cannot open %s", src);
    if (!fp) return;
    static unsigned char good[1 << 20];
    size_t n = fread(good, 1, sizeof good, fp);
    fclose(fp);
    REQUIRE(n > FIX_HEADER_BYTES && n < sizeof good);

    static unsigned char bad[(1 << 20) + 1];
    char tmp[] = "/tmp/ccnn_fixture_XXXXXX";
    int fd = mkstemp(tmp);
    REQUIRE(fd >= 0);
    close(fd);

    enum { GOOD, TRUNC_DATA, TRUNC_HDR, EMPTY, MAGIC, NINTS, NEG_DIM, GROUPS, HAS_BIAS, TRAILING,
           NONFINITE, NCASES };
    static const char *const cases[NCASES] = {
        "good copy", "data truncated by one byte", "header truncated", "empty file", "bad magic",
        "shape int count 14", "negative n", "groups not dividing c", "has_bias 2",
        "one trailing byte", "NaN in the data"
    };
    for (int c = 0; c < NCASES; c++) {
        size_t len = n;
        memcpy(bad, good, n);
        switch (c) {
        case TRUNC_DATA: len = n - 1; break;
        case TRUNC_HDR: len = FIX_HEADER_BYTES - 3; break;
        case EMPTY: len = 0; break;
        case MAGIC: bad[7] = '2'; break;
        case NINTS: put_i32(bad + 8, 14); break;
        case NEG_DIM: put_i32(bad + 12, -1); break;
        case GROUPS: put_i32(bad + 12 + 4 * 15, 1000); break;
        case HAS_BIAS: put_i32(bad + 12 + 4 * 16, 2); break;
        case TRAILING: bad[n] = 0; len = n + 1; break;
        case NONFINITE: put_i32(bad + n - 4, 0x7fc00000); break;
        default: break;
        }
        REQUIRE(write_file(tmp, bad, len) == 0);
        conv_fixture f;
        err[0] = '\0';
        int rc = fixture_load(tmp, &f, err, sizeof err);
        if (c == GOOD) {
            CHECK_MSG(rc == 0, "good copy rejected: %s", err);
            if (rc == 0) fixture_free(&f);
        } else {
            CHECK_MSG(rc != 0, "loader accepted a file with %s", cases[c]);
            CHECK_MSG(rc == 0 || err[0] != '\0', "no message for a file with %s", cases[c]);
        }
    }
    unlink(tmp);
}
