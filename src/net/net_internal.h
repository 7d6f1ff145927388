/* net_internal.h - the network struct, shared by the engine's files. */
#ifndef CCNN_NET_INTERNAL_H
#define CCNN_NET_INTERNAL_H
#include "net/layer.h"

struct ccnn_net {
    ccnn_input_spec input;
    ccnn_train_config train;
    int n_layers, cap_layers;
    ccnn_layer **layers;           /* pointers: a layer's address never moves */
    char **tensor_names;           /* "layer.suffix", one per tensor */
    int n_tensors;
    float *params, *grads, *state; /* contiguous, layer after layer */
    size_t n_params, n_state;
    int batch_cap;                 /* activations are allocated for this many samples */
    float *dx;                     /* dL/d(net input), batch_cap samples */
    const float *x;                /* the input of the last forward */
    int last_batch, last_train;
    uint64_t last_step;
    /* Weight gradients chunk by chunk (CCNN_CHUNK images each), added in
     * chunk order: n_params floats per chunk of the last backward. */
    float *chunk_grads;
    size_t chunk_floats;       /* allocated */
    struct ccnn_dist *dist;    /* set by the trainer during a data-parallel step */
    int deferred;                  /* params/grads/state not allocated yet (the parser's) */
    int no_fusion;                 /* tests: run every ReLU as its own layer (net.c, plan_fusion) */
};

/* Allocates the parameter, gradient and state arrays of a net built with
 * `deferred` set (zeroed), and clears it. CCNN_ENOMEM leaves it deferred. */
int ccnn_net_alloc_params(ccnn_net *net);

/* Whether `name` may name a layer: a letter or _, then letters, digits, _
 * and -, shorter than CCNN_NAME_MAX, and not "input". The parser and
 * ccnn_net_add both check it, so every net can be written out and read
 * back. */
int ccnn_net_valid_name(const char *name);

/* Index of the layer called `name`, -1 for "input", -2 if none. */
int ccnn_net_find(const ccnn_net *net, const char *name);
#endif
