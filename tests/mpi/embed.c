/* embed.c - a program that embeds ccnn and trains data-parallel through the
 * library alone (no command line): mpi.h before ccnn.h gives the typed
 * ccnn_trainer_set_mpi_comm. Trains a small net for 2 epochs on synthetic
 * data and prints, on rank 0, a hash of the parameters, state and optimizer
 * state and the test accuracy: test_dist.c runs it under mpirun at several
 * N and compares the lines. Exit 0, or 1 with a message. */
#include <mpi.h>
#include "ccnn.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char net_text[] =
    "input 1x10x10\nconv filters=4 size=3 pad=1\nbatchnorm\nrelu\nmaxpool size=2\n"
    "dense units=16\nbatchnorm\nrelu\ndropout rate=0.25\ndense units=4\nsoftmax\n"
    "train optimizer=adam lr=0.01 batch=48 crop=1 flip=1 seed=9\n";

static ccnn_dataset *data(int n, uint64_t seed)
{
    ccnn_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n; ds->c = 1; ds->h = 10; ds->w = 10; ds->n_classes = 4;
    ds->images = malloc((size_t)n * 100);
    ds->labels = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int c = (int)(seed >> 62);
        ds->labels[i] = (uint8_t)c;
        for (int p = 0; p < 100; p++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            ds->images[i * 100 + p] = (uint8_t)((seed >> 57) + (p / 10 == 2 * c + 1 ? 100 : 0));
        }
    }
    return ds;
}

static uint64_t fnv(uint64_t h, const float *a, size_t n)
{
    const unsigned char *b = (const unsigned char *)a;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, rc;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ccnn_net *net = NULL;
    ccnn_trainer *tr = NULL;
    char err[256];
    ccnn_dataset *train = data(232, 1), *test = data(60, 2); /* steps of 48 and a last one of 40 */
    if ((rc = ccnn_net_parse(net_text, "embed", &net, err, sizeof err)) || (rc = ccnn_net_init(net, 9)) ||
        (rc = ccnn_trainer_create(&tr, net)) || (rc = ccnn_trainer_set_mpi_comm(tr, MPI_COMM_WORLD)))
        goto fail;
    for (int e = 0; e < 2; e++)
        if ((rc = ccnn_trainer_epoch(tr, train, NULL, NULL, NULL, NULL))) goto fail;
    double acc = 0;
    if ((rc = ccnn_trainer_evaluate(tr, test, 16, &acc, NULL, NULL)) || (rc = ccnn_trainer_check_replicas(tr)))
        goto fail;
    uint64_t h = fnv(0xcbf29ce484222325ULL, ccnn_net_params(net), ccnn_net_num_params(net));
    h = fnv(h, ccnn_net_state(net), ccnn_net_num_state(net));
    for (int i = 0; i < ccnn_trainer_num_tensors(tr); i++) {
        ccnn_tensor_info t;
        ccnn_trainer_tensor(tr, i, &t);
        h = fnv(h, t.data, (size_t)t.dims[0] * t.dims[1] * t.dims[2] * t.dims[3]);
    }
    if (rank == 0) printf("model %016" PRIx64 " accuracy %.6f\n", h, acc);
    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    ccnn_dataset_free(train);
    ccnn_dataset_free(test);
    MPI_Finalize();
    return 0;
fail:
    fprintf(stderr, "embed (rank %d): %s\n", rank, rc == CCNN_OK ? err : ccnn_strerror(rc));
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}
