/*
 * ccnn.h - the one public header of ccnn, a C library for convolutional
 * neural networks.
 *
 * Conventions
 *   - Tensors are float32, contiguous, NCHW. Convolution weights are
 *     K x (C/groups) x R x S (PyTorch's layout); a bias has K entries.
 *   - Every function that can fail returns 0 on success or a negative
 *     CCNN_E* code; ccnn_strerror() turns a code into a message.
 *     On error nothing is written to any output.
 *   - Ownership: the caller allocates and frees every buffer passed in.
 *     Objects created by a ccnn_*_create/_load function are owned by the
 *     caller and freed with the matching ccnn_*_free function.
 *   - The library never calls exit() or abort().
 */
#ifndef CCNN_H
#define CCNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CCNN_VERSION "0.1.0"

/* ---- error codes ------------------------------------------------------ */
enum {
    CCNN_OK = 0,
    CCNN_EINVAL = -1,    /* invalid argument or parameter */
    CCNN_ENOMEM = -2,    /* out of memory */
    CCNN_EOVERFLOW = -3, /* sizes whose element counts overflow */
    CCNN_EIO = -4,       /* a file could not be opened, read or written */
    CCNN_EFORMAT = -5,   /* a file is corrupt, truncated or of the wrong kind */
    CCNN_ESHAPE = -6,    /* shapes that do not fit together */
    CCNN_ENONFINITE = -7,/* a value became NaN or infinite */
    CCNN_ENOTFOUND = -8, /* a named item does not exist */
    CCNN_EDIST = -9,     /* data-parallel training: a communication failed, or the
                            processes disagree (docs/distributed.md) */
    CCNN_EINTR = -10,    /* stopped on request (ccnn_trainer_request_stop) */
    CCNN_ELIMIT = -11    /* over a size or memory limit (the message gives both figures) */
};

/* A readable message for a return code; never NULL. */
const char *ccnn_strerror(int code);

/* ---- threads ------------------------------------------------------------ */
/* Number of threads the library uses; n <= 0 means the environment's
 * CCNN_THREADS, or all cores when that is unset.
 * Results never depend on this number. */
void ccnn_set_num_threads(int n);
int ccnn_get_num_threads(void);

/* ---- 2-D convolution (the op) ------------------------------------------- */
typedef struct ccnn_conv2d_params {
    int n, c, h, w;                /* input x: N x C x H x W */
    int k, r, s;                   /* K filters of (C/groups) x R x S; y: N x K x P x Q */
    int stride_h, stride_w;        /* 0 means 1 */
    int pad_top, pad_bottom, pad_left, pad_right;   /* implicit zeros, may differ per side */
    int dilation_h, dilation_w;    /* 0 means 1 */
    int groups;                    /* 0 means 1; divides C and K */
} ccnn_conv2d_params;

/* P = floor((H + pad_top + pad_bottom - dilation_h*(R-1) - 1) / stride_h) + 1,
 * likewise Q. Validates the parameters. */
int ccnn_conv2d_output_size(const ccnn_conv2d_params *p, int *out_h, int *out_w);
/* The checks every conv call makes, saying what is wrong. CCNN_OK: valid.
 * CCNN_ESHAPE: groups does not divide C and K, or the dilated kernel is
 * larger than the padded input (the calls return CCNN_EINVAL for these).
 * CCNN_EINVAL: p is NULL, a size is not positive, or a stride, dilation,
 * groups or padding is negative. CCNN_EOVERFLOW: a tensor too large to
 * address. On error the message (no "conv:" and no newline; stride,
 * dilation and groups 0 shown as 1) is written to err, the caller's buffer
 * of errlen bytes, cut to fit and terminated; err may be NULL. */
int ccnn_conv2d_check(const ccnn_conv2d_params *p, char *err, size_t errlen);

/* y[N,K,P,Q] = conv(x, w) + bias. bias may be NULL. */
int ccnn_conv2d_forward(const ccnn_conv2d_params *p, const float *x, const float *w,
                        const float *bias /* may be NULL */, float *y);
/* dx[N,C,H,W] = dL/dx given dy = dL/dy. Overwrites dx. */
int ccnn_conv2d_backward_data(const ccnn_conv2d_params *p, const float *dy, const float *w, float *dx);
/* dw[K,C/g,R,S] = dL/dw, dbias[K] = dL/dbias (dbias may be NULL). Overwrites both. */
int ccnn_conv2d_backward_weights(const ccnn_conv2d_params *p, const float *x, const float *dy,
                                 float *dw, float *dbias /* may be NULL */);

