/* test_safetensors.c - the safetensors reader/writer (src/io/safetensors.c)
 * and model files (src/io/model.c): exact bytes on disk, round trips, every
 * kind of malformed file, refusing a model of another network, and atomic
 * saving. */
#include "test.h"
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* A fresh empty directory under /tmp; the caller frees the string. */
static char *make_tmpdir(void)
{
    char *d = malloc(64);
    if (!d) return NULL;
    snprintf(d, 64, "/tmp/ccnn_st_XXXXXX");
    if (!mkdtemp(d)) {
        free(d);
        return NULL;
    }
    return d;
}

/* Removes the files in dir (one level) and dir itself. */
static void remove_tmpdir(char *dir)
{
    if (!dir) return;
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(dp))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (remove(p) != 0) rmdir(p);
        }
        closedir(dp);
    }
    chmod(dir, 0700);
    rmdir(dir);
    free(dir);
}

static int count_entries(const char *dir)
{
    int n = 0;
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dp);
    return n;
}

static int write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(b, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* The whole file, malloc'ed (NULL if it can't be read). */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16;
    unsigned char *b = malloc(cap);
    *n = 0;
    while (b) {
        size_t got = fread(b + *n, 1, cap - *n, f);
        *n += got;
        if (!got) break;
        if (*n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; }
            else b = nb;
        }
    }
    fclose(f);
    return b;
}

/* A file: 8-byte little-endian `hlen` (strlen(json) if 0), json, then
 * data_len bytes of data. */
static unsigned char *build(const char *json, uint64_t hlen, size_t data_len, size_t *size)
{
    size_t jl = strlen(json);
    if (!hlen) hlen = jl;
    *size = 8 + jl + data_len;
    unsigned char *b = malloc(*size);
    if (!b) abort();
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, json, jl);
    for (size_t i = 0; i < data_len; i++) b[8 + jl + i] = (unsigned char)i;
    return b;
}

/* The parse of b must fail with CCNN_EFORMAT and a message "bad.st: ...frag...". */
static void expect_bad(const char *what, const unsigned char *b, size_t n, const char *frag)
{
    ccnn_st_file f;
    char err[512] = "";
    int rc = ccnn_st_parse(b, n, "bad.st", &f, err, sizeof err);
    CHECK_MSG(rc == CCNN_EFORMAT, "%s: returned %d, message \"%s\"", what, rc, err);
    CHECK_MSG(strncmp(err, "bad.st: ", 8) == 0 && strstr(err, frag),
              "%s: message \"%s\" lacks \"%s\"", what, err, frag);
    if (!rc) ccnn_st_free(&f);
}

static void expect_bad_json(const char *what, const char *json, size_t data_len, const char *frag)
{
    size_t n;
    unsigned char *b = build(json, 0, data_len, &n);
    expect_bad(what, b, n, frag);
    free(b);
}

#define T(name, shape, b, e) \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

/* ---- the format --------------------------------------------------------- */

/* The bytes on disk of a tiny file, against the format: 8-byte LE length,
 * JSON padded with spaces to a multiple of 8, then the raw LE floats. */
CCNN_TEST(safetensors_exact_bytes)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256];
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    const float data[2] = {1.0f, -2.0f};
    const int dims[1] = {2};
    ccnn_st_out t = {"a", dims, 1, data};
    ccnn_st_kv kv = {"k", "v"};
    char err[256] = "";
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, &t, 1, &kv, 1, err, sizeof err), CCNN_OK);
    CHECK(fclose(f) == 0);

    static const char json[] =
        "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK(strlen(json) == 79); /* padded to 80 with one space */
    unsigned char want[8 + 80 + 8];
    memset(want, 0, sizeof want);
    want[0] = 80; /* 80 = 0x50, little-endian in 8 bytes */
    memcpy(want + 8, json, 79);
    want[8 + 79] = ' ';
    static const unsigned char floats[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    memcpy(want + 88, floats, 8);

    size_t n = 0;
    unsigned char *got = read_bytes(path, &n);
    REQUIRE(got);
    CHECK_MSG(n == sizeof want, "file has %zu bytes, expected %zu", n, sizeof want);
    if (n == sizeof want) {
        CHECK_MSG(memcmp(got, want, n) == 0, "bytes differ; header: %.80s", (const char *)got + 8);
    }
    free(got);

    /* and it reads back */
    ccnn_st_file st;
    CHECK_RC(ccnn_st_read_file(path, &st, err, sizeof err), CCNN_OK);
    if (st.n_tensors == 1) {
        const ccnn_st_tensor *a = ccnn_st_find(&st, "a");
        REQUIRE(a);
        float back[2];
        ccnn_st_copy(a, back);
        CHECK(a->ndim == 1 && a->dims[0] == 2 && a->count == 2 && a->begin == 0 && a->end == 8);
        CHECK(back[0] == 1.0f && back[1] == -2.0f);
        CHECK(st.data_start == 88);
        CHECK(ccnn_st_meta(&st, "k") && !strcmp(ccnn_st_meta(&st, "k"), "v"));
        CHECK(ccnn_st_meta(&st, "missing") == NULL);
        CHECK(ccnn_st_find(&st, "b") == NULL);
    }
    ccnn_st_free(&st);
    remove_tmpdir(dir);
}

