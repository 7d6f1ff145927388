/* test_train.c - optimizers against PyTorch, schedules, and the training
 * loop: it learns, it is bitwise reproducible across thread counts, a resumed
 * run equals an uninterrupted one, and a NaN stops it cleanly. */
#include "test.h"
#include "train/optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- optimizers vs torch.optim (tools/gen_optim_fixtures.py) ------------- */

static void check_optim_fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/optim/%s.bin", name);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    char magic[8];
    int32_t n, steps, opt, nesterov;
    float hp[6];
    int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "CCNNOPT1", 8) &&
             fread(&n, 4, 1, f) == 1 && fread(&steps, 4, 1, f) == 1 && fread(hp, 4, 6, f) == 6 &&
             fread(&opt, 4, 1, f) == 1 && fread(&nesterov, 4, 1, f) == 1 && n > 0 && n < 4096 &&
             steps > 0 && steps < 100;
    if (!ok) { fclose(f); CHECK_MSG(0, "%s: bad header", path); return; }
    float *p = test_alloc((size_t)n), *g = test_alloc((size_t)n * steps), *want = test_alloc((size_t)n);
    float *m = calloc((size_t)n, sizeof(float)), *v = calloc((size_t)n, sizeof(float));
    ok = fread(p, 4, (size_t)n, f) == (size_t)n && fread(g, 4, (size_t)n * steps, f) == (size_t)n * steps &&
         fread(want, 4, (size_t)n, f) == (size_t)n;
    fclose(f);
    CHECK_MSG(ok, "%s: truncated", path);
    ccnn_train_config c = ccnn_train_config_default();
    c.optimizer = (ccnn_optimizer_type)opt;
    c.lr = hp[0]; c.momentum = hp[1]; c.weight_decay = hp[2];
    c.beta1 = hp[3]; c.beta2 = hp[4]; c.adam_eps = hp[5]; c.nesterov = nesterov;
    for (int t = 0; t < steps; t++)
        ccnn_optim_step(&c, c.lr, (uint64_t)t + 1, p, g + (size_t)t * n, m, v, (size_t)n);
    double err = test_rel_err(p, want, (size_t)n, 1e-3);
    CHECK_MSG(err < 2e-6, "%s: rel err %.3g against torch.optim", name, err);
    free(p); free(g); free(want); free(m); free(v);
}

CCNN_TEST(train_optimizers_match_torch)
{
    const char *names[] = {"sgd", "sgd_wd", "sgd_momentum", "sgd_nesterov_wd", "adam", "adam_l2", "adamw"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) check_optim_fixture(names[i]);
}

CCNN_TEST(train_schedules)
{
    ccnn_train_config c = ccnn_train_config_default();
    c.lr = 0.1f;
    c.epochs = 10;
    CHECK(fabs(ccnn_schedule_lr(&c, 7) - 0.1) < 1e-7);
    c.schedule = CCNN_SCHED_STEP;
    c.step_epochs = 3;
    c.gamma = 0.5f;
    CHECK(fabs(ccnn_schedule_lr(&c, 2) - 0.1) < 1e-7 && fabs(ccnn_schedule_lr(&c, 3) - 0.05) < 1e-7 &&
          fabs(ccnn_schedule_lr(&c, 7) - 0.025) < 1e-7);
    c.schedule = CCNN_SCHED_COSINE; /* torch CosineAnnealingLR(T_max=10) */
    CHECK(fabs(ccnn_schedule_lr(&c, 0) - 0.1) < 1e-7 && fabs(ccnn_schedule_lr(&c, 5) - 0.05) < 1e-7);
    CHECK(fabs(ccnn_schedule_lr(&c, 2) - 0.1 * 0.5 * (1 + cos(3.14159265358979 * 0.2))) < 1e-7);
}

/* ---- the training loop on a small synthetic task ------------------------- */

/* 8x8 images; the class is the brightest of 4 quadrants, plus noise. */
static ccnn_dataset *make_data(int n, uint64_t seed)
{
    ccnn_dataset *ds = calloc(1, sizeof *ds);
    ds->n = n; ds->c = 1; ds->h = 8; ds->w = 8; ds->n_classes = 4;
    ds->images = malloc((size_t)n * 64);
    ds->labels = malloc((size_t)n);
    test_rng r = {seed};
    for (int i = 0; i < n; i++) {
        int cls = test_rand_int(&r, 0, 3);
        ds->labels[i] = (uint8_t)cls;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int q = (y >= 4) * 2 + (x >= 4);
                ds->images[i * 64 + y * 8 + x] = (uint8_t)(test_rand_int(&r, 0, 120) + (q == cls ? 100 : 0));
            }
    }
    return ds;
}

static void free_data(ccnn_dataset *ds)
{
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    free(ds);
}

/* Flips would swap the quadrants and so the classes: they are on only where
 * the test is about reproducibility, not learning. */