/* A workspace: the scratch memory of the fast path (packing buffers, partial
 * sums), kept from call to call so that repeated calls - a training loop -
 * do not allocate. Optional: the calls above allocate and free their own.
 * The *_ws calls grow it as needed; results are the same bits with or
 * without it. One workspace serves one call at a time. Create and free it
 * with these two; free(NULL) is a no-op. */
typedef struct ccnn_conv2d_workspace ccnn_conv2d_workspace;
ccnn_conv2d_workspace *ccnn_conv2d_workspace_create(void); /* NULL when out of memory */
void ccnn_conv2d_workspace_free(ccnn_conv2d_workspace *ws);
/* The calls above with a workspace (ws may be NULL: then they allocate). */
int ccnn_conv2d_forward_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p, const float *x,
                           const float *w, const float *bias, float *y);
int ccnn_conv2d_backward_data_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p,
                                 const float *dy, const float *w, float *dx);
int ccnn_conv2d_backward_weights_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p,
                                    const float *x, const float *dy, float *dw, float *dbias);

/* The reference implementation: plain loops written from docs/backprop.md.
 * Same contract as above; slow; the executable specification. */
int ccnn_conv2d_forward_ref(const ccnn_conv2d_params *p, const float *x, const float *w,
                            const float *bias, float *y);
int ccnn_conv2d_backward_data_ref(const ccnn_conv2d_params *p, const float *dy, const float *w, float *dx);
int ccnn_conv2d_backward_weights_ref(const ccnn_conv2d_params *p, const float *x, const float *dy,
                                     float *dw, float *dbias);

/* Which implementation ccnn_conv2d_* uses. The default is CCNN_CONV_FAST;
 * the environment variable CCNN_CONV=ref|fast sets it at start-up. */
typedef enum { CCNN_CONV_FAST = 0, CCNN_CONV_REF = 1 } ccnn_conv_impl;
void ccnn_conv2d_set_impl(ccnn_conv_impl impl);
ccnn_conv_impl ccnn_conv2d_get_impl(void);

/* SIMD level of the kernels, chosen at run time: the best the CPU runs
 * (x86-64: AVX-512, else AVX2 with FMA, else scalar; ARM64: NEON, which
 * every ARMv8-A CPU has). CCNN_ISA=scalar|avx2|avx512|neon in the
 * environment forces another level the CPU runs. Levels differ in rounding
 * (FMA or not); each is deterministic. */
typedef enum {
    CCNN_ISA_SCALAR = 0, /* portable C: every CPU */
    CCNN_ISA_AVX2 = 1,
    CCNN_ISA_AVX512 = 2,
    CCNN_ISA_NEON = 3,
    CCNN_ISA_COUNT /* one past the last level, to iterate over them */
} ccnn_isa;
/* 1 if this build's kernels for the level run on this CPU, else 0. */
int ccnn_isa_runs(ccnn_isa isa);
/* Returns CCNN_EINVAL if the CPU lacks the level asked for. */
int ccnn_set_isa(ccnn_isa isa);
ccnn_isa ccnn_get_isa(void);
const char *ccnn_isa_name(ccnn_isa isa);


/* ======================================================================== */
/* Networks                                                                  */
/* ======================================================================== */
/* A network is a list of layers in evaluation order. Each layer reads the
 * previous layer's output, or the outputs of the layers it names (so residual
 * blocks and concatenations can be written), and the last layer is the loss.
 * Shapes are per sample (C x H x W); the batch size is given at run time. */

#define CCNN_NAME_MAX 32   /* layer names, including the terminating 0 */
#define CCNN_MAX_INPUTS 4  /* inputs of one layer */
#define CCNN_MAX_CHANNELS 16 /* input normalisation: channels with their own mean/std */
#define CCNN_MAX_LAYERS 4096 /* layers of one network */