CCNN_TEST(safetensors_roundtrip)
{
    test_rng rng = {42};
    enum { NT = 5 };
    const int d0[4] = {3, 2, 5, 5}, d1[1] = {3}, d3[2] = {0, 7}, d4[2] = {17, 9};
    float *a0 = test_alloc(150), *a1 = test_alloc(3), *a2 = test_alloc(1), *a4 = test_alloc(153);
    test_fill(&rng, a0, 150, -3, 3);
    test_fill(&rng, a1, 3, -1, 1);
    a2[0] = 0.25f;
    test_fill(&rng, a4, 153, -1e30f, 1e30f);
    a4[5] = -0.0f;
    ccnn_st_out t[NT] = {
        {"conv1.weight", d0, 4, a0}, {"conv1.bias", d1, 1, a1}, {"scalar", NULL, 0, a2},
        {"empty", d3, 2, NULL}, {"z.last \"quoted\"\n", d4, 2, a4}};
    ccnn_st_kv kv[3] = {{"format", "test"}, {"text", "line 1\nline \"2\"\t\\ caf\xc3\xa9"}, {"empty", ""}};
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/rt.st", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, t, NT, kv, 3, err, sizeof err), CCNN_OK);
    CHECK(fclose(f) == 0);

    ccnn_st_file st;
    int rc = ccnn_st_read_file(path, &st, err, sizeof err);
    CHECK_MSG(rc == 0, "read: %s", err);
    if (!rc) {
        CHECK(st.n_tensors == NT && st.n_meta == 3);
        CHECK(st.data_start % 8 == 0);
        CHECK(st.size == st.data_start + (150 + 3 + 1 + 153) * 4);
        for (int i = 0; i < NT; i++) {
            const ccnn_st_tensor *s = ccnn_st_find(&st, t[i].name);
            CHECK_MSG(s != NULL, "tensor %s not found", t[i].name);
            if (!s) continue;
            CHECK(s == &st.tensors[i]); /* header order kept */
            CHECK(s->ndim == t[i].ndim);
            size_t count = 1;
            for (int d = 0; d < t[i].ndim; d++) {
                CHECK(s->dims[d] == t[i].dims[d]);
                count *= (size_t)t[i].dims[d];
            }
            CHECK(s->count == count);
            float *back = test_alloc(count);
            ccnn_st_copy(s, back);
            CHECK_MSG(!count || memcmp(back, t[i].data, count * 4) == 0, "data of %s differs", t[i].name);
            free(back);
        }
        for (int i = 0; i < 3; i++) {
            const char *v = ccnn_st_meta(&st, kv[i].key);
            CHECK_MSG(v && !strcmp(v, kv[i].value), "metadata %s: %s", kv[i].key, v ? v : "(none)");
        }
        ccnn_st_free(&st);
    }

    /* no tensors, no metadata: "{}" padded */
    f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, NULL, 0, NULL, 0, err, sizeof err), CCNN_OK);
    CHECK(fclose(f) == 0);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    REQUIRE(b);
    CHECK(n == 16 && b[0] == 8 && !memcmp(b + 8, "{}      ", 8));
    free(b);
    CHECK_RC(ccnn_st_read_file(path, &st, err, sizeof err), CCNN_OK);
    ccnn_st_free(&st);

    remove_tmpdir(dir);
    free(a0);
    free(a1);
    free(a2);
    free(a4);
}

CCNN_TEST(safetensors_writer_refuses)
{
    const int dims[1] = {1};
    const float x = 1;
    char err[256] = "";
    FILE *f = tmpfile();
    REQUIRE(f);
    ccnn_st_out dup[2] = {{"w", dims, 1, &x}, {"w", dims, 1, &x}};
    CHECK_RC(ccnn_st_write(f, "o.st", dup, 2, NULL, 0, err, sizeof err), CCNN_EINVAL);
    CHECK(strstr(err, "o.st: ") == err && strstr(err, "w"));
    ccnn_st_out meta_name = {"__metadata__", dims, 1, &x};
    CHECK_RC(ccnn_st_write(f, "o.st", &meta_name, 1, NULL, 0, err, sizeof err), CCNN_EINVAL);
    ccnn_st_out no_name = {"", dims, 1, &x};
    CHECK_RC(ccnn_st_write(f, "o.st", &no_name, 1, NULL, 0, err, sizeof err), CCNN_EINVAL);
    const int neg[1] = {-1};
    ccnn_st_out negative = {"n", neg, 1, &x};
    CHECK_RC(ccnn_st_write(f, "o.st", &negative, 1, NULL, 0, err, sizeof err), CCNN_EINVAL);
    ccnn_st_out no_data = {"n", dims, 1, NULL};
    CHECK_RC(ccnn_st_write(f, "o.st", &no_data, 1, NULL, 0, err, sizeof err), CCNN_EINVAL);
    ccnn_st_kv kv[2] = {{"k", "1"}, {"k", "2"}};
    CHECK_RC(ccnn_st_write(f, "o.st", NULL, 0, kv, 2, err, sizeof err), CCNN_EINVAL);
    CHECK(ftell(f) == 0); /* nothing written */
    fclose(f);
}

