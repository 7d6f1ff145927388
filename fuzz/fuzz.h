/* fuzz.h - shared pieces of the libFuzzer harnesses (make fuzz): the bytes
 * as a file the path-based loaders can open (an in-memory memfd, so the
 * fuzzer never touches the disk), and a low memory limit so that a tiny
 * input asking for gigabytes is refused rather than reported as an OOM. */
#ifndef CCNN_FUZZ_H
#define CCNN_FUZZ_H
#define _GNU_SOURCE
#include "ccnn.h"
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* An fd holding data; its path is written to path (/proc/self/fd/N). */
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
    int fd = memfd_create("ccnn-fuzz", 0);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

static inline void fuzz_limits(void)
{
    ccnn_set_memory_limit((uint64_t)256 << 20);
    ccnn_set_num_threads(1);
}
#endif