typedef enum ccnn_layer_type {
    CCNN_LAYER_CONV = 1,      /* 2-D convolution, every option of the op */
    CCNN_LAYER_DECONV,        /* transposed convolution */
    CCNN_LAYER_DENSE,         /* fully connected; flattens its input */
    CCNN_LAYER_RELU,
    CCNN_LAYER_LEAKY_RELU,
    CCNN_LAYER_SIGMOID,
    CCNN_LAYER_TANH,
    CCNN_LAYER_MAXPOOL,
    CCNN_LAYER_AVGPOOL,       /* padding counts as zeros in the average (count_include_pad) */
    CCNN_LAYER_GLOBAL_AVGPOOL,
    CCNN_LAYER_BATCHNORM,     /* per channel; batch statistics in training */
    CCNN_LAYER_DROPOUT,       /* inverted dropout; identity in evaluation */
    CCNN_LAYER_FLATTEN,
    CCNN_LAYER_ADD,           /* element-wise sum of its inputs (residual) */
    CCNN_LAYER_CONCAT,        /* concatenation along channels */
    CCNN_LAYER_SOFTMAX,       /* softmax + cross-entropy loss, mean over the batch; must be last */
    CCNN_LAYER_TYPE_COUNT
} ccnn_layer_type;

typedef enum ccnn_init { CCNN_INIT_HE = 0, CCNN_INIT_XAVIER = 1 } ccnn_init;

/* What a layer is. Zero means "the default" for every field, so a spec can
 * be written with designated initialisers naming only what differs. */
typedef struct ccnn_layer_spec {
    ccnn_layer_type type;
    char name[CCNN_NAME_MAX];      /* "" : named <type><position> */
    int n_inputs;                  /* 0 : the previous layer */
    char inputs[CCNN_MAX_INPUTS][CCNN_NAME_MAX]; /* layer names; "input" is the net input */
    int filters;                   /* conv, deconv: output channels; dense: outputs */
    int size_h, size_w;            /* kernel of conv, deconv, maxpool, avgpool */
    int stride_h, stride_w;        /* 0 : 1 for conv/deconv, the kernel size for pools */
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w;    /* 0 : 1 */
    int groups;                    /* 0 : 1 */
    int output_pad_h, output_pad_w;/* deconv: extra rows/columns at the bottom/right */
    int no_bias;                   /* conv, deconv, dense: 1 to leave the bias out */
    ccnn_init init;                /* conv, deconv, dense weights */
    float slope;                   /* leaky_relu: 0 : 0.01 */
    float rate;                    /* dropout probability of zeroing, 0 <= rate < 1 */
    float eps, momentum;           /* batchnorm: 0 : 1e-5 and 0.1 (PyTorch's meaning) */
} ccnn_layer_spec;

/* The input of a network and how raw pixels are normalised before it:
 * value = (pixel / 255 - mean[c]) / std[c]. */
typedef struct ccnn_input_spec {
    int c, h, w;
    float mean[CCNN_MAX_CHANNELS], std[CCNN_MAX_CHANNELS]; /* std 0 : 1 */
} ccnn_input_spec;

typedef enum ccnn_optimizer_type { CCNN_OPT_SGD = 0, CCNN_OPT_ADAM = 1, CCNN_OPT_ADAMW = 2 } ccnn_optimizer_type;
typedef enum ccnn_schedule { CCNN_SCHED_CONSTANT = 0, CCNN_SCHED_STEP = 1, CCNN_SCHED_COSINE = 2 } ccnn_schedule;

/* How a network is trained; part of a network file (its `train` line) and
 * of a model file. */
typedef struct ccnn_train_config {
    ccnn_optimizer_type optimizer;
    float lr;                      /* learning rate */
    float momentum;                /* SGD */
    int nesterov;                  /* SGD */
    float weight_decay;            /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, adam_eps;  /* Adam, AdamW */
    ccnn_schedule schedule;
    int step_epochs;               /* step schedule: multiply lr by gamma every step_epochs */
    float gamma;
    int epochs, batch;
    int augment_crop;              /* random crop after padding by this many pixels (0: off) */
    int augment_flip;              /* random horizontal flip */
    uint64_t seed;
} ccnn_train_config;

/* The defaults a network file starts from: Adam, lr 1e-3, batch 64, 2 epochs,
 * betas 0.9/0.999, eps 1e-8, constant schedule, seed 1. */
ccnn_train_config ccnn_train_config_default(void);

typedef struct ccnn_net ccnn_net;

/* Per-layer description, for `ccnn info` and for programs. */
typedef struct ccnn_layer_info {
    const char *name, *type;       /* owned by the net */
    int c, h, w;                   /* output shape per sample */
    size_t params;                 /* trainable parameters */
    double flops;                  /* forward FLOPs per sample (multiply-add = 2) */
} ccnn_layer_info;