/* Files written by other programs: any key order, whitespace, an unpadded
 * header, tensors stored in another order than listed. */
CCNN_TEST(safetensors_reads_other_layouts)
{
    static const char json[] =
        "{ \"b\": {\"data_offsets\": [0, 4], \"shape\": [], \"dtype\": \"F32\"},\n"
        "  \"a\": {\"dtype\": \"F32\", \"shape\": [1, 2], \"data_offsets\": [4, 12]},\n"
        "  \"__metadata__\": {\"format\": \"pt\"} }\n\t ";
    size_t n;
    unsigned char *b = build(json, 0, 12, &n);
    const float vals[3] = {7.0f, 1.5f, -3.0f};
    memcpy(b + n - 12, vals, 12); /* host order: the test machine is little-endian */
    ccnn_st_file st;
    char err[256] = "";
    int rc = ccnn_st_parse(b, n, "other.st", &st, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (!rc) {
        const ccnn_st_tensor *a = ccnn_st_find(&st, "a"), *s = ccnn_st_find(&st, "b");
        REQUIRE(a && s);
        float av[2], sv[1];
        ccnn_st_copy(a, av);
        ccnn_st_copy(s, sv);
        CHECK(s->ndim == 0 && s->count == 1 && sv[0] == 7.0f);
        CHECK(a->ndim == 2 && a->dims[0] == 1 && a->dims[1] == 2 && av[0] == 1.5f && av[1] == -3.0f);
        CHECK(!strcmp(ccnn_st_meta(&st, "format"), "pt"));
        ccnn_st_free(&st);
    }
    free(b);
}

CCNN_TEST(safetensors_malformed)
{
    size_t n;
    unsigned char *b;

    /* shorter than the header length */
    expect_bad("7 bytes", (const unsigned char *)"\x10\0\0\0\0\0\0", 7, "truncated");
    expect_bad("empty", (const unsigned char *)"", 0, "truncated");
    /* header length larger than the file */
    b = build("{}", 100, 0, &n);
    expect_bad("header length > file", b, n, "truncated: header length is 100 bytes but only 2 follow");
    free(b);
    /* insane header lengths */
    b = build("{}", (uint64_t)1 << 40, 0, &n);
    expect_bad("huge header length", b, n, "not a safetensors file");
    free(b);
    b = build("", 0, 16, &n);
    expect_bad("zero header length", b, n, "not a safetensors file");
    free(b);
    /* not JSON / not an object / trailing bytes */
    expect_bad_json("bad JSON", "{\"a\": {\"dtype\": \"F32\",", 0, "not valid JSON");
    expect_bad_json("bad JSON 2", "{\"a\" 1}", 0, "not valid JSON");
    expect_bad_json("array", "[1, 2]  ", 0, "not a safetensors file");
    expect_bad_json("trailing", "{}  x", 0, "after its JSON");
    static const unsigned char nulpad[11] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0};
    expect_bad("NUL after JSON", nulpad, 11, "after its JSON");
    /* entries */
    expect_bad_json("wrong dtype", "{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                    "tensor w has dtype F16; ccnn reads only F32");
    expect_bad_json("I64", "{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                    "dtype I64");
    expect_bad_json("no dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks");
    expect_bad_json("entry not object", "{\"w\":3}", 0, "not a JSON object");
    expect_bad_json("negative dim", "{" T("w", "[-1]", 0, 4) "}", 4, "shape");
    expect_bad_json("fraction dim", "{" T("w", "[1.5]", 0, 6) "}", 6, "shape");
    expect_bad_json("string dim", "{" T("w", "[\"2\"]", 0, 8) "}", 8, "shape");
    expect_bad_json("9 dims", "{" T("w", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "dimensions");
    expect_bad_json("shape vs offsets", "{" T("w", "[2,3]", 0, 20) "}", 20,
                    "tensor w: shape 2x3 does not match data_offsets [0, 20]");
    expect_bad_json("end < begin", "{" T("w", "[0]", 8, 4) "}", 8, "data_offsets");
    expect_bad_json("3 offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
                    "data_offsets");
    expect_bad_json("overflowing shape",
                    "{" T("w", "[4294967296,4294967296]", 0, 4) "}", 4, "does not match");
    expect_bad_json("duplicate name", "{" T("w", "[1]", 0, 4) "," T("w", "[1]", 4, 8) "}", 8,
                    "tensor w appears twice");
    expect_bad_json("two metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice");
    expect_bad_json("metadata number", "{\"__metadata__\":{\"k\":1}}", 0, "metadata k is not a string");
    expect_bad_json("metadata array", "{\"__metadata__\":[]}", 0, "not a JSON object");
    /* layout of the data area */
    expect_bad_json("overlap", "{" T("a", "[2]", 0, 8) "," T("b", "[2]", 4, 12) "}", 12,
                    "tensors a and b overlap");
    expect_bad_json("same offsets", "{" T("a", "[2]", 0, 8) "," T("b", "[2]", 0, 8) "}", 8, "overlap");
    expect_bad_json("empty inside another", "{" T("a", "[2]", 0, 8) "," T("e", "[0]", 4, 4) "}", 8,
                    "overlap");
    expect_bad_json("gap", "{" T("a", "[2]", 0, 8) "," T("b", "[2]", 12, 20) "}", 20,
                    "bytes 8..12 of the data belong to no tensor");
    expect_bad_json("not from 0", "{" T("a", "[2]", 4, 12) "}", 12, "belong to no tensor");
    expect_bad_json("not covered", "{" T("a", "[2]", 0, 8) "}", 12,
                    "the file has 12 bytes of tensor data but the tensors cover only 8");
    expect_bad_json("data without tensors", "{}", 4, "cover only 0");
    expect_bad_json("cut short", "{" T("a", "[2]", 0, 8) "," T("b", "[3]", 8, 20) "}", 14,
                    "truncated: header says 20 bytes of tensor data but the file has 14");

    /* a file cut short at every length is refused with a message, never read */
    static const char good[] = "{" T("a", "[2]", 0, 8) "," T("b", "[3]", 8, 20) "}";
    b = build(good, 0, 20, &n);
    ccnn_st_file st;
    char err[512];
    CHECK_RC(ccnn_st_parse(b, n, "good.st", &st, err, sizeof err), CCNN_OK);
    ccnn_st_free(&st);
    for (size_t cut = 0; cut < n; cut++) {
        err[0] = 0;
        int rc = ccnn_st_parse(b, cut, "cut.st", &st, err, sizeof err);
        CHECK_MSG(rc == CCNN_EFORMAT && !strncmp(err, "cut.st: ", 8),
                  "cut at %zu: rc %d \"%s\"", cut, rc, err);
        if (!rc) ccnn_st_free(&st);
    }
    free(b);
}

CCNN_TEST(safetensors_file_errors)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    ccnn_st_file st;
    snprintf(path, sizeof path, "%s/none.st", dir);
    CHECK_RC(ccnn_st_read_file(path, &st, err, sizeof err), CCNN_EIO);
    CHECK(strstr(err, path) == err && strstr(err, "No such file"));
    CHECK_RC(ccnn_st_read_file(dir, &st, err, sizeof err), CCNN_EIO); /* a directory */
    CHECK(strstr(err, dir) == err);

    size_t n;
    unsigned char *b = build("{" T("a", "[250]", 0, 1000) "}", 0, 1000, &n);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(write_bytes(path, b, n - 10) == 0);
    CHECK_RC(ccnn_st_read_file(path, &st, err, sizeof err), CCNN_EFORMAT);
    char want[512];
    snprintf(want, sizeof want,
             "%s: truncated: header says 1000 bytes of tensor data but the file has 990", path);
    CHECK_MSG(!strcmp(err, want), "message: %s", err);
    free(b);
    remove_tmpdir(dir);
}

CCNN_TEST(safetensors_atomic_file)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/out.txt", dir);
    CHECK(write_bytes(path, "old", 3) == 0);
    ccnn_atomic_file af;
    CHECK_RC(ccnn_atomic_open(&af, path, err, sizeof err), CCNN_OK);
    fputs("new", af.f);
    CHECK(count_entries(dir) == 2); /* old file and the temporary one */
    ccnn_atomic_abort(&af);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    CHECK(b && n == 3 && !memcmp(b, "old", 3));
    free(b);
    CHECK(count_entries(dir) == 1);

    CHECK_RC(ccnn_atomic_open(&af, path, err, sizeof err), CCNN_OK);
    fputs("new!", af.f);
    CHECK_RC(ccnn_atomic_commit(&af, err, sizeof err), CCNN_OK);
    b = read_bytes(path, &n);
    CHECK(b && n == 4 && !memcmp(b, "new!", 4));
    free(b);
    CHECK(count_entries(dir) == 1);

    /* the path is a directory: the rename fails, nothing is left behind */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    CHECK(mkdir(sub, 0700) == 0);
    CHECK_RC(ccnn_atomic_open(&af, sub, err, sizeof err), CCNN_OK);
    fputs("x", af.f);
    CHECK_RC(ccnn_atomic_commit(&af, err, sizeof err), CCNN_EIO);
    CHECK_MSG(strstr(err, sub) == err, "message: %s", err);
    CHECK(count_entries(dir) == 2);
    rmdir(sub);
    remove_tmpdir(dir);
}

/* ======================================================================== */
/* Model files (need the network engine and the trainer)                     */
/* ======================================================================== */

static const char NET_A[] = "input 1x8x8\nconv filters=4 size=3 pad=1\nrelu\ndense units=3\nsoftmax\n";
static const char NET_B[] = "input 1x8x8\nconv filters=4 size=5 pad=2\nrelu\ndense units=3\nsoftmax\n";
static const char NET_C[] = "input 1x8x8\nconv filters=4 size=3 pad=1\nrelu\n"
                            "conv filters=4 size=3 pad=1\nrelu\ndense units=3\nsoftmax\n";
static const char NET_BN[] = "input 1x8x8\nconv filters=4 size=3 pad=1\nbatchnorm\nrelu\ndense units=3\nsoftmax\n";

static ccnn_net *make_net(const char *text, uint64_t seed)
{
    ccnn_net *net = NULL;
    char err[512] = "";
    int rc = ccnn_net_parse(text, "test.net", &net, err, sizeof err);
    CHECK_MSG(rc == 0, "parse: %s", err);
    if (rc) return NULL;
    CHECK_RC(ccnn_net_init(net, seed), CCNN_OK);
    /* batch-norm running statistics too */
    size_t ns = ccnn_net_num_state(net);
    float *s = ccnn_net_state(net);
    test_rng rng = {seed};
    for (size_t i = 0; i < ns; i++) s[i] = test_rand_float(&rng, 0.5f, 2.0f);
    return net;
}

/* 1 if every tensor of a equals the same-named tensor of b, bit for bit. */
static int same_tensors(ccnn_net *a, ccnn_net *b)
{
    int n = ccnn_net_num_tensors(a);
    if (n != ccnn_net_num_tensors(b)) return 0;
    for (int i = 0; i < n; i++) {
        ccnn_tensor_info x, y;
        if (ccnn_net_tensor(a, i, &x) || ccnn_net_tensor(b, i, &y)) return 0;
        if (strcmp(x.name, y.name) || x.ndim != y.ndim || x.is_state != y.is_state) return 0;
        size_t count = 1;
        for (int d = 0; d < x.ndim; d++) {
            if (x.dims[d] != y.dims[d]) return 0;
            count *= (size_t)x.dims[d];
        }
        if (memcmp(x.data, y.data, count * sizeof(float))) return 0;
    }
    return 1;
}

/* A copy of the params and state, to check that a failed load changed nothing. */
static float *snapshot(ccnn_net *net)
{
    size_t np = ccnn_net_num_params(net), ns = ccnn_net_num_state(net);
    float *s = test_alloc(np + ns);
    memcpy(s, ccnn_net_params(net), np * sizeof(float));
    if (ns) memcpy(s + np, ccnn_net_state(net), ns * sizeof(float));
    return s;
}

static int unchanged(ccnn_net *net, const float *snap)
{
    size_t np = ccnn_net_num_params(net), ns = ccnn_net_num_state(net);
    return !memcmp(snap, ccnn_net_params(net), np * sizeof(float)) &&
           (!ns || !memcmp(snap + np, ccnn_net_state(net), ns * sizeof(float)));
}

CCNN_TEST(safetensors_model_roundtrip)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ccnn_net *net = make_net(NET_BN, 3);
    REQUIRE(net);
    CHECK_RC(ccnn_model_save(path, net, NULL, "{\"test_acc\": 0.5}", err, sizeof err), CCNN_OK);
    CHECK(count_entries(dir) == 1);

    /* the file: F32 safetensors with the network text in its metadata */
    ccnn_st_file st;
    int rc = ccnn_st_read_file(path, &st, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (!rc) {
        char *text = NULL;
        CHECK_RC(ccnn_net_to_text(net, &text), CCNN_OK);
        CHECK(st.n_tensors == ccnn_net_num_tensors(net));
        CHECK(!strcmp(ccnn_st_meta(&st, "format"), "ccnn-model-1"));
        CHECK(text && ccnn_st_meta(&st, "ccnn.net") && !strcmp(ccnn_st_meta(&st, "ccnn.net"), text));
        CHECK(ccnn_st_meta(&st, "ccnn.metrics") && !strcmp(ccnn_st_meta(&st, "ccnn.metrics"), "{\"test_acc\": 0.5}"));
        CHECK(ccnn_st_meta(&st, "ccnn.steps") == NULL);
        free(text);
        ccnn_st_free(&st);
    }

    ccnn_net *back = NULL;
    rc = ccnn_model_load(path, &back, NULL, err, sizeof err);
    CHECK_MSG(rc == 0, "load: %s", err);
    if (!rc) {
        CHECK(same_tensors(net, back));
        char *t1 = NULL, *t2 = NULL;
        CHECK_RC(ccnn_net_to_text(net, &t1), CCNN_OK);
        CHECK_RC(ccnn_net_to_text(back, &t2), CCNN_OK);
        CHECK(t1 && t2 && !strcmp(t1, t2));
        free(t1);
        free(t2);
        /* same outputs */
        test_rng rng = {9};
        float x[2 * 64];
        test_fill(&rng, x, 2 * 64, -1, 1);
        CHECK_RC(ccnn_net_forward(net, x, 2, 0, 0), CCNN_OK);
        CHECK_RC(ccnn_net_forward(back, x, 2, 0, 0), CCNN_OK);
        const float *y1 = ccnn_net_output(net), *y2 = ccnn_net_output(back);
        CHECK(y1 && y2 && !memcmp(y1, y2, 2 * 3 * sizeof(float)));
        ccnn_net_free(back);
    }

    /* into an existing net of the same shape */
    ccnn_net *other = make_net(NET_BN, 99);
    if (other) {
        CHECK(!same_tensors(net, other));
        CHECK_RC(ccnn_model_load_weights(path, other, err, sizeof err), CCNN_OK);
        CHECK(same_tensors(net, other));
        ccnn_net_free(other);
    }

    /* saving again replaces the file */
    CHECK_RC(ccnn_net_init(net, 1234), CCNN_OK);
    CHECK_RC(ccnn_model_save(path, net, NULL, NULL, err, sizeof err), CCNN_OK);
    back = NULL;
    CHECK_RC(ccnn_model_load(path, &back, NULL, err, sizeof err), CCNN_OK);
    if (back) {
        CHECK(same_tensors(net, back));
        ccnn_net_free(back);
    }
    CHECK(count_entries(dir) == 1);
    ccnn_net_free(net);
    remove_tmpdir(dir);
}

CCNN_TEST(safetensors_model_trainer_state)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], plain[256], err[512] = "";
    snprintf(path, sizeof path, "%s/resume.st", dir);
    snprintf(plain, sizeof plain, "%s/plain.st", dir);
    ccnn_net *net = make_net(NET_A, 5);
    REQUIRE(net);
    ccnn_trainer *tr = NULL;
    CHECK_RC(ccnn_trainer_create(&tr, net), CCNN_OK);
    REQUIRE(tr);
    int nt = ccnn_trainer_num_tensors(tr);
    CHECK(nt > 0); /* Adam, the default: two moments per parameter tensor */
    test_rng rng = {17};
    for (int i = 0; i < nt; i++) {
        ccnn_tensor_info ti;
        CHECK_RC(ccnn_trainer_tensor(tr, i, &ti), CCNN_OK);
        CHECK_MSG(!strncmp(ti.name, "optim.", 6), "optimizer tensor %s", ti.name);
        size_t count = 1;
        for (int d = 0; d < ti.ndim; d++) count *= (size_t)ti.dims[d];
        test_fill(&rng, ti.data, count, 0, 1);
    }
    ccnn_trainer_set_counters(tr, 3, 123456789012ULL);
    CHECK_RC(ccnn_model_save(path, net, tr, NULL, err, sizeof err), CCNN_OK);
    CHECK_RC(ccnn_model_save(plain, net, NULL, NULL, err, sizeof err), CCNN_OK);

    ccnn_net *net2 = NULL;
    ccnn_trainer *tr2 = NULL;
    int rc = ccnn_model_load(path, &net2, &tr2, err, sizeof err);
    CHECK_MSG(rc == 0, "load: %s", err);
    if (!rc) {
        CHECK(same_tensors(net, net2));
        int ep = 0;
        uint64_t steps = 0;
        ccnn_trainer_get_counters(tr2, &ep, &steps);
        CHECK(ep == 3 && steps == 123456789012ULL);
        CHECK(ccnn_trainer_num_tensors(tr2) == nt);
        for (int i = 0; i < nt && i < ccnn_trainer_num_tensors(tr2); i++) {
            ccnn_tensor_info a, b;
            CHECK_RC(ccnn_trainer_tensor(tr, i, &a), CCNN_OK);
            CHECK_RC(ccnn_trainer_tensor(tr2, i, &b), CCNN_OK);
            size_t count = 1;
            for (int d = 0; d < a.ndim; d++) count *= (size_t)a.dims[d];
            CHECK(!strcmp(a.name, b.name) && !memcmp(a.data, b.data, count * sizeof(float)));
        }
        ccnn_trainer_free(tr2);
        ccnn_net_free(net2);
    }
    /* the optimizer state is ignored without a trainer */
    net2 = NULL;
    CHECK_RC(ccnn_model_load(path, &net2, NULL, err, sizeof err), CCNN_OK);
    if (net2) {
        CHECK(same_tensors(net, net2));
        ccnn_net_free(net2);
    }
    CHECK_RC(ccnn_model_load_weights(path, net, err, sizeof err), CCNN_OK);
    /* resuming from a file without optimizer state is refused */
    net2 = (ccnn_net *)&rc;
    tr2 = (ccnn_trainer *)&rc;
    CHECK_RC(ccnn_model_load(plain, &net2, &tr2, err, sizeof err), CCNN_EFORMAT);
    CHECK(strstr(err, plain) == err);
    CHECK(net2 == (ccnn_net *)&rc && tr2 == (ccnn_trainer *)&rc); /* untouched */

    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    remove_tmpdir(dir);
}