static ccnn_net *make_net_sized(int augment, int filters, int batch)
{
    char text[512];
    snprintf(text, sizeof text,
             "input 1x8x8 mean=0.3 std=0.2\n"
             "conv filters=%d size=3 pad=1\nbatchnorm\nrelu\nmaxpool size=2\n"
             "conv filters=%d size=3 pad=1\nrelu\n"
             "dense units=16\nrelu\ndropout rate=0.2\ndense units=4\nsoftmax\n"
             "train optimizer=adam lr=0.01 batch=%d epochs=3 seed=5 crop=%d flip=%d\n",
             filters, filters, batch, augment, augment);
    ccnn_net *net = NULL;
    char err[256];
    int rc = ccnn_net_parse(text, "test.net", &net, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (net) ccnn_net_init(net, ccnn_net_train_config(net)->seed);
    return net;
}

static ccnn_net *make_net_aug(int augment) { return make_net_sized(augment, 6, 16); }
static ccnn_net *make_net(void) { return make_net_aug(1); }

/* Trains `epochs` epochs; returns the trainer (caller frees). */
static ccnn_trainer *train(ccnn_net *net, const ccnn_dataset *ds, int epochs)
{
    ccnn_trainer *tr = NULL;
    CHECK_RC(ccnn_trainer_create(&tr, net), 0);
    for (int e = 0; e < epochs && tr; e++) CHECK_RC(ccnn_trainer_epoch(tr, ds, NULL, NULL, NULL, NULL), 0);
    return tr;
}

static int same_params(ccnn_net *a, ccnn_net *b)
{
    return ccnn_net_num_params(a) == ccnn_net_num_params(b) &&
           !memcmp(ccnn_net_params(a), ccnn_net_params(b), ccnn_net_num_params(a) * sizeof(float)) &&
           !memcmp(ccnn_net_state(a), ccnn_net_state(b), ccnn_net_num_state(a) * sizeof(float));
}

CCNN_TEST(train_learns_and_evaluates)
{
    ccnn_dataset *tr_ds = make_data(512, 1), *te_ds = make_data(256, 2);
    ccnn_net *net = make_net_aug(0);
    REQUIRE(net);
    double acc0, acc1, loss;
    int conf[16];
    CHECK_RC(ccnn_evaluate(net, te_ds, 64, &acc0, &loss, conf), 0);
    ccnn_trainer *tr = train(net, tr_ds, 3);
    CHECK_RC(ccnn_evaluate(net, te_ds, 100, &acc1, &loss, conf), 0);
    int total = 0, diag = 0;
    for (int i = 0; i < 16; i++) total += conf[i];
    for (int i = 0; i < 4; i++) diag += conf[i * 5];
    CHECK(total == 256 && fabs((double)diag / total - acc1) < 1e-12);
    CHECK_MSG(acc1 > 0.9 && acc1 > acc0 + 0.3, "accuracy %.3f -> %.3f", acc0, acc1);
    CHECK(ccnn_trainer_epochs_done(tr) == 3);
    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    free_data(tr_ds);
    free_data(te_ds);
}

CCNN_TEST(train_bitwise_across_threads)
{
    /* large enough that the conv and GEMM calls really split across threads */
    ccnn_dataset *ds = make_data(200, 3);
    ccnn_net *a = make_net_sized(1, 48, 100), *b = make_net_sized(1, 48, 100);
    REQUIRE(a && b);
    ccnn_set_num_threads(1);
    ccnn_trainer *ta = train(a, ds, 2);
    ccnn_set_num_threads(2);
    ccnn_trainer *tb = train(b, ds, 2);
    ccnn_set_num_threads(0);
    CHECK(same_params(a, b));
    ccnn_trainer_free(ta); ccnn_trainer_free(tb);
    ccnn_net_free(a); ccnn_net_free(b);
    free_data(ds);
}

CCNN_TEST(train_resume_equals_uninterrupted)
{
    ccnn_dataset *ds = make_data(200, 4);
    ccnn_net *a = make_net(), *b = make_net(), *c = NULL;
    REQUIRE(a && b);
    ccnn_trainer *ta = train(a, ds, 3), *tb = train(b, ds, 1), *tc = NULL;
    char dir[] = "/tmp/ccnn_resume_XXXXXX", path[256], err[512];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK_RC(ccnn_model_save(path, b, tb, NULL, err, sizeof err), 0);
    CHECK_RC(ccnn_model_load(path, &c, &tc, err, sizeof err), 0);
    REQUIRE(c && tc);
    CHECK(ccnn_trainer_epochs_done(tc) == 1);
    for (int e = 1; e < 3; e++) CHECK_RC(ccnn_trainer_epoch(tc, ds, NULL, NULL, NULL, NULL), 0);
    CHECK(same_params(a, c));
    CHECK(!same_params(a, b)); /* b stopped after one epoch: the check can fail */
    unlink(path);
    rmdir(dir);
    ccnn_trainer_free(ta); ccnn_trainer_free(tb); ccnn_trainer_free(tc);
    ccnn_net_free(a); ccnn_net_free(b); ccnn_net_free(c);
    free_data(ds);
}

CCNN_TEST(train_stops_on_nan)
{
    ccnn_dataset *ds = make_data(64, 5);
    ccnn_net *net = make_net();
    REQUIRE(net);
    ccnn_trainer *tr = train(net, ds, 1); /* 4 good steps */
    size_t n = ccnn_net_num_params(net);
    float *before = test_alloc(n);
    ccnn_net_params(net)[n - 1] = NAN; /* the last dense bias */
    memcpy(before, ccnn_net_params(net), n * sizeof(float));
    uint64_t bad = 999;
    ccnn_epoch_stats st;
    CHECK_RC(ccnn_trainer_epoch(tr, ds, &st, NULL, NULL, &bad), CCNN_ENONFINITE);
    CHECK(bad == 4);
    /* nothing was updated by the bad step (NaN compares unequal: compare bits) */
    CHECK(!memcmp(before, ccnn_net_params(net), n * sizeof(float)));
    free(before);
    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    free_data(ds);
}