/* Creating. ccnn_net_create makes an empty network with the given input;
 * ccnn_net_add appends a layer and checks at once that it fits the layers
 * before it (on error the net is unchanged and err says why).
 * err may be NULL; errlen is its size. The net owns all its memory;
 * ccnn_net_free(NULL) is a no-op. */
int ccnn_net_create(ccnn_net **out, const ccnn_input_spec *input);
int ccnn_net_add(ccnn_net *net, const ccnn_layer_spec *spec, char *err, size_t errlen);
void ccnn_net_free(ccnn_net *net);

/* Network files (docs/netfile.md). Errors are reported as "FILE:LINE: what".
 * `filename` only labels messages. */
int ccnn_net_parse(const char *text, const char *filename, ccnn_net **out,
                   char *err, size_t errlen);
int ccnn_net_load_file(const char *path, ccnn_net **out, char *err, size_t errlen);
/* The network as network-file text, which ccnn_net_parse reads back to the
 * same network. *text is malloc'ed; the caller frees it. */
int ccnn_net_to_text(const ccnn_net *net, char **text);

ccnn_train_config *ccnn_net_train_config(ccnn_net *net); /* owned by the net */
ccnn_input_spec *ccnn_net_input(ccnn_net *net);          /* owned by the net */
int ccnn_net_num_layers(const ccnn_net *net);
int ccnn_net_layer_info(const ccnn_net *net, int i, ccnn_layer_info *info);
int ccnn_net_num_classes(const ccnn_net *net);           /* outputs of the last layer */

/* Parameters: every trainable parameter of the net lives in one contiguous
 * array (and its gradient in another), layer after layer. The buffers are
 * owned by the net. */
size_t ccnn_net_num_params(const ccnn_net *net);
float *ccnn_net_params(ccnn_net *net);
float *ccnn_net_grads(ccnn_net *net);
/* Non-trained state (batch-norm running statistics), likewise contiguous. */
size_t ccnn_net_num_state(const ccnn_net *net);
float *ccnn_net_state(ccnn_net *net);
/* Named tensors for model files: index i over all parameter and state
 * tensors, e.g. "conv1.weight" with its shape. */
typedef struct ccnn_tensor_info {
    const char *name;              /* owned by the net */
    int ndim, dims[4];
    float *data;                   /* points into the params or state array */
    int is_state;
} ccnn_tensor_info;
int ccnn_net_num_tensors(const ccnn_net *net);
int ccnn_net_tensor(ccnn_net *net, int i, ccnn_tensor_info *info);
/* The tensor called `name` ("conv1.weight"); CCNN_ENOTFOUND if none. */
int ccnn_net_find_tensor(ccnn_net *net, const char *name, ccnn_tensor_info *info);

/* Memory a network needs, estimated from its shapes alone (nothing is
 * allocated): what the net, a trainer and the layers' buffers take at a
 * batch size, in bytes. */
typedef struct ccnn_memory_estimate {
    uint64_t params;               /* parameters, their gradients, non-trained state */
    uint64_t optimizer;            /* a trainer's optimizer state (two moments a parameter) */
    uint64_t activations;          /* outputs and their gradients, layer buffers, input batch */
    uint64_t total;                /* the sum */
} ccnn_memory_estimate;
int ccnn_net_memory(const ccnn_net *net, int batch, ccnn_memory_estimate *m);

/* The memory limit, in bytes: ccnn_net_parse (and so model loading) refuses
 * a network whose parameters exceed it before allocating them, and a forward
 * pass refuses a batch whose activations would (CCNN_ELIMIT). Default: the
 * environment variable CCNN_MEMORY_LIMIT (bytes, or with a K, M, G or T
 * suffix, powers of 1024), else 3/4 of the physical memory.
 * ccnn_set_memory_limit(0) returns to the default. */
uint64_t ccnn_memory_limit(void);
void ccnn_set_memory_limit(uint64_t bytes);
/* "12.3 MB"-style text for a byte count (powers of 1000), into buf. */
const char *ccnn_format_bytes(uint64_t bytes, char *buf, size_t len);

/* Initialise the weights (He or Xavier normal, per layer spec; biases 0;
 * batch norm scale 1, shift 0) from a seed. Same seed, same numbers. */