CCNN_TEST(safetensors_model_other_network)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/a.st", dir);
    ccnn_net *a = make_net(NET_A, 1), *b = make_net(NET_B, 2), *c = make_net(NET_C, 3);
    REQUIRE(a && b && c);
    CHECK_RC(ccnn_model_save(path, a, NULL, NULL, err, sizeof err), CCNN_OK);

    /* a different kernel size: the message names the tensor and both shapes */
    float *snap = snapshot(b);
    CHECK_RC(ccnn_model_load_weights(path, b, err, sizeof err), CCNN_ESHAPE);
    CHECK_MSG(strstr(err, path) == err && strstr(err, ".weight has shape 4x1x3x3, the network needs 4x1x5x5"),
              "message: %s", err);
    CHECK(unchanged(b, snap));
    free(snap);
    /* a network with one more layer: a tensor is missing */
    snap = snapshot(c);
    CHECK_RC(ccnn_model_load_weights(path, c, err, sizeof err), CCNN_ESHAPE);
    CHECK_MSG(strstr(err, "is missing") || strstr(err, "has shape"), "message: %s", err);
    CHECK(unchanged(c, snap));
    free(snap);
    /* a network with one layer fewer: the file has a tensor the net lacks */
    CHECK_RC(ccnn_model_save(path, c, NULL, NULL, err, sizeof err), CCNN_OK);
    snap = snapshot(a);
    CHECK_RC(ccnn_model_load_weights(path, a, err, sizeof err), CCNN_ESHAPE);
    CHECK_MSG(strstr(err, "not in the network") || strstr(err, "is missing") || strstr(err, "has shape"),
              "message: %s", err);
    CHECK(unchanged(a, snap));

    /* every tensor of the net plus one more: refused; plus optim.* only: accepted */
    int n = ccnn_net_num_tensors(a);
    ccnn_tensor_info *ti = calloc((size_t)n + 2, sizeof *ti);
    ccnn_st_out *outs = calloc((size_t)n + 2, sizeof *outs);
    REQUIRE(ti && outs);
    for (int i = 0; i < n; i++) {
        CHECK_RC(ccnn_net_tensor(a, i, &ti[i]), CCNN_OK);
        outs[i] = (ccnn_st_out){ti[i].name, ti[i].dims, ti[i].ndim, ti[i].data};
    }
    const int one[1] = {1};
    const float zero = 0;
    const char *extra[2] = {"extra.weight", "optim.m.extra"};
    int want_rc[2] = {CCNN_ESHAPE, CCNN_OK};
    for (int k = 0; k < 2; k++) {
        outs[n] = (ccnn_st_out){extra[k], one, 1, &zero};
        FILE *f = fopen(path, "wb");
        REQUIRE(f);
        CHECK_RC(ccnn_st_write(f, path, outs, n + 1, NULL, 0, err, sizeof err), CCNN_OK);
        CHECK(fclose(f) == 0);
        err[0] = 0;
        CHECK_RC(ccnn_model_load_weights(path, a, err, sizeof err), want_rc[k]);
        if (k == 0)
            CHECK_MSG(strstr(err, "tensor extra.weight is in the file but not in the network"),
                      "message: %s", err);
        CHECK(unchanged(a, snap)); /* same values in the file */
    }
    free(ti);
    free(outs);
    free(snap);

    ccnn_net_free(a);
    ccnn_net_free(b);
    ccnn_net_free(c);
    remove_tmpdir(dir);
}

