/* fuzz_idx.c - IDX image and label files, plain: the input's first two
 * bytes say where the images file ends and the labels file begins. With
 * FUZZ_GZ (fuzz_idx_gz.c) both are gzip-compressed first, so the fuzzer
 * explores the contents through zlib's reader. */
#include "fuzz.h"
#include <stdlib.h>
#include <zlib.h>

#ifdef FUZZ_GZ
/* The bytes as a gzip file (zlib's gzwrite on the fd). */
static int make(const uint8_t *d, size_t n, char *path, size_t len)
{
    int fd = fuzz_file(NULL, 0, path, len);
    if (fd < 0) return -1;
    gzFile g = gzdopen(dup(fd), "wb");
    if (!g) { close(fd); return -1; }
    if (n) gzwrite(g, d, (unsigned)n);
    gzclose(g);
    return fd;
}
#else
static int make(const uint8_t *d, size_t n, char *path, size_t len) { return fuzz_file(d, n, path, len); }
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_limits();
    if (size < 2) return 0;
    size_t split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
    data += 2;
    size -= 2;
    char ip[64], lp[64], err[512];
    int fi = make(data, split, ip, sizeof ip), fl = make(data + split, size - split, lp, sizeof lp);
    if (fi >= 0 && fl >= 0) {
        ccnn_dataset *ds = NULL;
        if (ccnn_dataset_load_idx(&ds, ip, lp, err, sizeof err) == 0) {
            float mean[CCNN_MAX_CHANNELS], std[CCNN_MAX_CHANNELS];
            if (ds->c <= CCNN_MAX_CHANNELS) ccnn_dataset_stats(ds, mean, std);
            ccnn_dataset_free(ds);
        }
    }
    if (fi >= 0) close(fi);
    if (fl >= 0) close(fl);
    return 0;
}
