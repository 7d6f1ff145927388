/* test_data.c - data sets: IDX and CIFAR-10 loading (generated files, plain
 * and gzip), every kind of bad file, data directories, statistics,
 * normalisation and augmentation; and the real Fashion-MNIST when it is
 * installed. Every rejected load must return the right code, leave the
 * output untouched and name the file in its message. */
#include "test.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- files ---------------------------------------------------------------- */

typedef struct { unsigned char *p; size_t n, cap; } bytes;

static void add(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { fprintf(stderr, "out of memory\n"); exit(2); }
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void add_be32(bytes *b, uint32_t v)
{
    unsigned char q[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    add(b, q, 4);
}

/* An IDX image file: header (magic, n, h, w) then `npix` pixel bytes. */
static bytes idx_images(uint32_t magic, uint32_t n, uint32_t h, uint32_t w, const uint8_t *pix,
                        size_t npix)
{
    bytes b = {0};
    add_be32(&b, magic);
    add_be32(&b, n);
    add_be32(&b, h);
    add_be32(&b, w);
    add(&b, pix, npix);
    return b;
}

static bytes idx_labels(uint32_t magic, uint32_t n, const uint8_t *lab, size_t nlab)
{
    bytes b = {0};
    add_be32(&b, magic);
    add_be32(&b, n);
    add(&b, lab, nlab);
    return b;
}

static void write_file(const char *path, const void *data, size_t n, int gz)
{
    int ok;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ok = f && (n == 0 || gzwrite(f, data, (unsigned)n) == (int)n);
        ok = (f && gzclose(f) == Z_OK) && ok;
    } else {
        FILE *f = fopen(path, "wb");
        ok = f && fwrite(data, 1, n, f) == n;
        ok = (f && fclose(f) == 0) && ok;
    }
    if (!ok) { fprintf(stderr, "cannot write %s\n", path); exit(2); }
}

static void write_bytes(const char *path, bytes b, int gz)
{
    write_file(path, b.p, b.n, gz);
    free(b.p);
}

static unsigned char *read_whole(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    bytes b = {0};
    unsigned char buf[4096];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) add(&b, buf, r);
    fclose(f);
    *n = b.n;
    return b.p;
}

static char *make_tmpdir(void)
{
    char *t = malloc(64);
    if (!t) exit(2);
    strcpy(t, "/tmp/ccnn_test_data_XXXXXX");
    if (!mkdtemp(t)) { perror("mkdtemp"); exit(2); }
    return t;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* dir/name into buf (an array); too long ends the run. */
static char *path_in(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) { fprintf(stderr, "path too long: %s/%s\n", dir, name); exit(2); }
    return buf;
}
#define PATH(buf, dir, name) path_in(buf, sizeof buf, dir, name)

/* ---- expectations --------------------------------------------------------- */

static ccnn_dataset g_sentinel_ds;
#define SENTINEL (&g_sentinel_ds)

/* Loads with load_idx and expects failure `want`, *out untouched, and err
 * containing `file` and `word`. Also with err NULL / errlen 0 and with a
 * tiny buffer. */
static void expect_idx_fail(const char *img, const char *lab, int want, const char *file,
                            const char *word, const char *what)
{
    ccnn_dataset *ds = SENTINEL;
    char err[1024] = "";
    int rc = ccnn_dataset_load_idx(&ds, img, lab, err, sizeof err);
    CHECK_MSG(rc == want, "%s: rc %d (%s), want %d; err: %s", what, rc, ccnn_strerror(rc), want,
              err);
    CHECK_MSG(ds == SENTINEL, "%s: *out was written", what);
    CHECK_MSG(strstr(err, file) != NULL, "%s: message does not name %s: %s", what, file, err);
    CHECK_MSG(!word || strstr(err, word) != NULL, "%s: message lacks \"%s\": %s", what, word, err);
    if (rc == 0 && ds != SENTINEL) ccnn_dataset_free(ds);
    ds = SENTINEL;
    rc = ccnn_dataset_load_idx(&ds, img, lab, NULL, 0);
    CHECK_MSG(rc == want && ds == SENTINEL, "%s (err NULL): rc %d", what, rc);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    rc = ccnn_dataset_load_idx(&ds, img, lab, tiny, sizeof tiny);
    CHECK_MSG(rc == want && ds == SENTINEL && memchr(tiny, 0, sizeof tiny),
              "%s (tiny err): rc %d", what, rc);
}

static void expect_cifar_fail(const char *const *paths, int n, int want, const char *file,
                              const char *word, const char *what)
{
    ccnn_dataset *ds = SENTINEL;
    char err[1024] = "";
    int rc = ccnn_dataset_load_cifar10(&ds, paths, n, err, sizeof err);
    CHECK_MSG(rc == want, "%s: rc %d (%s), want %d; err: %s", what, rc, ccnn_strerror(rc), want,
              err);
    CHECK_MSG(ds == SENTINEL, "%s: *out was written", what);
    CHECK_MSG(!file || strstr(err, file) != NULL, "%s: message does not name %s: %s", what, file,
              err);
    CHECK_MSG(!word || strstr(err, word) != NULL, "%s: message lacks \"%s\": %s", what, word, err);
    if (rc == 0 && ds != SENTINEL) ccnn_dataset_free(ds);
    ds = SENTINEL;
    rc = ccnn_dataset_load_cifar10(&ds, paths, n, NULL, 0);
    CHECK_MSG(rc == want && ds == SENTINEL, "%s (err NULL): rc %d", what, rc);
}

static void expect_dir_fail(const char *dir, int want, const char *word, const char *what)
{
    ccnn_dataset *tr = SENTINEL, *te = SENTINEL;
    char err[2048] = "";
    int rc = ccnn_dataset_load_dir(dir, &tr, &te, err, sizeof err);
    CHECK_MSG(rc == want, "%s: rc %d (%s), want %d; err: %s", what, rc, ccnn_strerror(rc), want,
              err);
    CHECK_MSG(tr == SENTINEL && te == SENTINEL, "%s: an output was written", what);
    CHECK_MSG(strstr(err, dir) != NULL, "%s: message does not name %s: %s", what, dir, err);
    CHECK_MSG(!word || strstr(err, word) != NULL, "%s: message lacks \"%s\": %s", what, word, err);
}