/* Files that are not ccnn models, or whose contents contradict their text. */
CCNN_TEST(safetensors_model_bad_files)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/x.st", dir);
    ccnn_net *net = (ccnn_net *)&path, *keep = net;
    const int dims[1] = {2};
    const float v[2] = {1, 2};
    ccnn_st_out t = {"w", dims, 1, v};

    /* no format */
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, &t, 1, NULL, 0, err, sizeof err), CCNN_OK);
    fclose(f);
    CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
    CHECK_MSG(strstr(err, "not a ccnn model"), "message: %s", err);
    /* another format */
    ccnn_st_kv kv[2] = {{"format", "ccnn-model-2"}, {"ccnn.net", NET_A}};
    f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, &t, 1, kv, 2, err, sizeof err), CCNN_OK);
    fclose(f);
    CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
    CHECK_MSG(strstr(err, "ccnn-model-2"), "message: %s", err);
    /* a network text that does not parse: the message points into the metadata */
    kv[0].value = "ccnn-model-1";
    kv[1].value = "input 1x8x8\nfrobnicate 3\n";
    f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, &t, 1, kv, 2, err, sizeof err), CCNN_OK);
    fclose(f);
    CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
    char want[300];
    snprintf(want, sizeof want, "%s:ccnn.net", path);
    CHECK_MSG(strstr(err, want) == err, "message: %s", err);
    /* the right text but tensors of the wrong shape and names */
    kv[1].value = NET_A;
    f = fopen(path, "wb");
    REQUIRE(f);
    CHECK_RC(ccnn_st_write(f, path, &t, 1, kv, 2, err, sizeof err), CCNN_OK);
    fclose(f);
    CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
    /* (the file holds less tensor data than the network needs: refused before
     * the network's tensors are allocated) */
    CHECK_MSG(strstr(err, "the file holds only 8 bytes of tensor data"), "message: %s", err);
    /* not a file / not there / cut short */
    CHECK_RC(ccnn_model_load(dir, &net, NULL, err, sizeof err), CCNN_EIO);
    snprintf(want, sizeof want, "%s/none.st", dir);
    CHECK_RC(ccnn_model_load(want, &net, NULL, err, sizeof err), CCNN_EIO);
    ccnn_net *good = make_net(NET_A, 4);
    if (good) {
        CHECK_RC(ccnn_model_save(path, good, NULL, NULL, err, sizeof err), CCNN_OK);
        CHECK(truncate(path, 1000) == 0);
        CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
        CHECK_MSG(strstr(err, "truncated") && strstr(err, "but the file has"), "message: %s", err);
        float *snap = snapshot(good);
        CHECK_RC(ccnn_model_load_weights(path, good, err, sizeof err), CCNN_EFORMAT);
        CHECK(unchanged(good, snap));
        free(snap);
        ccnn_net_free(good);
    }
    CHECK(net == keep);
    remove_tmpdir(dir);
}

