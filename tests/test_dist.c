/* test_dist.c - data-parallel training through the command, under mpirun
 * (docs/distributed.md): the model of N = 1, 2, 4 processes with 1 and 2
 * threads each is the single-process model bit for bit; a run resumed with
 * another N too; the TCP transport; a process killed mid-run ends the job
 * (no hang: a time limit) and leaves a loadable model; a corrupt data file
 * stops every process with one message. Skipped, with a note, when the
 * build has no MPI or mpirun is missing. The binary is build/ccnn or
 * $CCNN_CLI. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The reason to skip, or NULL when the MPI tests can run. */
static const char *skip_reason(void)
{
#ifndef CCNN_MPI
    return "this build has no MPI (make MPI=1 with libopenmpi-dev)";
#else
    char out[256];
    if (test_sh(out, sizeof out, "command -v mpirun") != 0) return "mpirun is missing (./scripts/install-deps.sh --mpi)";
    return NULL;
#endif
}

#define SKIP_UNLESS_MPI()                                                         \
    do { const char *why_ = skip_reason();                                        \
         if (why_) { printf("     skipped: %s\n", why_); return; } } while (0)

/* mpirun for root on few cores; ASan's leak report would count Open MPI's
 * own allocations, so it is off under mpirun. */
#define MPIRUN "ASAN_OPTIONS=detect_leaks=0 timeout 120 mpirun --allow-run-as-root --oversubscribe"

/* Every layer kind whose numbers a data-parallel step could change: conv
 * and dense weight gradients (chunked), batch norm 2-d and 1-d (statistics
 * of the whole batch), dropout and augmentation (drawn per image), and a
 * last step of 40 images (5 chunks) after 64-image steps. */
static const char tiny_net[] =
    "input 1x28x28 mean=0.2860 std=0.3530\n"
    "conv filters=6 size=3 pad=1\nbatchnorm\nrelu\nmaxpool size=2\n"
    "conv filters=8 size=3 pad=1 stride=2\nbatchnorm\nrelu\n"
    "dense units=24\nbatchnorm\nrelu\ndropout rate=0.3\ndense units=10\nsoftmax\n"
    "train optimizer=adam lr=0.002 batch=64 epochs=2 crop=2 flip=1 seed=7\n";

/* A fresh folder with data (296 training images: 4 steps of 64 and one of
 * 40) and the net. */
static void setup(char *dir, size_t len, int n_train, int truncate)
{
    snprintf(dir, len, "/tmp/ccnn_dist_XXXXXX");
    if (!mkdtemp(dir)) { dir[0] = 0; return; }
    test_write_idx(dir, "train", n_train, 11, truncate ? 5000 : 0);
    test_write_idx(dir, "t10k", 100, 12, 0);
    char path[300];
    snprintf(path, sizeof path, "%s/tiny.net", dir);
    FILE *f = fopen(path, "w");
    fputs(tiny_net, f);
    fclose(f);
}

static void cleanup(const char *dir)
{
    char out[64];
    test_sh(out, sizeof out, "rm -rf '%s'", dir);
}

/* Whether two model files hold the same bits in every tensor (network,
 * state, optimizer) and the same counters. */
