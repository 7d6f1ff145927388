/* dataset.c - data directories, freeing, per-channel statistics and
 * normalisation; the helpers the loaders share.
 *
 * Data directories (ccnn_dataset_load_dir):
 *   - IDX (MNIST, Fashion-MNIST): train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *     t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each looked for with
 *     ".gz" first, then without. If any of the four is there, all four must be.
 *   - otherwise CIFAR-10: data_batch_1.bin .. data_batch_5.bin (train) and
 *     test_batch.bin (test), in the directory itself or in its subdirectory
 *     cifar-10-batches-bin (as the official archive unpacks). All six must be
 *     there once data_batch_1.bin is.
 *   - otherwise CCNN_ENOTFOUND.
 * IDX files cannot tell MNIST from Fashion-MNIST, so the class names are
 * "0".."9" unless the directory path (as given, or after realpath) contains
 * "fashion" in any case; then they are Fashion-MNIST's names.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "data_internal.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- shared helpers ------------------------------------------------------ */

static void set_names(ccnn_dataset *ds, const char *const *names, int n)
{
    memset(ds->class_names, 0, sizeof ds->class_names);
    for (int i = 0; i < n && i < 16; i++)
        snprintf(ds->class_names[i], CCNN_NAME_MAX, "%s", names[i]);
}

void ccnn_data_names_digits(ccnn_dataset *ds)
{
    static const char *const names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    set_names(ds, names, 10);
}

void ccnn_data_names_fashion(ccnn_dataset *ds)
{
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    set_names(ds, names, 10);
}

void ccnn_data_names_cifar10(ccnn_dataset *ds)
{
    static const char *const names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                          "dog", "frog", "horse", "ship", "truck"};
    set_names(ds, names, 10);
}

int ccnn_data_path_says_fashion(const char *s)
{
    static const char word[] = "fashion";
    if (!s) return 0;
    for (; *s; s++) {
        size_t i = 0;
        while (word[i] && s[i] && (s[i] | 0x20) == word[i]) i++;
        if (!word[i]) return 1;
    }
    return 0;
}

/* ---- data directories ---------------------------------------------------- */

static char *join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* dir/name.gz if it exists, else dir/name if it exists, else NULL with
 * *nomem telling whether that was for lack of memory. */
static char *find_idx(const char *dir, const char *name, int *nomem)
{
    static const char *const suffixes[2] = {".gz", ""};
    for (int i = 0; i < 2; i++) {
        char *p = join(dir, name, suffixes[i]);
        if (!p) { *nomem = 1; return NULL; }
        if (is_file(p)) return p;
        free(p);
    }
    return NULL;
}

static int load_dir_idx(const char *dir, char *const paths[4], ccnn_dataset **train,
                        ccnn_dataset **test, char *err, size_t errlen)
{
    ccnn_dataset *tr = NULL, *te = NULL;
    int rc = ccnn_dataset_load_idx(&tr, paths[0], paths[1], err, errlen);
    if (rc) return rc;
    rc = ccnn_dataset_load_idx(&te, paths[2], paths[3], err, errlen);
    if (rc) { ccnn_dataset_free(tr); return rc; }
    if (tr->h != te->h || tr->w != te->w) {
        ccnn_errf(err, errlen, 0, "%s: training images are %dx%d but test images are %dx%d",
                      dir, tr->h, tr->w, te->h, te->w);
        ccnn_dataset_free(tr);
        ccnn_dataset_free(te);
        return CCNN_EFORMAT;
    }
    int fashion = ccnn_data_path_says_fashion(dir);
    if (!fashion) {
        char *real = realpath(dir, NULL);
        fashion = ccnn_data_path_says_fashion(real);
        free(real);
    }
    if (fashion) {
        ccnn_data_names_fashion(tr);
        ccnn_data_names_fashion(te);
    }
    *train = tr;
    *test = te;
    return 0;
}