CCNN_TEST(safetensors_model_atomic_save)
{
    char *dir = make_tmpdir();
    REQUIRE(dir);
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "%s/model.st", dir);
    ccnn_net *net = make_net(NET_A, 8);
    REQUIRE(net);
    CHECK(write_bytes(path, "old contents", 12) == 0);

    /* a write that fails half way (file size limit): the old file stays */
    struct rlimit old_lim, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old_lim) == 0);
    lim = old_lim;
    lim.rlim_cur = 1024;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = ccnn_model_save(path, net, NULL, NULL, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, old_sig);
    CHECK_RC(rc, CCNN_EIO);
    CHECK_MSG(strstr(err, path) == err && strstr(err, "File too large"), "message: %s", err);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    CHECK(b && n == 12 && !memcmp(b, "old contents", 12));
    free(b);
    CHECK(count_entries(dir) == 1); /* no temporary file left */

    /* the path is a directory */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    CHECK(mkdir(sub, 0700) == 0);
    CHECK_RC(ccnn_model_save(sub, net, NULL, NULL, err, sizeof err), CCNN_EIO);
    CHECK_MSG(strstr(err, sub) == err, "message: %s", err);
    CHECK(count_entries(dir) == 2);
    rmdir(sub);

    /* a directory that does not exist */
    snprintf(sub, sizeof sub, "%s/missing/model.st", dir);
    CHECK_RC(ccnn_model_save(sub, net, NULL, NULL, err, sizeof err), CCNN_EIO);
    CHECK_MSG(strstr(err, sub) == err && strstr(err, "No such file"), "message: %s", err);

    /* a directory that is not writable (root may write anyway: skip then) */
    if (geteuid() != 0) {
        CHECK(chmod(dir, 0500) == 0);
        CHECK_RC(ccnn_model_save(path, net, NULL, NULL, err, sizeof err), CCNN_EIO);
        CHECK_MSG(strstr(err, "Permission denied"), "message: %s", err);
        chmod(dir, 0700);
        b = read_bytes(path, &n);
        CHECK(b && n == 12 && !memcmp(b, "old contents", 12));
        free(b);
    }
    CHECK(count_entries(dir) == 1);

    /* and a good save replaces the old file */
    CHECK_RC(ccnn_model_save(path, net, NULL, NULL, err, sizeof err), CCNN_OK);
    ccnn_net *back = NULL;
    CHECK_RC(ccnn_model_load(path, &back, NULL, err, sizeof err), CCNN_OK);
    if (back) {
        CHECK(same_tensors(net, back));
        ccnn_net_free(back);
    }
    CHECK(count_entries(dir) == 1);
    ccnn_net_free(net);
    remove_tmpdir(dir);
}