/* ---- IDX ------------------------------------------------------------------- */

enum { IN = 7, IH = 5, IW = 4, IPIX = IN * IH * IW };

static void idx_data(uint8_t *pix, uint8_t *lab, uint64_t seed)
{
    test_rng r = {seed};
    for (int i = 0; i < IPIX; i++) pix[i] = (uint8_t)test_rand_int(&r, 0, 255);
    for (int i = 0; i < IN; i++) lab[i] = (uint8_t)test_rand_int(&r, 0, 9);
    lab[0] = 9;
    lab[1] = 0;
    pix[0] = 0;
    pix[1] = 255;
}

static void check_idx_ds(const ccnn_dataset *ds, const uint8_t *pix, const uint8_t *lab, int n,
                         const char *what)
{
    CHECK_MSG(ds->n == n && ds->c == 1 && ds->h == IH && ds->w == IW && ds->n_classes == 10,
              "%s: shape %d x %d x %d x %d, %d classes", what, ds->n, ds->c, ds->h, ds->w,
              ds->n_classes);
    if (ds->n != n || ds->h != IH || ds->w != IW || ds->c != 1) return;
    CHECK_MSG(memcmp(ds->images, pix, (size_t)n * IH * IW) == 0, "%s: pixels differ", what);
    CHECK_MSG(memcmp(ds->labels, lab, (size_t)n) == 0, "%s: labels differ", what);
}

CCNN_TEST(data_idx_load_plain_and_gzip)
{
    uint8_t pix[IPIX], lab[IN];
    idx_data(pix, lab, 11);
    char *dir = make_tmpdir();
    char pi[512], pl[512], gi[512], gl[512];
    write_bytes(PATH(pi, dir, "img"), idx_images(0x803, IN, IH, IW, pix, IPIX), 0);
    write_bytes(PATH(pl, dir, "lab"), idx_labels(0x801, IN, lab, IN), 0);
    write_bytes(PATH(gi, dir, "img.gz"), idx_images(0x803, IN, IH, IW, pix, IPIX), 1);
    write_bytes(PATH(gl, dir, "lab.gz"), idx_labels(0x801, IN, lab, IN), 1);
    const char *combos[4][2] = {{pi, pl}, {gi, gl}, {pi, gl}, {gi, pl}};
    for (int k = 0; k < 4; k++) {
        ccnn_dataset *ds = NULL;
        char err[512] = "";
        int rc = ccnn_dataset_load_idx(&ds, combos[k][0], combos[k][1], err, sizeof err);
        CHECK_MSG(rc == 0, "combo %d: %s", k, err);
        if (rc) continue;
        check_idx_ds(ds, pix, lab, IN, combos[k][0]);
        CHECK(strcmp(ds->class_names[0], "0") == 0 && strcmp(ds->class_names[9], "9") == 0);
        CHECK(ds->class_names[10][0] == 0 && ds->class_names[15][0] == 0);
        ccnn_dataset_free(ds);
    }
    ccnn_dataset_free(NULL); /* a no-op */
    rm_rf(dir);
    free(dir);
}

CCNN_TEST(data_idx_fashion_names_from_path)
{
    uint8_t pix[IPIX], lab[IN];
    idx_data(pix, lab, 12);
    char *dir = make_tmpdir();
    char pi[512], pl[512];
    write_bytes(PATH(pi, dir, "my-FaShIoN-img"), idx_images(0x803, IN, IH, IW, pix, IPIX), 0);
    write_bytes(PATH(pl, dir, "lab"), idx_labels(0x801, IN, lab, IN), 0);
    ccnn_dataset *ds = NULL;
    CHECK_RC(ccnn_dataset_load_idx(&ds, pi, pl, NULL, 0), 0);
    if (ds) {
        CHECK(strcmp(ds->class_names[0], "T-shirt/top") == 0);
        CHECK(strcmp(ds->class_names[9], "Ankle boot") == 0);
        ccnn_dataset_free(ds);
    }
    rm_rf(dir);
    free(dir);
}