int ccnn_net_init(ccnn_net *net, uint64_t seed);

/* Running. x is batch x C x H x W, already normalised (see ccnn_normalize).
 * train != 0: batch statistics and dropout, and what backward needs is kept;
 * `step` seeds the dropout masks (same step, same masks).
 * Batches larger than any before grow the activation buffers once. */
int ccnn_net_forward(ccnn_net *net, const float *x, int batch, int train, uint64_t step);
/* The output of the last layer (class probabilities for a softmax net):
 * batch x classes, owned by the net, valid until the next forward. */
const float *ccnn_net_output(const ccnn_net *net);
/* Mean cross-entropy of the last forward against labels (softmax nets). */
int ccnn_net_loss(const ccnn_net *net, const uint8_t *labels, double *loss);
/* Gradients of the mean loss for the last train forward: overwrites
 * ccnn_net_grads(); dx (may be NULL) receives dL/dx. */
int ccnn_net_backward(ccnn_net *net, const uint8_t *labels, float *dx);

/* Finite-difference check of every parameter (up to max_checks of them,
 * spread evenly; 0 : all) and of the input, on a random batch. Writes the
 * worst error relative to the largest gradient of its tensor; on success,
 * err (if given) says where it was. */
int ccnn_net_gradcheck(ccnn_net *net, int batch, int max_checks, uint64_t seed,
                       double *worst_rel_err, char *err, size_t errlen);

/* ======================================================================== */
/* Data sets                                                                 */
/* ======================================================================== */
/* Images are kept as bytes (0..255), N x C x H x W, labels as bytes. */
typedef struct ccnn_dataset {
    int n, c, h, w;
    int n_classes;
    uint8_t *images;
    uint8_t *labels;
    char class_names[16][CCNN_NAME_MAX];   /* may be empty strings */
} ccnn_dataset;

/* IDX files (MNIST, Fashion-MNIST), gzip-compressed or plain. */
int ccnn_dataset_load_idx(ccnn_dataset **out, const char *images_path, const char *labels_path,
                          char *err, size_t errlen);
/* CIFAR-10 binary batches (3073-byte records); paths[n_paths]. */
int ccnn_dataset_load_cifar10(ccnn_dataset **out, const char *const *paths, int n_paths,
                              char *err, size_t errlen);
/* A data directory: Fashion-MNIST/MNIST IDX files (train-images-idx3-ubyte[.gz], ...)
 * or CIFAR-10 (data_batch_1..5.bin, test_batch.bin). */
int ccnn_dataset_load_dir(const char *dir, ccnn_dataset **train, ccnn_dataset **test,
                          char *err, size_t errlen);
void ccnn_dataset_free(ccnn_dataset *ds);
/* Per-channel mean and standard deviation of pixel/255 over the data set. */
void ccnn_dataset_stats(const ccnn_dataset *ds, float *mean, float *std);

/* Fill x (count x C x H x W floats) with the normalised images idx[0..count-1].
 * CCNN_ESHAPE if the spec's C x H x W is not the data set's (or C is over
 * CCNN_MAX_CHANNELS), CCNN_EINVAL for an index outside 0..n-1 or a NULL
 * argument; then x is left as it was. */
int ccnn_normalize(const ccnn_dataset *ds, const ccnn_input_spec *in, const int *idx, int count,
                   float *x);
/* Augment a normalised batch in place: random crop after zero padding by
 * `pad`, and horizontal flip with probability 1/2 if `flip`. Draws come from
 * (seed, step), so the result is reproducible. CCNN_EINVAL (x untouched) for
 * a NULL x, sizes <= 0 or pad < 0. */
int ccnn_augment(float *x, int count, int c, int h, int w, int pad, int flip,
                 uint64_t seed, uint64_t step);

/* ======================================================================== */
/* Images                                                                    */
/* ======================================================================== */
/* Image files, told apart by their first bytes: PNG (decoded by libpng),
 * JPEG (libjpeg-turbo; grayscale, YCbCr and RGB, not CMYK) and PBM/PGM/PPM
 * (P1-P6, maxval up to 65535; the library's own reader). Nothing else.
 * Only the header is read before the size is checked: an image of more than
 * max_pixels pixels (0: CCNN_IMAGE_MAX_PIXELS) is refused with CCNN_ELIMIT,
 * one with a zero width or height with CCNN_EFORMAT. */
