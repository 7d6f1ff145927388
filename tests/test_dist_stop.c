/* test_dist_stop.c - stopping on request: ccnn_trainer_request_stop ends an
 * epoch after the step in progress, and a model saved then resumes
 * mid-epoch to the uninterrupted run's bits; `ccnn train` does that on the
 * first Ctrl-C (exit 130, a resume hint) and stops at once on the second,
 * leaving the last saved model whole. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char net_text[] =
    "input 1x8x8\n"
    "conv filters=4 size=3 pad=1\nbatchnorm\nrelu\n"
    "dense units=12\ndropout rate=0.2\ndense units=3\nsoftmax\n"
    "train optimizer=adam lr=0.01 batch=16 epochs=3 crop=1 flip=1 seed=3\n";

static ccnn_dataset *make_data(int n)
{
    ccnn_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n; ds->c = 1; ds->h = 8; ds->w = 8; ds->n_classes = 3;
    ds->images = malloc((size_t)n * 64);
    ds->labels = malloc((size_t)n);
    test_rng r = {5};
    for (int i = 0; i < n; i++) {
        int c = test_rand_int(&r, 0, 2);
        ds->labels[i] = (uint8_t)c;
        for (int p = 0; p < 64; p++)
            ds->images[i * 64 + p] = (uint8_t)(test_rand_int(&r, 0, 80) + (p / 8 == 2 * c + 1 ? 120 : 0));
    }
    return ds;
}

static int stop_at;
static ccnn_trainer *g_tr;
static int stop_after(void *user, int epoch, int batch, int n_batches, double loss, double ips)
{
    (void)user; (void)epoch; (void)n_batches; (void)loss; (void)ips;
    if (batch == stop_at) ccnn_trainer_request_stop(g_tr);
    return 0;
}

CCNN_TEST(train_stop_and_resume_mid_epoch)
{
    ccnn_dataset *ds = make_data(100); /* 7 steps an epoch, the last of 4 images */
    ccnn_net *a = NULL, *b = NULL;
    ccnn_trainer *ta = NULL, *tb = NULL;
    REQUIRE(ccnn_net_parse(net_text, "t", &a, NULL, 0) == 0 && ccnn_net_parse(net_text, "t", &b, NULL, 0) == 0);
    ccnn_net_init(a, 3);
    ccnn_net_init(b, 3);
    REQUIRE(ccnn_trainer_create(&ta, a) == 0 && ccnn_trainer_create(&tb, b) == 0);
    for (int e = 0; e < 2; e++) CHECK_RC(ccnn_trainer_epoch(ta, ds, NULL, NULL, NULL, NULL), CCNN_OK);

    /* b: stopped after step 3 of epoch 1, saved, loaded, finished */
    CHECK_RC(ccnn_trainer_epoch(tb, ds, NULL, NULL, NULL, NULL), CCNN_OK);
    stop_at = 3;
    g_tr = tb;
    ccnn_epoch_stats st;
    CHECK_RC(ccnn_trainer_epoch(tb, ds, &st, stop_after, NULL, NULL), CCNN_EINTR);
    CHECK(ccnn_trainer_epochs_done(tb) == 1 && ccnn_trainer_epoch_step(tb) == 3);
    char path[] = "/tmp/ccnn_stop_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    char err[256];
    CHECK_RC(ccnn_model_save(path, b, tb, NULL, err, sizeof err), CCNN_OK);
    ccnn_trainer_free(tb);
    ccnn_net_free(b);
    b = NULL;
    tb = NULL;
    REQUIRE(ccnn_model_load(path, &b, &tb, err, sizeof err) == 0);
    CHECK(ccnn_trainer_epoch_step(tb) == 3);
    stop_at = 0;
    CHECK_RC(ccnn_trainer_epoch(tb, ds, NULL, NULL, NULL, NULL), CCNN_OK);
    CHECK(ccnn_trainer_epochs_done(tb) == 2 && ccnn_trainer_epoch_step(tb) == 0);
    uint64_t sa, sb;
    ccnn_trainer_get_counters(ta, NULL, &sa);
    ccnn_trainer_get_counters(tb, NULL, &sb);
    CHECK(sa == sb && sa == 14);
    CHECK(memcmp(ccnn_net_params(a), ccnn_net_params(b), ccnn_net_num_params(a) * sizeof(float)) == 0);
    CHECK(memcmp(ccnn_net_state(a), ccnn_net_state(b), ccnn_net_num_state(a) * sizeof(float)) == 0);
    unlink(path);
    ccnn_trainer_free(ta);
    ccnn_trainer_free(tb);
    ccnn_net_free(a);
    ccnn_net_free(b);
    ccnn_dataset_free(ds);
}