CCNN_TEST(data_idx_rejects_bad_files)
{
    uint8_t pix[IPIX], lab[IN];
    idx_data(pix, lab, 13);
    char *dir = make_tmpdir();
    char gi[512], gl[512], p[512], q[512];
    write_bytes(PATH(gi, dir, "good-img"), idx_images(0x803, IN, IH, IW, pix, IPIX), 0);
    write_bytes(PATH(gl, dir, "good-lab"), idx_labels(0x801, IN, lab, IN), 0);

    /* missing files */
    PATH(p, dir, "no-such-images.gz");
    expect_idx_fail(p, gl, CCNN_EIO, p, "No such file", "missing image file");
    expect_idx_fail(gi, p, CCNN_EIO, p, "No such file", "missing label file");
    /* a directory */
    expect_idx_fail(dir, gl, CCNN_EIO, dir, NULL, "directory as image file");
    /* wrong magic numbers */
    expect_idx_fail(gl, gl, CCNN_EFORMAT, gl, "wrong magic number 0x00000801", "labels as images");
    expect_idx_fail(gi, gi, CCNN_EFORMAT, gi, "wrong magic number 0x00000803", "images as labels");
    for (int gz = 0; gz < 2; gz++) {
        PATH(p, dir, gz ? "bad.gz" : "bad");
        write_bytes(p, idx_images(0x0802, IN, IH, IW, pix, IPIX), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "magic", "magic 0x802");
        write_bytes(p, idx_images(0x1f8b0803, IN, IH, IW, pix, IPIX), gz);
        /* plain, these bytes start like gzip and fail as corrupt gzip */
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, gz ? "magic" : "gzip", "magic 0x1f8b0803");
        /* empty, and header cut short */
        write_file(p, "", 0, gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "empty", "empty image file");
        write_file(p, "\0\0\x08\x03\0\0", 6, gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "truncated IDX header", "short header");
        write_file(p, "\0\0", 2, gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "truncated IDX header", "short magic");
        write_file(p, "\0\0\x08\x01\0\0", 6, gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "truncated IDX header", "short label header");
        /* truncated data: 140 pixel bytes promised, 110 there = 5 whole images */
        write_bytes(p, idx_images(0x803, IN, IH, IW, pix, IPIX - 30), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p,
                        "truncated: the header says 7 images of 5x4 but the file ends after 5 images",
                        "truncated images");
        write_bytes(p, idx_labels(0x801, IN, lab, IN - 2), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "ends after 5 labels", "truncated labels");
        /* a header promising far more than there is fails as truncated */
        write_bytes(p, idx_images(0x803, 0x7fffffff, 28, 28, pix, IPIX), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "truncated", "huge image count");
        write_bytes(p, idx_labels(0x801, 0x7fffffff, lab, IN), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "truncated", "huge label count");
        /* absurd sizes */
        write_bytes(p, idx_images(0x803, 0, IH, IW, pix, 0), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "0 images", "zero images");
        write_bytes(p, idx_images(0x803, IN, 0, IW, pix, 0), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "absurd", "zero rows");
        write_bytes(p, idx_images(0x803, IN, 100000, 28, pix, IPIX), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "absurd", "too many rows");
        write_bytes(p, idx_images(0x803, IN, 65535, 65535, pix, IPIX), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "absurd", "too many pixels");
        write_bytes(p, idx_images(0x803, 0x80000000u, 1, 1, pix, IPIX), gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "absurd", "count beyond INT_MAX");
        write_bytes(p, idx_labels(0x801, 0, lab, 0), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "0 labels", "zero labels");
        /* trailing garbage */
        bytes b = idx_images(0x803, IN, IH, IW, pix, IPIX);
        add(&b, "x", 1);
        write_bytes(p, b, gz);
        expect_idx_fail(p, gl, CCNN_EFORMAT, p, "trailing data after the 7 images", "trailing images");
        b = idx_labels(0x801, IN, lab, IN);
        add(&b, "\0\0\0", 3);
        write_bytes(p, b, gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "trailing data after the 7 labels", "trailing labels");
        /* counts differ */
        write_bytes(p, idx_labels(0x801, IN - 1, lab, IN - 1), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "7 images", "count mismatch");
        expect_idx_fail(gi, p, CCNN_EFORMAT, gi, "6 labels", "count mismatch names both files");
        /* label out of range */
        uint8_t bad[IN];
        memcpy(bad, lab, IN);
        bad[4] = 10;
        write_bytes(p, idx_labels(0x801, IN, bad, IN), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "label 10 of item 4 is out of range", "label 10");
        bad[4] = 255;
        write_bytes(p, idx_labels(0x801, IN, bad, IN), gz);
        expect_idx_fail(gi, p, CCNN_EFORMAT, p, "out of range", "label 255");
    }

    /* gzip damage: a flipped byte in the deflate data or the CRC, and a
     * stream cut short after the data (the trailer missing) */
    PATH(q, dir, "good.gz");
    write_bytes(q, idx_images(0x803, IN, IH, IW, pix, IPIX), 1);
    size_t n;
    unsigned char *gz = read_whole(q, &n);
    REQUIRE(n > 30);
    PATH(p, dir, "damaged.gz");
    for (size_t at = 12; at < n; at += 7) {
        unsigned char keep = gz[at];
        gz[at] ^= 0x5a;
        write_file(p, gz, n, 0);
        gz[at] = keep;
        ccnn_dataset *ds = SENTINEL;
        char err[512] = "";
        int rc = ccnn_dataset_load_idx(&ds, p, gl, err, sizeof err);
        CHECK_MSG(rc == CCNN_EFORMAT && ds == SENTINEL && strstr(err, p),
                  "damaged byte %zu: rc %d, %s", at, rc, err);
    }
    write_file(p, gz, n - 4, 0);
    expect_idx_fail(p, gl, CCNN_EFORMAT, p, "truncated gzip", "gzip trailer cut");
    write_file(p, gz, n - 8, 0);
    expect_idx_fail(p, gl, CCNN_EFORMAT, p, NULL, "gzip CRC cut");
    write_file(p, gz, n / 2, 0);
    expect_idx_fail(p, gl, CCNN_EFORMAT, p, "truncated", "gzip cut in half");
    free(gz);

    /* NULL arguments */
    ccnn_dataset *ds = SENTINEL;
    CHECK_RC(ccnn_dataset_load_idx(NULL, gi, gl, NULL, 0), CCNN_EINVAL);
    CHECK_RC(ccnn_dataset_load_idx(&ds, NULL, gl, NULL, 0), CCNN_EINVAL);
    CHECK_RC(ccnn_dataset_load_idx(&ds, gi, NULL, NULL, 0), CCNN_EINVAL);
    CHECK(ds == SENTINEL);
    rm_rf(dir);
    free(dir);
}

/* ---- CIFAR-10 ---------------------------------------------------------------- */

enum { CPIX = 3072, CREC = 3073 };

/* n records with random pixels and labels; their parts into pix/lab. */
static bytes cifar_records(int n, test_rng *r, uint8_t *pix, uint8_t *lab)
{
    bytes b = {0};
    unsigned char rec[CREC];
    for (int i = 0; i < n; i++) {
        rec[0] = (unsigned char)test_rand_int(r, 0, 9);
        for (int k = 1; k < CREC; k++) rec[k] = (unsigned char)test_rand_int(r, 0, 255);
        if (pix) memcpy(pix + (size_t)i * CPIX, rec + 1, CPIX);
        if (lab) lab[i] = rec[0];
        add(&b, rec, CREC);
    }
    return b;
}

