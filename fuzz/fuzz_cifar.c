/* fuzz_cifar.c - a CIFAR-10 binary batch. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_limits();
    char path[64], err[512];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    const char *paths[1] = {path};
    ccnn_dataset *ds = NULL;
    if (ccnn_dataset_load_cifar10(&ds, paths, 1, err, sizeof err) == 0) ccnn_dataset_free(ds);
    close(fd);
    return 0;
}
