/* idx.c - MNIST / Fashion-MNIST IDX files, gzip-compressed or plain (zlib's
 * gzread passes plain files through unchanged).
 *
 * Images: magic 0x00000803 (unsigned bytes, 3 dimensions), then the count,
 * rows and columns as big-endian 32-bit numbers, then count*rows*cols bytes.
 * Labels: magic 0x00000801 (1 dimension), the count, then count bytes.
 * Everything is checked: the magic numbers, sizes that are not absurd
 * (rows, columns 1..65535, at most 2^24 pixels an image, at most INT_MAX
 * images), the file holding all the data the header promises and nothing
 * after it, equal image and label counts, and labels 0..9. For gzip files
 * the check is on the decompressed data, and reading to the end verifies
 * the gzip CRC and length; bytes after the last gzip member that are not
 * gzip themselves are skipped by zlib, not reported.
 *
 * The data set always has 10 classes (MNIST and Fashion-MNIST both do), so
 * a small subset whose labels happen to stop short of 9 still fits a
 * 10-output net. Class names are "0".."9", or Fashion-MNIST's names when
 * the images path contains "fashion" (any case).
 */
#include "data_internal.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_CLASSES 10
#define IDX_MAX_SIDE 65535u
#define IDX_MAX_PIXELS (1u << 24)
#define FIRST_ALLOC ((size_t)1 << 20) /* grow towards the promised size: a 16-byte header
                                           * promising gigabytes costs 1 MB, not 64 */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads the magic number and `ndim` dimensions. */
static int read_header(gzFile f, const char *path, uint32_t magic_want, const char *kind,
                       int ndim, uint32_t *dims, char *err, size_t errlen)
{
    unsigned char hdr[16];
    size_t want = 4 + 4 * (size_t)ndim, got = 0;
    if (ccnn_data_gzread_full(f, hdr, 4, &got)) return ccnn_data_gzfail(f, path, err, errlen);
    if (got == 0) {
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: empty file (expected an IDX %s file)", path, kind);
    }
    if (got < 4) {
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: truncated IDX header (the file ends after %zu bytes)",
                      path, got);
    }
    uint32_t magic = be32(hdr);
    if (magic != magic_want) {
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: wrong magic number 0x%08x (expected 0x%08x for an IDX %s "
                      "file)", path, (unsigned)magic, (unsigned)magic_want, kind);
    }
    size_t got2 = 0;
    if (ccnn_data_gzread_full(f, hdr + 4, want - 4, &got2))
        return ccnn_data_gzfail(f, path, err, errlen);
    if (got2 < want - 4) {
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: truncated IDX header (the file ends after %zu bytes)",
                      path, 4 + got2);
    }
    for (int i = 0; i < ndim; i++) dims[i] = be32(hdr + 4 + 4 * i);
    return 0;
}

/* Reads `total` bytes into a new buffer, growing it as data arrives so that
 * a header promising absurd amounts fails as truncated, not as out of
 * memory. *got < total means the data ended early. */
static int read_body(gzFile f, const char *path, size_t total, unsigned char **out, size_t *got,
                     char *err, size_t errlen)
{
    size_t cap = total < FIRST_ALLOC ? total : FIRST_ALLOC, have = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) {
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory allocating %zu bytes", path, cap);
    }
    while (have < total) {
        if (have == cap) {
            size_t ncap = cap > total / 2 ? total : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory growing the buffer to %zu bytes",
                                 path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = 0;
        if (ccnn_data_gzread_full(f, buf + have, cap - have, &r)) {
            free(buf);
            return ccnn_data_gzfail(f, path, err, errlen);
        }
        have += r;
        if (have < cap) break; /* end of data */
    }
    *out = buf;
    *got = have;
    return 0;
}