CCNN_TEST(data_cifar_load)
{
    char *dir = make_tmpdir();
    test_rng r = {21};
    uint8_t *pix = malloc(5 * CPIX), lab[5];
    REQUIRE(pix);
    char a[512], b[512], g[512];
    write_bytes(PATH(a, dir, "a.bin"), cifar_records(3, &r, pix, lab), 0);
    write_bytes(PATH(b, dir, "b.bin"), cifar_records(2, &r, pix + 3 * CPIX, lab + 3), 0);
    size_t n;
    unsigned char *raw = read_whole(b, &n);
    write_file(PATH(g, dir, "b.bin.gz"), raw, n, 1);
    free(raw);
    const char *paths[2] = {a, b}, *gpaths[2] = {a, g};
    for (int k = 0; k < 2; k++) {
        ccnn_dataset *ds = NULL;
        char err[512] = "";
        CHECK_RC(ccnn_dataset_load_cifar10(&ds, k ? gpaths : paths, 2, err, sizeof err), 0);
        if (!ds) continue;
        CHECK(ds->n == 5 && ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->n_classes == 10);
        if (ds->n == 5) {
            CHECK(memcmp(ds->images, pix, 5 * CPIX) == 0);
            CHECK(memcmp(ds->labels, lab, 5) == 0);
        }
        CHECK(strcmp(ds->class_names[0], "airplane") == 0);
        CHECK(strcmp(ds->class_names[9], "truck") == 0);
        CHECK(ds->class_names[10][0] == 0);
        ccnn_dataset_free(ds);
    }
    ccnn_dataset *one = NULL;
    CHECK_RC(ccnn_dataset_load_cifar10(&one, paths + 1, 1, NULL, 0), 0);
    if (one) {
        CHECK(one->n == 2 && memcmp(one->images, pix + 3 * CPIX, 2 * CPIX) == 0);
        ccnn_dataset_free(one);
    }
    free(pix);
    rm_rf(dir);
    free(dir);
}

CCNN_TEST(data_cifar_rejects_bad_files)
{
    char *dir = make_tmpdir();
    test_rng r = {22};
    char a[512], p[512];
    write_bytes(PATH(a, dir, "a.bin"), cifar_records(2, &r, NULL, NULL), 0);
    const char *paths[3] = {a, p, a};
    PATH(p, dir, "missing.bin");
    expect_cifar_fail(paths, 2, CCNN_EIO, p, "cannot open", "missing second file");
    paths[1] = dir;
    expect_cifar_fail(paths, 2, CCNN_EIO, dir, NULL, "directory");
    paths[1] = p;
    PATH(p, dir, "bad.bin");
    for (int gz = 0; gz < 2; gz++) {
        bytes b = cifar_records(2, &r, NULL, NULL);
        add(&b, "z", 1);
        write_bytes(p, b, gz);
        expect_cifar_fail(paths, 2, CCNN_EFORMAT, p, "6147 bytes is not a multiple of 3073",
                          "one byte extra");
        b = cifar_records(2, &r, NULL, NULL);
        b.n -= 100;
        write_bytes(p, b, gz);
        expect_cifar_fail(paths, 3, CCNN_EFORMAT, p, "not a multiple of 3073", "cut short");
        b = cifar_records(600, &r, NULL, NULL); /* more than one read chunk */
        b.n -= 1;
        write_bytes(p, b, gz);
        expect_cifar_fail(paths, 2, CCNN_EFORMAT, p, "1843799 bytes is not a multiple",
                          "cut short, big");
        write_file(p, "", 0, gz);
        expect_cifar_fail(paths, 2, CCNN_EFORMAT, p, "empty", "empty file");
        b = cifar_records(3, &r, NULL, NULL);
        b.p[2 * CREC] = 10;
        write_bytes(p, b, gz);
        expect_cifar_fail(paths, 2, CCNN_EFORMAT, p, "record 2 has label 10", "label 10");
        b = cifar_records(600, &r, NULL, NULL);
        b.p[599 * (size_t)CREC] = 200;
        write_bytes(p, b, gz);
        expect_cifar_fail(paths, 2, CCNN_EFORMAT, p, "record 599 has label 200", "label 200");
    }
    expect_cifar_fail(paths, 0, CCNN_EINVAL, NULL, NULL, "no paths");
    expect_cifar_fail(NULL, 1, CCNN_EINVAL, NULL, NULL, "NULL paths");
    const char *withnull[2] = {a, NULL};
    expect_cifar_fail(withnull, 2, CCNN_EINVAL, NULL, NULL, "NULL path");
    CHECK_RC(ccnn_dataset_load_cifar10(NULL, paths, 1, NULL, 0), CCNN_EINVAL);
    rm_rf(dir);
    free(dir);
}

/* ---- data directories --------------------------------------------------------- */

static void write_idx_set(const char *dir, const char *img, const char *lab, int n, int gz,
                          uint64_t seed, uint8_t *pix, uint8_t *labs)
{
    test_rng r = {seed};
    size_t np = (size_t)n * IH * IW;
    for (size_t i = 0; i < np; i++) pix[i] = (uint8_t)test_rand_int(&r, 0, 255);
    for (int i = 0; i < n; i++) labs[i] = (uint8_t)test_rand_int(&r, 0, 9);
    char p[512];
    write_bytes(PATH(p, dir, img), idx_images(0x803, (uint32_t)n, IH, IW, pix, np), gz);
    write_bytes(PATH(p, dir, lab), idx_labels(0x801, (uint32_t)n, labs, (size_t)n), gz);
}