static int load_dir_cifar(const char *base, ccnn_dataset **train, ccnn_dataset **test,
                          char *err, size_t errlen)
{
    static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                         "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin", "test_batch.bin"};
    char *paths[6] = {0};
    ccnn_dataset *tr = NULL, *te = NULL;
    int rc = 0;
    for (int i = 0; i < 6 && !rc; i++) {
        paths[i] = join(base, names[i], "");
        if (!paths[i]) {
            rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory", base);
        } else if (!is_file(paths[i])) {
            rc = ccnn_errf(err, errlen, CCNN_ENOTFOUND, "%s: found data_batch_1.bin but not %s (CIFAR-10 needs "
                          "data_batch_1..5.bin and test_batch.bin)", base, names[i]);
        }
    }
    if (!rc) rc = ccnn_dataset_load_cifar10(&tr, (const char *const *)paths, 5, err, errlen);
    if (!rc) rc = ccnn_dataset_load_cifar10(&te, (const char *const *)paths + 5, 1, err, errlen);
    if (!rc) {
        *train = tr;
        *test = te;
    } else {
        ccnn_dataset_free(tr);
    }
    for (int i = 0; i < 6; i++) free(paths[i]);
    return rc;
}

int ccnn_dataset_load_dir(const char *dir, ccnn_dataset **train, ccnn_dataset **test,
                          char *err, size_t errlen)
{
    static const char *const idx_names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    if (!dir || !train || !test) {
        return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_dataset_load_dir: NULL argument");
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        return ccnn_errf(err, errlen, CCNN_EIO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return ccnn_errf(err, errlen, CCNN_EIO, "%s: not a directory", dir);
    }

    /* IDX */
    char *paths[4] = {0};
    int nomem = 0, found = 0, rc = 0;
    for (int i = 0; i < 4; i++) {
        paths[i] = find_idx(dir, idx_names[i], &nomem);
        found += paths[i] != NULL;
    }
    if (nomem) {
        rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory", dir);
    } else if (found > 0 && found < 4) {
        int have = 0, miss = 0;
        while (!paths[have]) have++;
        while (paths[miss]) miss++;
        rc = ccnn_errf(err, errlen, CCNN_ENOTFOUND, "%s: found %s but not %s[.gz] (IDX data needs "
                      "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                      "and t10k-labels-idx1-ubyte, each optionally .gz)",
                      dir, paths[have] + strlen(dir) + 1, idx_names[miss]);
    } else if (found == 4) {
        rc = load_dir_idx(dir, paths, train, test, err, errlen);
    }
    for (int i = 0; i < 4; i++) free(paths[i]);
    if (rc || found == 4) return rc;

    /* CIFAR-10, in dir or dir/cifar-10-batches-bin */
    for (int b = 0; b < 2; b++) {
        char *base = b == 0 ? strdup(dir) : join(dir, "cifar-10-batches-bin", "");
        char *probe = base ? join(base, "data_batch_1.bin", "") : NULL;
        if (!probe) {
            free(base);
            return ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory", dir);
        }
        int there = is_file(probe);
        free(probe);
        if (there) rc = load_dir_cifar(base, train, test, err, errlen);
        free(base);
        if (there) return rc;
    }
    ccnn_errf(err, errlen, 0, "%s: no Fashion-MNIST/MNIST IDX files or CIFAR-10 batches found "
                  "(expected train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                  "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, plain or gzipped; "
                  "or data_batch_1..5.bin and test_batch.bin, possibly in cifar-10-batches-bin/)",
                  dir);
    return CCNN_ENOTFOUND;
}

void ccnn_dataset_free(ccnn_dataset *ds)
{
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    free(ds);
}

/* ---- statistics and normalisation ---------------------------------------- */

/* Per-channel histograms of the 256 byte values (integer counts, so the
 * result is exact and independent of the thread count); mean and population
 * standard deviation from them in double. For an empty data set, or if the
 * histograms cannot be allocated (only possible beyond CCNN_MAX_CHANNELS
 * channels), mean and std are written as 0. */