static int same_model(const char *a, const char *b, char *why, size_t len)
{
    ccnn_net *na = NULL, *nb = NULL;
    ccnn_trainer *ta = NULL, *tb = NULL;
    char err[200];
    int same = 0;
    if (ccnn_model_load(a, &na, &ta, err, sizeof err) || ccnn_model_load(b, &nb, &tb, err, sizeof err)) {
        snprintf(why, len, "cannot load: %s", err);
        goto out;
    }
    int ea, eb;
    uint64_t sa, sb;
    ccnn_trainer_get_counters(ta, &ea, &sa);
    ccnn_trainer_get_counters(tb, &eb, &sb);
    if (ea != eb || sa != sb) { snprintf(why, len, "counters %d/%llu vs %d/%llu", ea, (unsigned long long)sa, eb, (unsigned long long)sb); goto out; }
    for (int i = 0; i < ccnn_net_num_tensors(na); i++) {
        ccnn_tensor_info x, y;
        ccnn_net_tensor(na, i, &x);
        ccnn_net_tensor(nb, i, &y);
        size_t n = (size_t)x.dims[0] * x.dims[1] * x.dims[2] * x.dims[3];
        if (memcmp(x.data, y.data, n * sizeof(float))) { snprintf(why, len, "tensor %s differs", x.name); goto out; }
    }
    for (int i = 0; i < ccnn_trainer_num_tensors(ta); i++) {
        ccnn_tensor_info x, y;
        ccnn_trainer_tensor(ta, i, &x);
        ccnn_trainer_tensor(tb, i, &y);
        size_t n = (size_t)x.dims[0] * x.dims[1] * x.dims[2] * x.dims[3];
        if (memcmp(x.data, y.data, n * sizeof(float))) { snprintf(why, len, "tensor %s differs", x.name); goto out; }
    }
    same = 1;
out:
    ccnn_trainer_free(ta);
    ccnn_trainer_free(tb);
    ccnn_net_free(na);
    ccnn_net_free(nb);
    return same;
}

static char out_buf[1 << 16];

CCNN_TEST(dist_same_bits_at_any_n)
{
    SKIP_UNLESS_MPI();
    char dir[64], ref[128], m[128], why[256];
    setup(dir, sizeof dir, 296, 0);
    REQUIRE(dir[0]);
    snprintf(ref, sizeof ref, "%s/ref.safetensors", dir);
    int rc = test_sh(out_buf, sizeof out_buf, "%s train --net %s/tiny.net --data %s --out %s --threads 1", test_cli_path(), dir, dir, ref);
    REQUIRE(rc == 0);
    const int nps[] = {1, 2, 4};
    for (int a = 0; a < 3; a++)
        for (int t = 1; t <= 2; t++) {
            snprintf(m, sizeof m, "%s/np%d_t%d.safetensors", dir, nps[a], t);
            rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np %d %s train --net %s/tiny.net --data %s --out %s --threads %d",
                    nps[a], test_cli_path(), dir, dir, m, t);
            CHECK_MSG(rc == 0, "np %d threads %d: exit %d:\n%s", nps[a], t, rc, out_buf);
            CHECK_MSG(nps[a] == 1 || strstr(out_buf, "data-parallel"), "np %d: not data-parallel:\n%s", nps[a], out_buf);
            CHECK_MSG(same_model(ref, m, why, sizeof why), "np %d threads %d: %s", nps[a], t, why);
        }
    /* 296 images: a last step of 5 chunks, so 6 processes cannot be exact */
    rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np 6 %s train --net %s/tiny.net --data %s --out %s/six.safetensors",
            test_cli_path(), dir, dir, dir);
    CHECK_MSG(rc != 0 && strstr(out_buf, "only 5 chunks"), "np 6: exit %d:\n%s", rc, out_buf);
    cleanup(dir);
}

CCNN_TEST(dist_resume_with_other_n_and_tcp)
{
    SKIP_UNLESS_MPI();
    char dir[64], ref[128], m[128], why[256];
    setup(dir, sizeof dir, 296, 0);
    REQUIRE(dir[0]);
    snprintf(ref, sizeof ref, "%s/ref.safetensors", dir);
    snprintf(m, sizeof m, "%s/m.safetensors", dir);
    int rc = test_sh(out_buf, sizeof out_buf, "%s train --net %s/tiny.net --data %s --out %s --epochs 3", test_cli_path(), dir, dir, ref);
    REQUIRE(rc == 0);
    /* one epoch on 2 processes over TCP, the second on 4, the third alone */
    rc = test_sh(out_buf, sizeof out_buf, MPIRUN " --mca btl tcp,self -np 2 %s train --net %s/tiny.net --data %s --out %s --epochs 1",
            test_cli_path(), dir, dir, m);
    CHECK_MSG(rc == 0, "tcp: exit %d:\n%s", rc, out_buf);
    rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np 4 %s train --resume %s --data %s --epochs 2", test_cli_path(), m, dir);
    CHECK_MSG(rc == 0 && strstr(out_buf, "resuming"), "resume on 4: exit %d:\n%s", rc, out_buf);
    rc = test_sh(out_buf, sizeof out_buf, "%s train --resume %s --data %s --epochs 3", test_cli_path(), m, dir);
    CHECK_MSG(rc == 0, "resume alone: exit %d:\n%s", rc, out_buf);
    CHECK_MSG(same_model(ref, m, why, sizeof why), "%s", why);
    cleanup(dir);
}