CCNN_TEST(data_load_dir_idx)
{
    char *top = make_tmpdir();
    uint8_t trp[IPIX], trl[IN], tep[3 * IH * IW], tel[3], junk[IPIX], junkl[IN];
    for (int gz = 0; gz < 2; gz++) {
        char dir[512];
        PATH(dir, top, gz ? "Fashion-MNIST" : "mnist");
        REQUIRE(mkdir(dir, 0700) == 0);
        const char *sfx = gz ? ".gz" : "";
        char ti[64], tl[64], si[64], sl[64];
        snprintf(ti, sizeof ti, "train-images-idx3-ubyte%s", sfx);
        snprintf(tl, sizeof tl, "train-labels-idx1-ubyte%s", sfx);
        snprintf(si, sizeof si, "t10k-images-idx3-ubyte%s", sfx);
        snprintf(sl, sizeof sl, "t10k-labels-idx1-ubyte%s", sfx);
        write_idx_set(dir, ti, tl, IN, gz, 31 + gz, trp, trl);
        /* with .gz present, the plain files are ignored */
        if (gz) write_idx_set(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", IN, 0, 99,
                              junk, junkl);
        /* only three files so far */
        expect_dir_fail(dir, CCNN_ENOTFOUND, "t10k-images-idx3-ubyte", "t10k files missing");
        write_idx_set(dir, si, "unused", 3, gz, 41 + gz, tep, tel);
        expect_dir_fail(dir, CCNN_ENOTFOUND, "t10k-labels-idx1-ubyte", "t10k labels missing");
        write_idx_set(dir, si, sl, 3, gz, 41 + gz, tep, tel);

        ccnn_dataset *tr = NULL, *te = NULL;
        char err[1024] = "";
        int rc = ccnn_dataset_load_dir(dir, &tr, &te, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: %s", dir, err);
        if (rc == 0) {
            check_idx_ds(tr, trp, trl, IN, "train");
            CHECK(te->n == 3 && te->h == IH && te->w == IW && te->c == 1);
            if (te->n == 3) CHECK(memcmp(te->images, tep, sizeof tep) == 0 &&
                                  memcmp(te->labels, tel, sizeof tel) == 0);
            const char *want0 = gz ? "T-shirt/top" : "0";
            CHECK_MSG(strcmp(tr->class_names[0], want0) == 0 && strcmp(te->class_names[0], want0) == 0,
                      "class names %s / %s, want %s", tr->class_names[0], te->class_names[0], want0);
            ccnn_dataset_free(tr);
            ccnn_dataset_free(te);
        }
        /* a relative path that does not say "fashion" still gets the names
         * when its real path does */
        if (gz) {
            char cwd[1024];
            REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
            REQUIRE(chdir(dir) == 0);
            tr = te = NULL;
            rc = ccnn_dataset_load_dir(".", &tr, &te, err, sizeof err);
            CHECK_MSG(rc == 0, ".: %s", err);
            if (rc == 0) {
                CHECK(strcmp(tr->class_names[9], "Ankle boot") == 0);
                CHECK(strcmp(te->class_names[9], "Ankle boot") == 0);
                ccnn_dataset_free(tr);
                ccnn_dataset_free(te);
            }
            REQUIRE(chdir(cwd) == 0);
        }
        /* a bad test file: nothing is returned */
        char p[512];
        write_bytes(PATH(p, dir, sl), idx_labels(0x801, 2, tel, 2), gz);
        expect_dir_fail(dir, CCNN_EFORMAT, "2 labels", "bad test labels");
    }
    rm_rf(top);
    free(top);
}

CCNN_TEST(data_load_dir_cifar)
{
    char *top = make_tmpdir();
    static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                         "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin", "test_batch.bin"};
    uint8_t *pix = malloc(11 * CPIX), lab[11];
    REQUIRE(pix);
    for (int sub = 0; sub < 2; sub++) {
        char dir[512], base[512], p[512];
        PATH(dir, top, sub ? "cifar" : "c10");
        REQUIRE(mkdir(dir, 0700) == 0);
        if (sub) {
            PATH(base, dir, "cifar-10-batches-bin");
            REQUIRE(mkdir(base, 0700) == 0);
        } else {
            snprintf(base, sizeof base, "%s", dir);
        }
        test_rng r = {51 + (uint64_t)sub};
        for (int i = 0; i < 6; i++) {
            if (i == 2) {
                expect_dir_fail(dir, CCNN_ENOTFOUND, "data_batch_3.bin", "batch 3 missing");
            }
            write_bytes(PATH(p, base, names[i]), cifar_records(i < 5 ? 2 : 1, &r, pix + i * 2 * CPIX,
                                                              lab + i * 2), 0);
        }
        ccnn_dataset *tr = NULL, *te = NULL;
        char err[1024] = "";
        int rc = ccnn_dataset_load_dir(dir, &tr, &te, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: %s", dir, err);
        if (rc == 0) {
            CHECK(tr->n == 10 && tr->c == 3 && tr->h == 32 && tr->w == 32 && te->n == 1);
            if (tr->n == 10 && te->n == 1) {
                CHECK(memcmp(tr->images, pix, 10 * CPIX) == 0 && memcmp(tr->labels, lab, 10) == 0);
                CHECK(memcmp(te->images, pix + 10 * CPIX, CPIX) == 0 && te->labels[0] == lab[10]);
            }
            CHECK(strcmp(tr->class_names[1], "automobile") == 0);
            ccnn_dataset_free(tr);
            ccnn_dataset_free(te);
        }
        /* a bad test batch: nothing is returned */
        write_file(PATH(p, base, "test_batch.bin"), "abc", 3, 0);
        expect_dir_fail(dir, CCNN_EFORMAT, "test_batch.bin", "bad test batch");
    }
    free(pix);
    rm_rf(top);
    free(top);
}

CCNN_TEST(data_load_dir_errors)
{
    char *top = make_tmpdir();
    expect_dir_fail(top, CCNN_ENOTFOUND, "no Fashion-MNIST/MNIST IDX files or CIFAR-10 batches found",
                    "empty dir");
    char p[512];
    PATH(p, top, "no-such-dir");
    expect_dir_fail(p, CCNN_EIO, "No such file", "missing dir");
    write_file(PATH(p, top, "file"), "x", 1, 0);
    expect_dir_fail(p, CCNN_EIO, "not a directory", "a file");
    ccnn_dataset *tr = SENTINEL, *te = SENTINEL;
    CHECK_RC(ccnn_dataset_load_dir(NULL, &tr, &te, NULL, 0), CCNN_EINVAL);
    CHECK_RC(ccnn_dataset_load_dir(top, NULL, &te, NULL, 0), CCNN_EINVAL);
    CHECK_RC(ccnn_dataset_load_dir(top, &tr, NULL, NULL, 0), CCNN_EINVAL);
    CHECK(tr == SENTINEL && te == SENTINEL);
    rm_rf(top);
    free(top);
}

/* ---- statistics, normalisation ------------------------------------------------- */

CCNN_TEST(data_stats_known)
{
    /* 2 images of 2 channels of 1x2: channel 0 is {0,255,0,255}, channel 1
     * is all 51 */
    uint8_t img[8] = {0, 255, 51, 51, 255, 0, 51, 51}, lab[2] = {0, 1};
    ccnn_dataset ds = {.n = 2, .c = 2, .h = 1, .w = 2, .n_classes = 2, .images = img, .labels = lab};
    float mean[2] = {-1, -1}, std[2] = {-1, -1};
    ccnn_dataset_stats(&ds, mean, std);
    CHECK_MSG(fabsf(mean[0] - 0.5f) < 1e-7f && fabsf(std[0] - 0.5f) < 1e-7f, "%g %g", mean[0], std[0]);
    CHECK_MSG(fabsf(mean[1] - 0.2f) < 1e-7f && std[1] == 0.0f, "%g %g", mean[1], std[1]);

    /* random data against a direct two-pass computation; identical for any
     * thread count */
    enum { N = 300, C = 3, H = 32, W = 40 };
    uint8_t *big = malloc((size_t)N * C * H * W);
    REQUIRE(big);
    test_rng r = {61};
    for (size_t i = 0; i < (size_t)N * C * H * W; i++)
        big[i] = (uint8_t)(test_rand_int(&r, 0, 255) / (1 + (int)(i % 3)));
    ccnn_dataset bd = {.n = N, .c = C, .h = H, .w = W, .images = big};
    float m1[C], s1[C], m4[C], s4[C];
    ccnn_set_num_threads(1);
    ccnn_dataset_stats(&bd, m1, s1);
    ccnn_set_num_threads(4);
    ccnn_dataset_stats(&bd, m4, s4);
    ccnn_set_num_threads(0);
    CHECK(memcmp(m1, m4, sizeof m1) == 0 && memcmp(s1, s4, sizeof s1) == 0);
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0, cnt = (double)N * H * W;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < H * W; k++) sum += big[((size_t)i * C + c) * H * W + k] / 255.0;
        double m = sum / cnt;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < H * W; k++) {
                double d = big[((size_t)i * C + c) * H * W + k] / 255.0 - m;
                sq += d * d;
            }
        double s = sqrt(sq / cnt);
        CHECK_MSG(fabs(m1[c] - m) < 1e-6 && fabs(s1[c] - s) < 1e-6, "channel %d: %g %g vs %g %g",
                  c, m1[c], s1[c], m, s);
    }
    free(big);
}