static int load_images(const char *path, unsigned char **pixels, uint32_t *n, uint32_t *rows,
                       uint32_t *cols, char *err, size_t errlen)
{
    gzFile f;
    int rc = ccnn_data_gzopen(path, &f, err, errlen);
    if (rc) return rc;
    uint32_t d[3];
    unsigned char *buf = NULL;
    rc = read_header(f, path, IDX_MAGIC_IMAGES, "image", 3, d, err, errlen);
    if (!rc && d[0] == 0) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: the header says 0 images", path);
    } else if (!rc && d[0] > (uint32_t)INT_MAX) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: absurd image count %u in the header", path, (unsigned)d[0]);
    } else if (!rc && (d[1] == 0 || d[2] == 0 || d[1] > IDX_MAX_SIDE || d[2] > IDX_MAX_SIDE ||
                       (uint64_t)d[1] * d[2] > IDX_MAX_PIXELS)) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: absurd image size %ux%u in the header", path,
                      (unsigned)d[1], (unsigned)d[2]);
    }
    if (rc) goto done;
    const uint64_t per = (uint64_t)d[1] * d[2], total = per * d[0]; /* <= 2^55 */
    if (total > SIZE_MAX / 2) {
        rc = ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%s: %u images of %ux%u do not fit in memory", path,
                      (unsigned)d[0], (unsigned)d[1], (unsigned)d[2]);
        goto done;
    }
    size_t got = 0;
    rc = read_body(f, path, (size_t)total, &buf, &got, err, errlen);
    if (rc) goto done;
    if (got < total) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: truncated: the header says %u images of %ux%u but the "
                      "file ends after %zu images", path, (unsigned)d[0], (unsigned)d[1],
                      (unsigned)d[2], (size_t)(got / per));
        goto done;
    }
    char what[96];
    snprintf(what, sizeof what, "the %u images the header declares", (unsigned)d[0]);
    rc = ccnn_data_gzexpect_end(f, path, what, err, errlen);
done:
    gzclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *pixels = buf;
    *n = d[0];
    *rows = d[1];
    *cols = d[2];
    return 0;
}

static int load_labels(const char *path, unsigned char **labels, uint32_t *n, char *err,
                       size_t errlen)
{
    gzFile f;
    int rc = ccnn_data_gzopen(path, &f, err, errlen);
    if (rc) return rc;
    uint32_t d[1];
    unsigned char *buf = NULL;
    rc = read_header(f, path, IDX_MAGIC_LABELS, "label", 1, d, err, errlen);
    if (!rc && d[0] == 0) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: the header says 0 labels", path);
    } else if (!rc && d[0] > (uint32_t)INT_MAX) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: absurd label count %u in the header", path, (unsigned)d[0]);
    }
    if (rc) goto done;
    size_t got = 0;
    rc = read_body(f, path, d[0], &buf, &got, err, errlen);
    if (rc) goto done;
    if (got < d[0]) {
        rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: truncated: the header says %u labels but the file ends "
                      "after %zu labels", path, (unsigned)d[0], got);
        goto done;
    }
    char what[96];
    snprintf(what, sizeof what, "the %u labels the header declares", (unsigned)d[0]);
    rc = ccnn_data_gzexpect_end(f, path, what, err, errlen);
    for (size_t i = 0; !rc && i < d[0]; i++) {
        if (buf[i] >= IDX_CLASSES) {
            rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: label %u of item %zu is out of range (expected 0..%d)",
                          path, (unsigned)buf[i], i, IDX_CLASSES - 1);
        }
    }
done:
    gzclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *labels = buf;
    *n = d[0];
    return 0;
}

int ccnn_dataset_load_idx(ccnn_dataset **out, const char *images_path, const char *labels_path,
                          char *err, size_t errlen)
{
    if (!out || !images_path || !labels_path) {
        return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_dataset_load_idx: NULL argument");
    }
    unsigned char *pixels = NULL, *labels = NULL;
    uint32_t n = 0, rows = 0, cols = 0, nl = 0;
    int rc = load_images(images_path, &pixels, &n, &rows, &cols, err, errlen);
    if (rc) return rc;
    rc = load_labels(labels_path, &labels, &nl, err, errlen);
    if (rc) {
        free(pixels);
        return rc;
    }
    if (n != nl) {
        ccnn_errf(err, errlen, 0, "%s has %u images but %s has %u labels", images_path,
                      (unsigned)n, labels_path, (unsigned)nl);
        free(pixels);
        free(labels);
        return CCNN_EFORMAT;
    }
    ccnn_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        ccnn_errf(err, errlen, 0, "%s: out of memory", images_path);
        free(pixels);
        free(labels);
        return CCNN_ENOMEM;
    }
    ds->n = (int)n;
    ds->c = 1;
    ds->h = (int)rows;
    ds->w = (int)cols;
    ds->n_classes = IDX_CLASSES;
    ds->images = pixels;
    ds->labels = labels;
    if (ccnn_data_path_says_fashion(images_path))
        ccnn_data_names_fashion(ds);
    else
        ccnn_data_names_digits(ds);
    *out = ds;
    return 0;
}
