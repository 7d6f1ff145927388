/* cifar.c - CIFAR-10 binary batches: records of 1 label byte and 3072 pixel
 * bytes (3 x 32 x 32, channel-major, as the data set's NCHW layout wants).
 * Each file must hold a whole, non-zero number of records and labels 0..9.
 * Files are read through zlib, so gzip-compressed batches work too (the
 * size rule then applies to the decompressed data). */
#include "data_internal.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIFAR_C 3
#define CIFAR_H 32
#define CIFAR_W 32
#define CIFAR_PIX (CIFAR_C * CIFAR_H * CIFAR_W)   /* 3072 */
#define CIFAR_REC (1 + CIFAR_PIX)                  /* 3073 */
#define CIFAR_CLASSES 10
#define CHUNK_RECS 512

typedef struct {
    unsigned char *images, *labels;
    size_t n, cap;
} cifar_buf;

static int grow(cifar_buf *b, size_t need)
{
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : need; /* a tiny file costs its own size, not 10000 images */
    while (ncap < need) ncap *= 2;
    unsigned char *im = realloc(b->images, ncap * CIFAR_PIX);
    if (!im) return -1;
    b->images = im;
    unsigned char *lb = realloc(b->labels, ncap);
    if (!lb) return -1;
    b->labels = lb;
    b->cap = ncap;
    return 0;
}

/* Appends the records of one file to b. */
static int read_file(const char *path, cifar_buf *b, unsigned char *chunk, char *err,
                     size_t errlen)
{
    gzFile f;
    int rc = ccnn_data_gzopen(path, &f, err, errlen);
    if (rc) return rc;
    uint64_t bytes = 0;
    size_t recs = 0;
    for (;;) {
        size_t got = 0;
        if (ccnn_data_gzread_full(f, chunk, (size_t)CHUNK_RECS * CIFAR_REC, &got)) {
            rc = ccnn_data_gzfail(f, path, err, errlen);
            break;
        }
        bytes += got;
        size_t k = got / CIFAR_REC;
        if (got % CIFAR_REC) {
            /* a short read is the end of the data: count what remains */
            rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: size %llu bytes is not a multiple of %d (a CIFAR-10 "
                          "record is 1 label byte + %d pixel bytes)", path,
                          (unsigned long long)bytes, CIFAR_REC, CIFAR_PIX);
            break;
        }
        if (b->n + k > (size_t)INT_MAX) {
            rc = ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%s: too many images (more than %d in all)", path, INT_MAX);
            break;
        }
        if (grow(b, b->n + k)) {
            rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory for %zu images (%zu bytes)", path,
                           b->n + k, (b->n + k) * (size_t)CIFAR_REC);
            break;
        }
        for (size_t i = 0; i < k; i++) {
            const unsigned char *rec = chunk + i * CIFAR_REC;
            if (rec[0] >= CIFAR_CLASSES) {
                rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: record %zu has label %u (expected 0..%d)", path,
                              recs + i, (unsigned)rec[0], CIFAR_CLASSES - 1);
                break;
            }
            b->labels[b->n + i] = rec[0];
            memcpy(b->images + (b->n + i) * CIFAR_PIX, rec + 1, CIFAR_PIX);
        }
        if (rc) break;
        b->n += k;
        recs += k;
        if (got < (size_t)CHUNK_RECS * CIFAR_REC) break; /* end of data */
    }
    if (!rc && recs == 0) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: empty file (no CIFAR-10 records)", path);
    }
    if (!rc) {
        /* only a cut-short gzip stream can make this fail */
        char what[64];
        snprintf(what, sizeof what, "%zu records", recs);
        rc = ccnn_data_gzexpect_end(f, path, what, err, errlen);
    }
    gzclose(f);
    return rc;
}

int ccnn_dataset_load_cifar10(ccnn_dataset **out, const char *const *paths, int n_paths,
                              char *err, size_t errlen)
{
    if (!out || !paths || n_paths <= 0) {
        return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_dataset_load_cifar10: %s",
                      n_paths <= 0 && out && paths ? "no files given" : "NULL argument");
    }
    for (int i = 0; i < n_paths; i++) {
        if (!paths[i]) {
            return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_dataset_load_cifar10: paths[%d] is NULL", i);
        }
    }
    cifar_buf b = {0};
    int rc = 0;
    unsigned char *chunk = malloc((size_t)CHUNK_RECS * CIFAR_REC);
    if (!chunk) {
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory for a read buffer (%zu bytes)", paths[0],
                         (size_t)CHUNK_RECS * CIFAR_REC);
    }
    for (int i = 0; i < n_paths && !rc; i++) rc = read_file(paths[i], &b, chunk, err, errlen);
    free(chunk);
    ccnn_dataset *ds = NULL;
    if (!rc) {
        ds = calloc(1, sizeof *ds);
        if (!ds) {
            rc = ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory", paths[0]);
        }
    }
    if (rc) {
        free(b.images);
        free(b.labels);
        return rc;
    }
    /* give back the slack of the last doubling */
    unsigned char *im = realloc(b.images, b.n * CIFAR_PIX);
    if (im) b.images = im;
    unsigned char *lb = realloc(b.labels, b.n);
    if (lb) b.labels = lb;
    ds->n = (int)b.n;
    ds->c = CIFAR_C;
    ds->h = CIFAR_H;
    ds->w = CIFAR_W;
    ds->n_classes = CIFAR_CLASSES;
    ds->images = b.images;
    ds->labels = b.labels;
    ccnn_data_names_cifar10(ds);
    *out = ds;
    return 0;
}