CCNN_TEST(data_normalize_known)
{
    enum { N = 3, C = 2, H = 2, W = 3, CHW = C * H * W };
    uint8_t img[N * CHW];
    for (int i = 0; i < N * CHW; i++) img[i] = (uint8_t)(i * 37 % 256);
    img[5] = 255;
    img[6] = 0;
    ccnn_dataset ds = {.n = N, .c = C, .h = H, .w = W, .images = img};
    ccnn_input_spec in = {.c = C, .h = H, .w = W, .mean = {0.5f, 0.25f}, .std = {0.5f, 0.0f}};
    int idx[4] = {2, 0, 2, 1};
    float x[4 * CHW];
    CHECK_RC(ccnn_normalize(&ds, &in, idx, 4, x), CCNN_OK);
    double worst = 0;
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < H * W; k++) {
                double p = img[idx[i] * CHW + c * H * W + k] / 255.0;
                double want = c == 0 ? (p - 0.5) / 0.5 : (p - 0.25) / 1.0;
                worst = fmax(worst, fabs(x[i * CHW + c * H * W + k] - want));
            }
    CHECK_MSG(worst < 1e-6, "worst error %g", worst);
    CHECK(x[CHW + 5] == 1.0f && x[CHW + 6] == -0.25f); /* image 0: 255 -> (1-.5)/.5, 0 -> -0.25 */

    /* an index out of range or a spec that does not fit: an error, nothing written */
    for (int i = 0; i < 4 * CHW; i++) x[i] = 42;
    int bad_idx[2] = {1, 3}, neg_idx[2] = {0, -1};
    CHECK_RC(ccnn_normalize(&ds, &in, bad_idx, 2, x), CCNN_EINVAL);
    CHECK_RC(ccnn_normalize(&ds, &in, neg_idx, 2, x), CCNN_EINVAL);
    ccnn_input_spec other = in;
    other.w = W + 1;
    CHECK_RC(ccnn_normalize(&ds, &other, idx, 4, x), CCNN_ESHAPE);
    other = in;
    other.c = 1;
    CHECK_RC(ccnn_normalize(&ds, &other, idx, 4, x), CCNN_ESHAPE);
    CHECK_RC(ccnn_normalize(&ds, &in, idx, 4, NULL), CCNN_EINVAL);
    int untouched = 1;
    for (int i = 0; i < 4 * CHW; i++) untouched &= x[i] == 42;
    CHECK(untouched);
}

/* ---- augmentation ------------------------------------------------------------- */