void ccnn_dataset_stats(const ccnn_dataset *ds, float *mean, float *std)
{
    if (!ds || !mean || !std || ds->c <= 0) return;
    const int C = ds->c;
    for (int c = 0; c < C; c++) mean[c] = std[c] = 0;
    if (ds->n <= 0 || ds->h <= 0 || ds->w <= 0 || !ds->images) return;
    const size_t hw = (size_t)ds->h * (size_t)ds->w, n = (size_t)ds->n;
    uint64_t stack_hist[CCNN_MAX_CHANNELS * 256];
    uint64_t *hist = C <= CCNN_MAX_CHANNELS ? stack_hist : malloc((size_t)C * 256 * sizeof *hist);
    if (!hist) return;
    memset(hist, 0, (size_t)C * 256 * sizeof *hist);
    const size_t nhist = (size_t)C * 256;
    const uint8_t *img = ds->images;
    const int par = n * (size_t)C * hw >= ((size_t)1 << 20);
    #pragma omp parallel for if (par) num_threads(ccnn_threads()) schedule(static) \
        reduction(+ : hist[0:nhist])
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < C; c++) {
            const uint8_t *p = img + (i * (size_t)C + (size_t)c) * hw;
            uint64_t *hc = hist + (size_t)c * 256;
            for (size_t k = 0; k < hw; k++) hc[p[k]]++;
        }
    }
    const double count = (double)n * (double)hw;
    for (int c = 0; c < C; c++) {
        const uint64_t *hc = hist + (size_t)c * 256;
        uint64_t sum = 0;
        for (int v = 0; v < 256; v++) sum += (uint64_t)v * hc[v];
        double m = (double)sum / count, var = 0;
        for (int v = 0; v < 256; v++) var += (double)hc[v] * ((double)v - m) * ((double)v - m);
        var /= count;
        mean[c] = (float)(m / 255.0);
        std[c] = (float)(sqrt(var) / 255.0);
    }
    if (hist != stack_hist) free(hist);
}

/* The input spec must describe the data set's images (same C, H, W, and
 * C <= CCNN_MAX_CHANNELS, which the loaders' 1 or 3 channels always are),
 * and every index must be an image: otherwise nothing is written. */
int ccnn_normalize(const ccnn_dataset *ds, const ccnn_input_spec *in, const int *idx, int count,
                   float *x)
{
    if (!ds || !in || !idx || !x || count < 0 || !ds->images) return CCNN_EINVAL;
    if (ds->c <= 0 || ds->c > CCNN_MAX_CHANNELS || ds->h <= 0 || ds->w <= 0) return CCNN_ESHAPE;
    if (in->c != ds->c || in->h != ds->h || in->w != ds->w) return CCNN_ESHAPE;
    for (int i = 0; i < count; i++)
        if (idx[i] < 0 || idx[i] >= ds->n) return CCNN_EINVAL;
    const int C = ds->c;
    float lut[CCNN_MAX_CHANNELS][256];
    for (int c = 0; c < C; c++) {
        double s = in->std[c] == 0.0f ? 1.0 : (double)in->std[c], m = (double)in->mean[c];
        for (int v = 0; v < 256; v++) lut[c][v] = (float)(((double)v / 255.0 - m) / s);
    }
    const size_t hw = (size_t)ds->h * (size_t)ds->w, chw = (size_t)C * hw;
    const int par = (size_t)count * chw >= ((size_t)1 << 18);
    #pragma omp parallel for if (par) num_threads(ccnn_threads()) schedule(static)
    for (int i = 0; i < count; i++) {
        float *dst = x + (size_t)i * chw;
        const uint8_t *src = ds->images + (size_t)idx[i] * chw;
        for (int c = 0; c < C; c++) {
            const float *l = lut[c];
            const uint8_t *s = src + (size_t)c * hw;
            float *d = dst + (size_t)c * hw;
            for (size_t k = 0; k < hw; k++) d[k] = l[s[k]];
        }
    }
    return CCNN_OK;
}