/* ---- the command ------------------------------------------------------- */

static const char cli_net[] =
    "input 1x28x28\nconv filters=4 size=3 pad=1 stride=2\nbatchnorm\nrelu\n"
    "dense units=10\nsoftmax\ntrain batch=32 crop=1 seed=2\n";

CCNN_TEST(cli_ctrl_c_saves_and_resumes)
{
    char dir[] = "/tmp/ccnn_sigint_XXXXXX", path[256], err[256];
    static char out[1 << 15];
    REQUIRE(mkdtemp(dir));
    test_write_idx(dir, "train", 200, 21, 0);
    test_write_idx(dir, "t10k", 50, 22, 0);
    snprintf(path, sizeof path, "%s/tiny.net", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(cli_net, f);
    fclose(f);
    /* Ctrl-C once the first epoch's model exists, long before epoch 5000 */
    int rc = test_sh(out, sizeof out,
             "cd %s && { %s train --net tiny.net --data . --out m.safetensors --epochs 5000 --threads 1 & "
             "p=$!; i=0; while [ ! -f m.safetensors ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
             "kill -INT $p; wait $p; }", dir, test_cli_path());
    CHECK_MSG(rc == 130 && strstr(out, "Resume with: ccnn train --resume"), "exit %d:\n%s", rc, out);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ccnn_net *n = NULL;
    ccnn_trainer *t = NULL;
    REQUIRE(ccnn_model_load(path, &n, &t, err, sizeof err) == 0);
    int epochs;
    ccnn_trainer_get_counters(t, &epochs, NULL);
    int total = epochs + 1; /* finish the interrupted epoch (or one more) */
    ccnn_trainer_free(t);
    ccnn_net_free(n);
    /* resumed to `total` epochs = trained `total` epochs uninterrupted */
    rc = test_sh(out, sizeof out, "cd %s && %s train --resume m.safetensors --data . --epochs %d --threads 1 && "
                 "%s train --net tiny.net --data . --out ref.safetensors --epochs %d --threads 2",
                 dir, test_cli_path(), total, test_cli_path(), total);
    CHECK_MSG(rc == 0, "exit %d:\n%s", rc, out);
    ccnn_net *a = NULL, *b = NULL;
    char ref[256];
    snprintf(ref, sizeof ref, "%s/ref.safetensors", dir);
    if (ccnn_model_load(path, &a, NULL, err, sizeof err) == 0 && ccnn_model_load(ref, &b, NULL, err, sizeof err) == 0)
        CHECK(memcmp(ccnn_net_params(a), ccnn_net_params(b), ccnn_net_num_params(a) * sizeof(float)) == 0);
    else
        CHECK_MSG(0, "%s", err);
    ccnn_net_free(a);
    ccnn_net_free(b);

    /* two Ctrl-C at once: out at once, the model saved before is whole */
    rc = test_sh(out, sizeof out,
                 "cd %s && { %s train --resume m.safetensors --data . --epochs 5000 --threads 1 & "
                 "p=$!; sleep 1; kill -INT $p; kill -INT $p; wait $p; }", dir, test_cli_path());
    CHECK_MSG(rc == 130, "exit %d:\n%s", rc, out);
    CHECK(ccnn_model_load(path, &a, NULL, err, sizeof err) == 0);
    ccnn_net_free(a);
    test_sh(out, sizeof out, "rm -rf '%s'", dir);
}