/* out = flip?(shift(in, sy, sx)) with zeros outside, the specification. */
static void ref_transform(const float *in, float *out, int c, int h, int w, int sy, int sx,
                          int mirror)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int xs = mirror ? w - 1 - x : x; /* the cropped column shown at x */
                int iy = y + sy, ix = xs + sx;
                out[(ch * h + y) * w + x] =
                    (iy >= 0 && iy < h && ix >= 0 && ix < w) ? in[(ch * h + iy) * w + ix] : 0.0f;
            }
}

/* Which (sy, sx, mirror) within |s| <= pad produced out from in; returns
 * the number of candidates that match, writing the first. */
static int find_transform(const float *in, const float *out, int c, int h, int w, int pad,
                          int flip, int *sy, int *sx, int *mirror, float *tmp)
{
    int matches = 0;
    for (int m = 0; m <= flip; m++)
        for (int a = -pad; a <= pad; a++)
            for (int b = -pad; b <= pad; b++) {
                ref_transform(in, tmp, c, h, w, a, b, m);
                if (memcmp(tmp, out, (size_t)c * h * w * sizeof(float)) == 0) {
                    if (!matches) { *sy = a; *sx = b; *mirror = m; }
                    matches++;
                }
            }
    return matches;
}

static float *random_batch(int n, uint64_t seed)
{
    float *x = test_alloc((size_t)n);
    test_rng r = {seed};
    test_fill(&r, x, (size_t)n, 1.0f, 2.0f); /* never 0, so padding shows */
    return x;
}

CCNN_TEST(data_augment_reproducible)
{
    enum { N = 64, C = 3, H = 32, W = 32, SZ = N * C * H * W };
    float *x0 = random_batch(SZ, 71), *a = test_alloc(SZ), *b = test_alloc(SZ);
    memcpy(a, x0, SZ * sizeof(float));
    memcpy(b, x0, SZ * sizeof(float));
    ccnn_set_num_threads(1);
    ccnn_augment(a, N, C, H, W, 4, 1, 5, 9);
    ccnn_set_num_threads(4);
    ccnn_augment(b, N, C, H, W, 4, 1, 5, 9);
    ccnn_set_num_threads(0);
    CHECK_MSG(memcmp(a, b, SZ * sizeof(float)) == 0, "depends on the thread count");
    CHECK(memcmp(a, x0, SZ * sizeof(float)) != 0);
    memcpy(b, x0, SZ * sizeof(float));
    ccnn_augment(b, N, C, H, W, 4, 1, 5, 9);
    CHECK_MSG(memcmp(a, b, SZ * sizeof(float)) == 0, "same seed and step, different result");
    /* image i depends only on (seed, step, i): a batch of the first 5 gets the same */
    memcpy(b, x0, SZ * sizeof(float));
    ccnn_augment(b, 5, C, H, W, 4, 1, 5, 9);
    CHECK(memcmp(a, b, 5 * C * H * W * sizeof(float)) == 0);
    CHECK(memcmp(b + 5 * C * H * W, x0 + 5 * C * H * W, (SZ - 5 * C * H * W) * sizeof(float)) == 0);
    /* another step, another seed: different */
    memcpy(b, x0, SZ * sizeof(float));
    ccnn_augment(b, N, C, H, W, 4, 1, 5, 10);
    CHECK_MSG(memcmp(a, b, SZ * sizeof(float)) != 0, "different step, same result");
    memcpy(b, x0, SZ * sizeof(float));
    ccnn_augment(b, N, C, H, W, 4, 1, 6, 9);
    CHECK_MSG(memcmp(a, b, SZ * sizeof(float)) != 0, "different seed, same result");
    /* nothing to do, or bad arguments (an error): x untouched */
    memcpy(b, x0, SZ * sizeof(float));
    CHECK_RC(ccnn_augment(b, N, C, H, W, 0, 0, 5, 9), CCNN_OK);
    CHECK_RC(ccnn_augment(b, 0, C, H, W, 4, 1, 5, 9), CCNN_OK);
    CHECK_RC(ccnn_augment(b, N, C, H, W, -3, 0, 5, 9), CCNN_EINVAL);
    CHECK_RC(ccnn_augment(NULL, N, C, H, W, 4, 1, 5, 9), CCNN_EINVAL);
    CHECK_RC(ccnn_augment(b, N, C, 0, W, 4, 1, 5, 9), CCNN_EINVAL);
    CHECK(memcmp(b, x0, SZ * sizeof(float)) == 0);
    free(x0);
    free(a);
    free(b);
}

CCNN_TEST(data_augment_flip_only)
{
    enum { N = 64, C = 2, H = 3, W = 5, CHW = C * H * W };
    float *x0 = random_batch(N * CHW, 72), *x = test_alloc(N * CHW), *tmp = test_alloc(CHW);
    memcpy(x, x0, sizeof(float) * N * CHW);
    ccnn_augment(x, N, C, H, W, 0, 1, 3, 4);
    int flipped = 0, same = 0;
    for (int i = 0; i < N; i++) {
        const float *in = x0 + i * CHW, *out = x + i * CHW;
        if (memcmp(in, out, sizeof(float) * CHW) == 0) { same++; continue; }
        ref_transform(in, tmp, C, H, W, 0, 0, 1);
        if (memcmp(tmp, out, sizeof(float) * CHW) == 0) flipped++;
        else CHECK_MSG(0, "image %d is neither itself nor its mirror", i);
    }
    CHECK_MSG(flipped >= 16 && same >= 16, "flipped %d, same %d of %d", flipped, same, N);
    /* odd width: the middle column stays; width 1: no change */
    float one[6] = {1, 2, 3, 4, 5, 6};
    ccnn_augment(one, 2, 1, 3, 1, 0, 1, 3, 4);
    CHECK(one[0] == 1 && one[5] == 6);
    free(x0);
    free(x);
    free(tmp);
}

