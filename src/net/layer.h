/* layer.h - the interface between the network engine (src/net/net.c) and
 * the layers (src/layers/, one file each).
 *
 * The engine owns all memory: activations, their gradients, and one
 * contiguous array each for parameters, their gradients and the
 * non-trained state. A layer sees views into them and keeps only small
 * private buffers of its own (l->priv), sized in reserve().
 *
 * Gradient convention: backward() ADDS into l->din[i] and l->grads (the
 * engine zeroes them first). A layer output read by several layers thus
 * receives the sum of their gradients, as the chain rule requires. The one
 * exception saves a pass over memory: a layer that is the only reader of
 * its input may be told (run->din_fresh) to write din[0] outright.
 *
 * Weight gradients are computed chunk by chunk (CCNN_CHUNK images per call,
 * net.c) for every layer with parameters but batch norm, so such a layer
 * must treat images independently, and add each call's weight gradient to
 * l->grads as one finished value per element (grads[i] += dw[i]; a GEMM
 * with beta 1 whose K fits one block does the same): then the calls add up
 * to the chunk-order sum that data-parallel training reproduces. */
#ifndef CCNN_LAYER_H
#define CCNN_LAYER_H

#include "ccnn_internal.h"
#include "core/rng.h"
#include <stddef.h>

typedef struct ccnn_shape { int c, h, w; } ccnn_shape;

static inline size_t ccnn_shape_size(ccnn_shape s) { return (size_t)s.c * s.h * s.w; }

/* What one forward or backward call is about. */
typedef struct ccnn_run {
    int batch;
    int train;                 /* batch statistics, dropout, keep what backward needs */
    uint64_t seed, step;       /* dropout masks are a function of these */
    const uint8_t *labels;     /* backward of the loss layer */
    /* backward: 1 when din[0] is this layer's alone and not yet written, so
     * a layer whose ops say set_din may write it (=) instead of adding;
     * only given for one-input layers that set set_din. */
    int din_fresh;
    /* Data-parallel training (dist/dist.h): the processes' communication,
     * NULL in a single process. This call's images are [first, first +
     * batch) of a step of global_batch images (0 and batch alone), so
     * draws keyed by an image's place in the batch, batch statistics and
     * the mean loss are the step's, whichever process holds the image. */
    struct ccnn_dist *dist;
    int first, global_batch;
} ccnn_run;

/* A named tensor of a layer, within its params or state. */
typedef struct ccnn_layer_tensor {
    const char *suffix;        /* "weight", "bias", "running_mean", ... */
    int ndim, dims[4];
    size_t offset;             /* in the layer's params (or state) */
    int is_state;
} ccnn_layer_tensor;

#define CCNN_LAYER_MAX_TENSORS 4

typedef struct ccnn_layer ccnn_layer;

typedef struct ccnn_layer_ops {
    const char *type_name;     /* the keyword in network files */
    int min_inputs, max_inputs;
    /* Check the spec against in_shape[], resolve its defaults, and set
     * out_shape, n_params, n_state, tensors and flops. On error write a
     * message (without file or line) to err. */
    int (*setup)(ccnn_layer *l, char *err, size_t errlen);
    /* Initialise params and state (rng seeded per layer). May be NULL. */
    void (*init)(ccnn_layer *l, ccnn_rng *rng);
    /* Private buffers for up to `batch` samples. May be NULL. */
    int (*reserve)(ccnn_layer *l, int batch);
    /* out = f(in). */
    int (*forward)(ccnn_layer *l, const ccnn_run *run);
    /* din[i] += ..., grads += ... from dout. din[i] may be NULL. */
    int (*backward)(ccnn_layer *l, const ccnn_run *run);
    void (*destroy)(ccnn_layer *l); /* frees priv. May be NULL. */
    /* 1: backward honours run->din_fresh (writes din[0] instead of adding
     * when it is set), so the engine need not zero din[0] first. */
    int set_din;
    /* 1: the layer can take over a ReLU that alone reads its output (see
     * relu_after): the engine then skips the ReLU, saving a pass over the
     * activations each way and two buffers. */
    int fuse_relu;
} ccnn_layer_ops;

struct ccnn_layer {
    const ccnn_layer_ops *ops;
    ccnn_layer_spec spec;      /* defaults resolved by setup */
    int index;                 /* position in the net */
    int n_in;
    int in_idx[CCNN_MAX_INPUTS];          /* -1: the net input */
    ccnn_shape in_shape[CCNN_MAX_INPUTS];
    ccnn_shape out_shape;
    const float *in[CCNN_MAX_INPUTS];     /* set by the engine */
    float *din[CCNN_MAX_INPUTS];
    float *out, *dout;
    size_t n_params, n_state;
    size_t param_offset, state_offset;    /* where they start in the engine's arrays */
    float *params, *grads, *state;        /* views into the engine's arrays */
    int n_tensors;
    ccnn_layer_tensor tensors[CCNN_LAYER_MAX_TENSORS];
    double flops;                         /* forward, per sample */
    int last_consumer;                    /* the engine's: highest layer reading out, or -1 */
    int n_consumers;                      /* the engine's: how many inputs read out */
    /* Set by the engine on a layer whose ops have fuse_relu when a ReLU is
     * the only reader of its output: out and dout are then that ReLU's.
     * forward must leave ReLU(result) in out; backward must first turn dout
     * into the ReLU's gradient, dout = 0 + (out > 0 ? dout : 0), in place
     * (eltwise relu_grad with set), so every value is the one the two
     * layers would compute apart. */
    int relu_after;
    int fused;                            /* the engine's: a ReLU taken over by its input */
    void *priv;
};

/* The layer table (src/layers/registry.c). */
const ccnn_layer_ops *ccnn_layer_ops_for(ccnn_layer_type type);
int ccnn_layer_type_from_name(const char *name); /* -1 if unknown */
const char *ccnn_layer_type_name(ccnn_layer_type type);

/* Helpers for layer files. */
void ccnn_layer_add_tensor(ccnn_layer *l, const char *suffix, int is_state, int ndim,
                           int d0, int d1, int d2, int d3);
/* The window geometry of maxpool and avgpool (src/layers/maxpool.c):
 * validates and resolves the pool fields of the spec, sets out_shape. */
int ccnn_pool2d_setup(ccnn_layer *l, char *err, size_t errlen);
/* Normal(0, std) weights. */
void ccnn_init_normal(float *w, size_t n, double std, ccnn_rng *rng);

#endif