#define CCNN_IMAGE_MAX_PIXELS 33554432ull  /* 32 Mi pixels, e.g. 8192 x 4096 */

typedef struct ccnn_image_info {
    int w, h;                      /* as stored in the file */
    int channels;                  /* decoded: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    const char *format;            /* "PNG", "JPEG", "PNM"; static */
} ccnn_image_info;

/* Decodes the image at `path` into out: c x h x w bytes, planar (C x H x W),
 * resized by bilinear interpolation (pixel centres aligned) and converted to
 * c channels: 1 takes gray (luma of colour), 2 gray+alpha, 3 RGB (gray
 * repeated), 4 RGBA (alpha 255 where absent); alpha is otherwise dropped.
 * Other c: CCNN_ESHAPE. Memory: two rows of the image at c bytes a pixel
 * plus the decoder's own (libpng holds a whole interlaced PNG, libjpeg-turbo
 * a progressive JPEG's coefficients), all bounded by max_pixels.
 * info (may be NULL) receives the file's size and format. On error out is
 * untouched and err names the file. */
int ccnn_image_load(const char *path, int c, int h, int w, uint64_t max_pixels, uint8_t *out,
                    ccnn_image_info *info, char *err, size_t errlen);

/* ======================================================================== */
/* Training                                                                  */
/* ======================================================================== */
typedef struct ccnn_trainer ccnn_trainer;

typedef struct ccnn_epoch_stats {
    int epoch;                     /* 1-based */
    double loss, train_acc, test_acc, seconds, images_per_s, lr;
} ccnn_epoch_stats;

/* Called after every batch; return non-zero to stop there (the epoch then
 * returns CCNN_EINTR, as after ccnn_trainer_request_stop). */
typedef int (*ccnn_progress_fn)(void *user, int epoch, int batch, int n_batches,
                                double loss, double images_per_s);

/* The trainer owns the optimizer state, the step counter and the batch
 * buffers; it does not own the net or the data sets. */
int ccnn_trainer_create(ccnn_trainer **out, ccnn_net *net);
void ccnn_trainer_free(ccnn_trainer *tr);
/* One epoch over `train` (shuffled from the seed and the epoch number), or
 * the rest of one stopped mid-epoch (ccnn_trainer_epoch_step).
 * Returns CCNN_ENONFINITE if the loss or a gradient becomes NaN or infinite;
 * then *bad_step (may be NULL) says at which step, and the parameters are
 * left as they were after the last good step. CCNN_EINTR: stopped on
 * request after a step (stats cover the steps run). */
int ccnn_trainer_epoch(ccnn_trainer *tr, const ccnn_dataset *train, ccnn_epoch_stats *stats,
                       ccnn_progress_fn progress, void *user, uint64_t *bad_step);
int ccnn_trainer_epochs_done(const ccnn_trainer *tr);
/* The optimizer state (e.g. Adam's two moments), as named tensors for model
 * files, and the counters (epochs done, steps). */
int ccnn_trainer_num_tensors(const ccnn_trainer *tr);
int ccnn_trainer_tensor(ccnn_trainer *tr, int i, ccnn_tensor_info *info);
void ccnn_trainer_get_counters(const ccnn_trainer *tr, int *epochs_done, uint64_t *steps);
void ccnn_trainer_set_counters(ccnn_trainer *tr, int epochs_done, uint64_t steps);

/* ---- data-parallel training (docs/distributed.md) -------------------------
 * Each step's batch is cut into chunks of CCNN_CHUNK images (the last one may
 * be shorter); every weight gradient is computed chunk by chunk and the chunk
 * gradients are added in chunk order, so the sum is the same whichever
 * process computed which chunk. With a communicator of N processes, process
 * r takes the r-th contiguous share of each step's chunks; batch-norm
 * statistics are those of the whole batch, dropout and augmentation draw from
 * each image's place in the batch, and the model's bits are those of the
 * single-process run at any N. Every step needs at least N chunks
 * (ccnn_trainer_epoch returns CCNN_EINVAL otherwise). */
#define CCNN_CHUNK 8

/* Train data-parallel over the MPI communicator *comm (a pointer to an
 * MPI_Comm, so this header needs no mpi.h; see ccnn_trainer_set_mpi_comm
 * below). The trainer duplicates it; every process of it must make the same
 * trainer calls with the same net, data and configuration. comm NULL: back
 * to one process. CCNN_EINVAL in a build without MPI; CCNN_EDIST if MPI
 * fails. The library never aborts the job: on an error the caller decides
 * (a command line program would call MPI_Abort). */
