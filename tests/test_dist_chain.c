/* test_dist_chain.c - the two ways a later process of the gradient chain
 * may work (src/dist/dist.h, ccnn_dist_begin_chunks): keep its chunk
 * gradients apart until the sum before them arrives, or wait for that sum
 * and add its chunks straight onto it. Both must give the single-process
 * model bit for bit, for the last process (N = 2) and a middle one (N = 3),
 * and so must the timed choice between them and the default (by size);
 * CCNN_DIST_CHAIN forces one way (an unknown value fails the run, which shows the setting reaches the
 * processes). Skipped without MPI or mpirun. */
#include "test.h"
#include <stdlib.h>
#include <string.h>

#define MPIRUN "ASAN_OPTIONS=detect_leaks=0 timeout 120 mpirun --allow-run-as-root --oversubscribe"

#ifdef CCNN_MPI /* the helpers of the test below, which needs MPI */
/* Every tensor of the net and of the trainer (optimizer state) equal. */
static int same_tensors(const char *a, const char *b)
{
    ccnn_net *na = NULL, *nb = NULL;
    ccnn_trainer *ta = NULL, *tb = NULL;
    char err[200];
    int same = !ccnn_model_load(a, &na, &ta, err, sizeof err) && !ccnn_model_load(b, &nb, &tb, err, sizeof err);
    for (int i = 0; same && i < ccnn_net_num_tensors(na); i++) {
        ccnn_tensor_info x, y;
        ccnn_net_tensor(na, i, &x);
        ccnn_net_tensor(nb, i, &y);
        same = !memcmp(x.data, y.data, (size_t)x.dims[0] * x.dims[1] * x.dims[2] * x.dims[3] * sizeof(float));
    }
    for (int i = 0; same && i < ccnn_trainer_num_tensors(ta); i++) {
        ccnn_tensor_info x, y;
        ccnn_trainer_tensor(ta, i, &x);
        ccnn_trainer_tensor(tb, i, &y);
        same = !memcmp(x.data, y.data, (size_t)x.dims[0] * x.dims[1] * x.dims[2] * x.dims[3] * sizeof(float));
    }
    ccnn_trainer_free(ta);
    ccnn_trainer_free(tb);
    ccnn_net_free(na);
    ccnn_net_free(nb);
    return same;
}

/* A large dense layer (its chain is the one whose way matters) among
 * small ones, batch norm in between (a synchronisation in every step). */
static const char net_text[] =
    "input 1x28x28 mean=0.2860 std=0.3530\n"
    "conv filters=8 size=3 pad=1\nbatchnorm\nrelu\nmaxpool size=2\n"
    "dense units=64\nrelu\ndense units=10\nsoftmax\n"
    "train optimizer=adam lr=0.002 batch=64 epochs=1 seed=3\n";

static char out_buf[1 << 16];
#endif

CCNN_TEST(dist_chain_ways_same_bits)
{
#ifndef CCNN_MPI
    printf("     skipped: this build has no MPI (make MPI=1 with libopenmpi-dev)\n");
#else
    if (test_sh(out_buf, sizeof out_buf, "command -v mpirun") != 0) {
        printf("     skipped: mpirun is missing (./scripts/install-deps.sh --mpi)\n");
        return;
    }
    const char *cli = test_cli_path();
    char dir[64] = "/tmp/ccnn_chain_XXXXXX", path[128], m[160];
    REQUIRE(mkdtemp(dir));
    test_write_idx(dir, "train", 296, 21, 0); /* 4 steps of 64, one of 40 (5 chunks) */
    test_write_idx(dir, "t10k", 50, 22, 0);
    snprintf(path, sizeof path, "%s/chain.net", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(net_text, f);
    fclose(f);
    int rc = test_sh(out_buf, sizeof out_buf, "%s train --net %s --data %s --out %s/ref.st --threads 1", cli, path, dir, dir);
    REQUIRE(rc == 0);
    snprintf(m, sizeof m, "%s/ref.st", dir);
    const char *ways[] = {"apart", "first", "timed", ""};
    for (int np = 2; np <= 3; np++)
        for (int w = 0; w < 4; w++) {
            char mw[160];
            snprintf(mw, sizeof mw, "%s/np%d_%d.st", dir, np, w);
            rc = test_sh(out_buf, sizeof out_buf, "CCNN_DIST_CHAIN=%s " MPIRUN " -x CCNN_DIST_CHAIN -np %d %s train "
                     "--net %s --data %s --out %s --threads 1", ways[w], np, cli, path, dir, mw);
            CHECK_MSG(rc == 0, "np %d way '%s': exit %d:\n%s", np, ways[w], rc, out_buf);
            CHECK_MSG(rc || same_tensors(m, mw), "np %d way '%s': not the single-process bits", np, ways[w]);
        }
    rc = test_sh(out_buf, sizeof out_buf, "CCNN_DIST_CHAIN=sideways " MPIRUN " -x CCNN_DIST_CHAIN -np 2 %s train "
             "--net %s --data %s --out %s/bad.st --threads 1", cli, path, dir, dir);
    CHECK_MSG(rc != 0 && strstr(out_buf, "cannot train data-parallel"), "an unknown CCNN_DIST_CHAIN was not refused:\n%s", out_buf);
    snprintf(m, sizeof m, "rm -rf '%s'", dir);
    test_sh(out_buf, sizeof out_buf, "%s", m);
#endif
}
