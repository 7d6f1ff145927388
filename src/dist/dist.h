/* dist.h - the data-parallel trainer's communication (src/dist/dist.c):
 * MPI behind a small interface, so the engine and the layers need no mpi.h
 * and a build without MPI compiles the same callers (dist is then always
 * NULL and these functions are never reached).
 *
 * Every function returns CCNN_OK or CCNN_EDIST and is called by every
 * process of the communicator in the same order (collectives), except
 * where said. */
#ifndef CCNN_DIST_H
#define CCNN_DIST_H
#include "ccnn.h"
#include <stddef.h>
#include <stdint.h>

typedef struct ccnn_dist ccnn_dist;

/* The step in progress, set by the trainer before each forward. Process r
 * holds images [first[r], first[r] + count[r]) of a batch of global_batch. */
typedef struct ccnn_dist_step {
    int global_batch;
    int first;                 /* this process's first image */
    int count;                 /* its images */
} ccnn_dist_step;

/* comm points to an MPI_Comm, which is duplicated (errors then return
 * instead of aborting the job). */
int ccnn_dist_create(ccnn_dist **out, const void *comm);
void ccnn_dist_free(ccnn_dist *d);
int ccnn_dist_rank(const ccnn_dist *d);
int ccnn_dist_size(const ccnn_dist *d);

/* Process r's share of a batch of `batch` images cut into CCNN_CHUNK-image
 * chunks: chunks [r*C/N, (r+1)*C/N). CCNN_EINVAL if some process would get
 * no chunk. Local, no communication. */
int ccnn_dist_share(int batch, int rank, int size, int *first, int *count);
/* Sets the step: every process's share of `batch`. */
int ccnn_dist_set_step(ccnn_dist *d, int batch);
const ccnn_dist_step *ccnn_dist_get_step(const ccnn_dist *d);

/* global[global_batch * per_image] = the per-image rows of all processes in
 * image order (each process gives its count * per_image floats). */
int ccnn_dist_allgather(ccnn_dist *d, const float *local, size_t per_image, float *global);

/* The gradient of one parameter range, summed over the step's chunks in
 * chunk order across the processes: chunks[k * stride + i], k < n_local,
 * are this process's chunk gradients (chunk 0 is overwritten: it carries
 * the running sum along the chain of processes in rank order); the sum
 * lands in out[i], i < len, on every process once ccnn_dist_wait returns.
 * `tag` tells ranges apart (the layer index). Starts the exchange and
 * returns; the buffers must stay untouched until ccnn_dist_wait. */
int ccnn_dist_reduce_chunks(ccnn_dist *d, float *chunks, size_t stride, int n_local, float *out,
                            size_t len, int tag);
/* Called by a process other than the first before a layer's chunked
 * backward: either it waits here for the sum of the chunks before its own
 * and *sum is where the layer then adds its chunks straight on (chunks or
 * out; reduce_chunks is then called with n_local = 1 and sends it on), or
 * *sum is NULL and the chunks are kept apart as above. Both give the same
 * bits. Waiting idles it while the process before finishes the layer;
 * keeping apart costs a zeroed buffer per chunk and a pass adding them -
 * for a large layer (the default net's 3136 x 128 dense) that is the
 * dearer. By default layers of over 2^18 floats wait (dist.c); the choice
 * is local: the messages are the same either way. */
int ccnn_dist_begin_chunks(ccnn_dist *d, float *chunks, float *out, size_t len, int tag, float **sum);
/* Completes every reduce_chunks started since the last wait. */
int ccnn_dist_wait(ccnn_dist *d);

/* Sums of n doubles over the processes, added in rank order (so the same
 * bits on every process). */
int ccnn_dist_sum(ccnn_dist *d, double *v, int n);
/* *out = the smallest v over the processes (the worst CCNN_E* code). */
int ccnn_dist_min(ccnn_dist *d, int v, int *out);
/* 1 in *any if `flag` is non-zero on any process. */
int ccnn_dist_any(ccnn_dist *d, int flag, int *any);
/* *same = 1 if h is the same on every process. */
int ccnn_dist_same(ccnn_dist *d, uint64_t h, int *same);
#endif