CCNN_TEST(data_augment_crop_only)
{
    /* a known image: 1 channel, 3x4, values 1..12, pad 1 */
    float img[12], want[12];
    for (int i = 0; i < 12; i++) img[i] = (float)(i + 1);
    int seen[3][3] = {{0}};
    float tmp[12];
    for (uint64_t step = 0; step < 200; step++) {
        float x[12];
        memcpy(x, img, sizeof x);
        ccnn_augment(x, 1, 1, 3, 4, 1, 0, 17, step);
        int sy, sx, m;
        int k = find_transform(img, x, 1, 3, 4, 1, 0, &sy, &sx, &m, tmp);
        CHECK_MSG(k == 1, "step %llu: %d matching windows", (unsigned long long)step, k);
        if (k == 1) seen[sy + 1][sx + 1]++;
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) CHECK_MSG(seen[a][b] > 0, "offset (%d,%d) never drawn", a - 1, b - 1);
    /* one explicit window: shifted down-right by one means out[y][x] = in[y-1][x-1] */
    ref_transform(img, want, 1, 3, 4, -1, -1, 0);
    const float expect[12] = {0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7};
    CHECK(memcmp(want, expect, sizeof want) == 0);

    /* a batch: every image is some window, the same for all its channels;
     * the pixel values it keeps are its own */
    enum { N = 64, C = 3, H = 6, W = 7, CHW = C * H * W, PAD = 3 };
    float *x0 = random_batch(N * CHW, 73), *x = test_alloc(N * CHW), *t = test_alloc(CHW);
    memcpy(x, x0, sizeof(float) * N * CHW);
    ccnn_augment(x, N, C, H, W, PAD, 0, 8, 1);
    int distinct[2 * PAD + 1][2 * PAD + 1] = {{0}}, nd = 0;
    for (int i = 0; i < N; i++) {
        int sy, sx, m;
        int k = find_transform(x0 + i * CHW, x + i * CHW, C, H, W, PAD, 0, &sy, &sx, &m, t);
        CHECK_MSG(k == 1, "image %d: %d matching windows", i, k);
        if (k == 1 && !distinct[sy + PAD][sx + PAD]++) nd++;
    }
    CHECK_MSG(nd >= 15, "only %d distinct windows", nd);
    /* a pad larger than the image: windows may be all padding */
    memcpy(x, x0, sizeof(float) * N * CHW);
    ccnn_augment(x, N, C, H, W, 9, 0, 8, 2);
    for (int i = 0; i < N; i++) {
        int sy, sx, m;
        int k = find_transform(x0 + i * CHW, x + i * CHW, C, H, W, 9, 0, &sy, &sx, &m, t);
        CHECK_MSG(k >= 1, "pad 9, image %d: no window matches", i);
    }
    free(x0);
    free(x);
    free(t);
}

CCNN_TEST(data_augment_crop_and_flip)
{
    enum { N = 128, C = 2, H = 5, W = 6, CHW = C * H * W, PAD = 2 };
    float *x0 = random_batch(N * CHW, 74), *x = test_alloc(N * CHW), *t = test_alloc(CHW);
    memcpy(x, x0, sizeof(float) * N * CHW);
    ccnn_augment(x, N, C, H, W, PAD, 1, 99, 7);
    int mirrored = 0;
    for (int i = 0; i < N; i++) {
        int sy, sx, m;
        int k = find_transform(x0 + i * CHW, x + i * CHW, C, H, W, PAD, 1, &sy, &sx, &m, t);
        CHECK_MSG(k == 1, "image %d: %d matching transforms", i, k);
        mirrored += k == 1 && m;
        /* the set of values: each output value is 0 or one of its own
         * channel's inputs */
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) {
                float v = x[i * CHW + c * H * W + p];
                int found = v == 0.0f;
                for (int q = 0; q < H * W && !found; q++) found = v == x0[i * CHW + c * H * W + q];
                CHECK_MSG(found, "image %d channel %d: value %g is new", i, c, v);
            }
    }
    CHECK_MSG(mirrored > N / 4 && mirrored < 3 * N / 4, "%d of %d mirrored", mirrored, N);
    free(x0);
    free(x);
    free(t);
}

/* ---- the real Fashion-MNIST ------------------------------------------------------ */

CCNN_TEST(data_fashion_mnist_installed)
{
    struct stat st;
    if (stat(FASHION_DIR, &st) != 0) {
        printf("     (skipped: %s is not installed)\n", FASHION_DIR);
        return;
    }
    ccnn_dataset *tr = NULL, *te = NULL;
    char err[1024] = "";
    int rc = ccnn_dataset_load_dir(FASHION_DIR, &tr, &te, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc) return;
    CHECK(tr->n == 60000 && te->n == 10000);
    CHECK(tr->c == 1 && tr->h == 28 && tr->w == 28 && te->c == 1 && te->h == 28 && te->w == 28);
    CHECK(tr->n_classes == 10 && te->n_classes == 10);
    CHECK(strcmp(tr->class_names[0], "T-shirt/top") == 0 &&
          strcmp(tr->class_names[9], "Ankle boot") == 0);
    int count[2][10] = {{0}};
    for (int i = 0; i < tr->n; i++) count[0][tr->labels[i]]++;
    for (int i = 0; i < te->n; i++) count[1][te->labels[i]]++;
    for (int k = 0; k < 10; k++)
        CHECK_MSG(count[0][k] == 6000 && count[1][k] == 1000, "class %d: %d train, %d test", k,
                  count[0][k], count[1][k]);
    float mean, std;
    ccnn_dataset_stats(tr, &mean, &std);
    /* the widely quoted Fashion-MNIST training statistics */
    CHECK_MSG(fabsf(mean - 0.2860f) < 5e-4f && fabsf(std - 0.3530f) < 5e-4f, "mean %g std %g",
              mean, std);
    ccnn_dataset_free(tr);
    ccnn_dataset_free(te);
}
