/* data_internal.h - helpers shared by the data-set loaders (src/data/). */
#ifndef CCNN_DATA_INTERNAL_H
#define CCNN_DATA_INTERNAL_H

#include "ccnn_internal.h"
#include <stddef.h>
#include <zlib.h>

/* snprintf into err (err may be NULL, errlen may be 0). */

/* Class names. */
void ccnn_data_names_digits(ccnn_dataset *ds);   /* "0".."9" */
void ccnn_data_names_fashion(ccnn_dataset *ds);  /* Fashion-MNIST's ten names */
void ccnn_data_names_cifar10(ccnn_dataset *ds);  /* CIFAR-10's ten names */

/* Case-insensitive: does s contain "fashion"? */
int ccnn_data_path_says_fashion(const char *s);

/* zlib reading, shared by the IDX and CIFAR-10 loaders. gzopen reads
 * gzip-compressed and plain files alike. */

/* Opens path for reading; on failure writes "PATH: cannot open: why" and
 * returns CCNN_EIO (CCNN_ENOMEM when zlib ran out of memory). */
int ccnn_data_gzopen(const char *path, gzFile *f, char *err, size_t errlen);
/* Reads up to len bytes, stopping early only at the end of the data;
 * *got says how many came. Returns 0, or -1 on a read/decompression error
 * (then call ccnn_data_gzfail). */
int ccnn_data_gzread_full(gzFile f, void *buf, size_t len, size_t *got);
/* Turns the error state of f into a message and a code: CCNN_EIO for an
 * operating-system read error, CCNN_ENOMEM, else CCNN_EFORMAT (corrupt
 * gzip data). */
int ccnn_data_gzfail(gzFile f, const char *path, char *err, size_t errlen);
/* After the last expected byte: 0 if the data ends here; CCNN_EFORMAT with
 * "PATH: trailing data after WHAT" if more follows, or if the gzip stream
 * itself was cut short; other codes as ccnn_data_gzfail. */
int ccnn_data_gzexpect_end(gzFile f, const char *path, const char *what, char *err, size_t errlen);

#endif