int ccnn_trainer_set_comm(ccnn_trainer *tr, const void *comm);
/* This process's rank and the number of processes (0 and 1 without one). */
void ccnn_trainer_get_rank(const ccnn_trainer *tr, int *rank, int *size);
/* Ask the trainer to stop after the step in progress (async-signal-safe:
 * only sets a flag). ccnn_trainer_epoch then returns CCNN_EINTR with the
 * state after that step (a model saved then resumes mid-epoch exactly).
 * Under a communicator, the processes agree on the step to stop after: a
 * request on any one of them stops all. */
void ccnn_trainer_request_stop(ccnn_trainer *tr);
/* Steps of the current epoch already done (non-zero after CCNN_EINTR);
 * model files keep it as "ccnn.epoch_step". */
uint64_t ccnn_trainer_epoch_step(const ccnn_trainer *tr);
void ccnn_trainer_set_epoch_step(ccnn_trainer *tr, uint64_t step);
/* Evaluation split over the trainer's processes (each evaluates its share of
 * ds; the counts are combined), else ccnn_evaluate. Same results as it. */
int ccnn_trainer_evaluate(ccnn_trainer *tr, const ccnn_dataset *ds, int batch, double *accuracy,
                          double *loss, int *confusion);
/* Whether every process holds the same parameters, state and optimizer
 * state (a hash compared across processes): CCNN_OK, or CCNN_EDIST. The
 * trainer checks it after every epoch. */
int ccnn_trainer_check_replicas(ccnn_trainer *tr);

/* Evaluation: accuracy and confusion[true * classes + predicted] (may be NULL;
 * classes^2 ints). */
int ccnn_evaluate(ccnn_net *net, const ccnn_dataset *ds, int batch, double *accuracy,
                  double *loss, int *confusion);

/* ======================================================================== */
/* Model files (safetensors; the network text in the metadata)              */
/* ======================================================================== */
/* Writes atomically (a temporary file in the same directory, then rename):
 * a failure never leaves a broken file at `path`. tr may be NULL (no
 * optimizer state). `extra_json` (may be NULL) is stored as metadata
 * "ccnn.metrics". */
int ccnn_model_save(const char *path, ccnn_net *net, ccnn_trainer *tr,
                    const char *extra_json, char *err, size_t errlen);
/* Reads a model: builds the net from its stored text and loads every tensor,
 * checking names, shapes and sizes. If tr is not NULL, a trainer for the net
 * is created with the stored optimizer state and counters (*tr owned by the
 * caller). */
int ccnn_model_load(const char *path, ccnn_net **net, ccnn_trainer **tr,
                    char *err, size_t errlen);
/* A metadata string of a model file ("ccnn.net", "ccnn.metrics", ...).
 * *value is malloc'ed (caller frees); CCNN_ENOTFOUND if the key is absent. */
int ccnn_model_read_meta(const char *path, const char *key, char **value, char *err, size_t errlen);
/* Loads the tensors of a model file into an existing net of the same shape. */
int ccnn_model_load_weights(const char *path, ccnn_net *net, char *err, size_t errlen);

/* ======================================================================== */
/* Reports                                                                   */
/* ======================================================================== */
/* Writes the metrics of every epoch as CSV, and an HTML page with SVG plots of
 * loss and accuracy per epoch and the confusion matrix, each atomically (as
 * ccnn_model_save). On failure err (may be NULL) says why, naming the file. */
int ccnn_report_write_csv(const char *path, const ccnn_epoch_stats *epochs, int n_epochs, char *err,
                          size_t errlen);
int ccnn_report_write_html(const char *path, const char *title, const ccnn_epoch_stats *epochs,
                           int n_epochs, const int *confusion, int n_classes,
                           const char (*class_names)[CCNN_NAME_MAX], char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

/* With mpi.h included before this header: the typed form. */
#if defined(MPI_VERSION) && !defined(CCNN_NO_MPI_WRAPPER)
static inline int ccnn_trainer_set_mpi_comm(ccnn_trainer *tr, MPI_Comm comm)
{
    return ccnn_trainer_set_comm(tr, &comm);
}
#endif
#endif /* CCNN_H */
