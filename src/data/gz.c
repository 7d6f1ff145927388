/* gz.c - zlib reading shared by the IDX and CIFAR-10 loaders (gzip and
 * plain files alike): whole reads, error messages, the end of the data. */
#include "data_internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int ccnn_data_gzopen(const char *path, gzFile *f, char *err, size_t errlen)
{
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g) {
        int e = errno;
        ccnn_errf(err, errlen, 0, "%s: cannot open: %s", path,
                      e ? strerror(e) : "out of memory");
        return (e == 0 || e == ENOMEM) ? CCNN_ENOMEM : CCNN_EIO;
    }
    gzbuffer(g, 1u << 17);
    *f = g;
    return 0;
}

int ccnn_data_gzread_full(gzFile f, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, p + *got, (unsigned)want);
        if (r < 0) return -1;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

int ccnn_data_gzfail(gzFile f, const char *path, char *err, size_t errlen)
{
    int saved = errno, zerr = Z_OK;
    const char *msg = gzerror(f, &zerr);
    size_t pl = strlen(path);
    /* zlib prefixes its messages with the path; it is already in ours */
    if (msg && strncmp(msg, path, pl) == 0 && msg[pl] == ':' && msg[pl + 1] == ' ') msg += pl + 2;
    if (!msg || !*msg) msg = zerr == Z_ERRNO ? strerror(saved) : "unknown error";
    if (zerr == Z_ERRNO) {
        return ccnn_errf(err, errlen, CCNN_EIO, "%s: read error: %s", path, msg);
    }
    if (zerr == Z_MEM_ERROR) {
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "%s: out of memory while decompressing", path);
    }
    return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: corrupt gzip data: %s", path, msg);
}

int ccnn_data_gzexpect_end(gzFile f, const char *path, const char *what, char *err, size_t errlen)
{
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r < 0) return ccnn_data_gzfail(f, path, err, errlen);
    if (r > 0) {
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: trailing data after %s", path, what);
    }
    int zerr = Z_OK;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR) { /* the gzip stream stops before its end */
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: truncated gzip stream (the data is complete but the "
                      "compressed file is cut short)", path);
    }
    if (zerr != Z_OK) return ccnn_data_gzfail(f, path, err, errlen);
    return 0;
}
