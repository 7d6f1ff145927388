/* atomic.h - replacing a file atomically. Internal to the library. */
#ifndef CCNN_IO_ATOMIC_H
#define CCNN_IO_ATOMIC_H
#include "ccnn_internal.h"
#include <stdio.h>

/* ---- atomic replacement of a file --------------------------------------- */
/* ccnn_atomic_open creates "<path>.tmp.<pid>" beside path; write to af->f,
 * then ccnn_atomic_commit flushes, fsyncs, closes and renames it over path.
 * On any failure (and in ccnn_atomic_abort) the temporary file is removed
 * and an existing file at path is left as it was. Errors are CCNN_EIO with
 * "PATH: what: strerror(errno)". ccnn_atomic_open first removes stale
 * "<path>.tmp.<pid>" files of processes that no longer run (a kill -9
 * during a save leaves one). */
typedef struct ccnn_atomic_file {
    FILE *f;
    char *tmp;
    const char *path;
} ccnn_atomic_file;

int ccnn_atomic_open(ccnn_atomic_file *af, const char *path, char *err, size_t errlen);
int ccnn_atomic_commit(ccnn_atomic_file *af, char *err, size_t errlen);
void ccnn_atomic_abort(ccnn_atomic_file *af);

#endif