CCNN_TEST(dist_killed_process_ends_the_job)
{
    SKIP_UNLESS_MPI();
    char dir[64], m[128], why[256];
    setup(dir, sizeof dir, 296, 0);
    REQUIRE(dir[0]);
    snprintf(m, sizeof m, "%s/m.safetensors", dir);
    /* rank 1 is killed (SIGKILL) once the first epoch's model is written,
     * in the epochs after it, long before the 500 epochs end; `timeout` in
     * MPIRUN turns a hang into exit 124 */
    int rc = test_sh(out_buf, sizeof out_buf,
                MPIRUN " -np 2 sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then "
                "(i=0; while [ ! -f %s ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done; sleep 0.2; kill -9 $$) & fi; "
                "exec %s train --net %s/tiny.net --data %s --out %s --epochs 500 --threads 1'",
                m, test_cli_path(), dir, dir, m);
    CHECK_MSG(rc != 0 && rc != 124 && rc != -1, "exit %d:\n%s", rc, out_buf);
    CHECK_MSG(same_model(m, m, why, sizeof why), "the last model: %s", why);
    cleanup(dir);
}

CCNN_TEST(dist_corrupt_data_stops_all)
{
    SKIP_UNLESS_MPI();
    char dir[64];
    setup(dir, sizeof dir, 296, 1);
    REQUIRE(dir[0]);
    int rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np 2 %s train --net %s/tiny.net --data %s --out %s/m.safetensors",
                test_cli_path(), dir, dir, dir);
    CHECK_MSG(rc != 0 && rc != 124, "exit %d:\n%s", rc, out_buf);
    const char *first = strstr(out_buf, "ccnn train:");
    CHECK_MSG(first && strstr(out_buf, "train-images"), "no message naming the file:\n%s", out_buf);
    CHECK_MSG(first && !strstr(first + 1, "ccnn train:"), "the message more than once:\n%s", out_buf);
    char path[128];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(access(path, F_OK) != 0);
    cleanup(dir);
}

/* tests/mpi/embed.c: the library alone, the typed ccnn_trainer_set_mpi_comm;
 * the same model (hash) and accuracy at N = 1, 2, 3, 5, and the library
 * refuses 6 processes for a step of 5 chunks (CCNN_EINVAL, no hang). */
CCNN_TEST(dist_library_embedded)
{
    SKIP_UNLESS_MPI();
    char bin[512], first[256] = "";
    const char *c = test_cli_path(), *slash = strrchr(c, '/');
    snprintf(bin, sizeof bin, "%.*smpi_embed", slash ? (int)(slash - c + 1) : 0, c);
    REQUIRE(access(bin, X_OK) == 0);
    const int nps[] = {1, 2, 3, 5};
    for (int i = 0; i < 4; i++) {
        int rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np %d %s", nps[i], bin);
        CHECK_MSG(rc == 0 && !strncmp(out_buf, "model ", 6), "np %d: exit %d:\n%s", nps[i], rc, out_buf);
        if (i == 0) snprintf(first, sizeof first, "%.200s", out_buf);
        else CHECK_MSG(!strncmp(first, out_buf, 200), "np %d: %s, alone: %s", nps[i], out_buf, first);
    }
    int rc = test_sh(out_buf, sizeof out_buf, MPIRUN " -np 6 %s", bin);
    CHECK_MSG(rc != 0 && rc != 124 && strstr(out_buf, "invalid argument"), "np 6: exit %d:\n%s", rc, out_buf);
}
