/* fuzz_model.c - model files (safetensors): the raw parser, then the full
 * loader with and without the optimizer state, and the metadata reader. */
#include "fuzz.h"
#include "io/safetensors.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_limits();
    char err[512], path[64];
    ccnn_st_file f;
    if (ccnn_st_parse(data, size, "fuzz", &f, err, sizeof err) == 0) {
        for (int i = 0; i < f.n_tensors; i++) ccnn_st_find(&f, f.tensors[i].name);
        ccnn_st_free(&f);
    }
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0) return 0;
    ccnn_net *net = NULL;
    ccnn_trainer *tr = NULL;
    if (ccnn_model_load(path, &net, &tr, err, sizeof err) == 0) {
        ccnn_trainer_free(tr);
        ccnn_net_free(net);
    }
    net = NULL;
    if (ccnn_model_load(path, &net, NULL, err, sizeof err) == 0) ccnn_net_free(net);
    char *meta = NULL;
    if (ccnn_model_read_meta(path, "ccnn.metrics", &meta, err, sizeof err) == 0) free(meta);
    close(fd);
    return 0;
}
