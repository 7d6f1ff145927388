/* cmd_train.c - `ccnn train`: train a network, evaluate after every epoch,
 * save the model atomically after every epoch, write metrics and a report. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: ccnn train [--net FILE] [--data DIR] [--epochs N] [--batch N] [--lr X]\n"
    "                  [--threads N] [--seed N] [--out MODEL] [--resume MODEL]\n"
    "                  [--memory-limit SIZE]\n"
    "\n"
    "Trains a network (default: the built-in nets/fashion-default.net) on a data set\n"
    "(default: " CLI_DEFAULT_DATA "), evaluating on the test set after every epoch.\n"
    "After every epoch the model is written atomically to MODEL (default:\n"
    "runs/NETNAME/model.safetensors), with MODEL's stem + .csv (metrics) and .html\n"
    "(plots and confusion matrix) beside it. The last line is 'test accuracy: 0.XXXX'.\n"
    "\n"
    "  --net FILE      network file (docs/netfile.md)\n"
    "  --data DIR      Fashion-MNIST/MNIST IDX files or CIFAR-10 batches\n"
    "  --epochs N      total epochs (overrides the net file's train line)\n"
    "  --batch N       batch size\n"
    "  --lr X          learning rate\n"
    "  --threads N     threads (default: all cores; results do not depend on it)\n"
    "  --seed N        seed of initialisation, shuffling, augmentation and dropout\n"
    "  --out MODEL     where to write the model\n"
    "  --resume MODEL  continue a run from its model file (bitwise as if never stopped)\n"
    "  --memory-limit SIZE  refuse a network needing more (bytes, or K/M/G/T; default:\n"
    "                  CCNN_MEMORY_LIMIT, else 3/4 of the physical memory)\n"
    "\n"
    "Ctrl-C (or SIGUSR1) stops after the step in progress and saves the model\n"
    "(resume it with --resume); a second one stops at once, leaving the last saved\n"
    "model. Under mpirun, Ctrl-C ends the job at once; kill -USR1 MPIRUN_PID stops it\n"
    "after a step, saved.\n"
    "Data-parallel: mpirun -np N ccnn train ... trains one model over N processes,\n"
    "the same bits as one process (docs/distributed.md); --threads is per process\n"
    "(default: the machine's cores shared among its processes).\n";

typedef struct options {
    const char *net, *data, *out, *resume;
    int epochs, batch, threads, has_lr, has_seed;
    float lr;
    unsigned long long seed;
} options;

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->data = CLI_DEFAULT_DATA;
    o->threads = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 1; }
        if (strncmp(a, "--", 2)) return cli_error("train", "unexpected argument '%s' (see --help)", a);
        if (!(v = cli_option("train", argc, argv, &i, "--net --data --out --resume --epochs --batch --threads --lr --seed --memory-limit"))) return -1;
        if (!strcmp(a, "--net")) o->net = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else if (!strcmp(a, "--epochs")) { if (cli_int("train", a, v, 1, 100000, &o->epochs)) return -1; }
        else if (!strcmp(a, "--batch")) { if (cli_int("train", a, v, 1, 65536, &o->batch)) return -1; }
        else if (!strcmp(a, "--threads")) { if (cli_int("train", a, v, 1, 1024, &o->threads)) return -1; }
        else if (!strcmp(a, "--lr")) { if (cli_float("train", a, v, 1e-12, 10, &o->lr)) return -1; o->has_lr = 1; }
        else if (!strcmp(a, "--seed")) { if (cli_u64("train", a, v, &o->seed)) return -1; o->has_seed = 1; }
        else if (!strcmp(a, "--memory-limit")) { if (cli_memory_limit("train", v)) return -1; }
        else return cli_error("train", "unknown option '%s' (see --help)", a);
    }
    if (o->net && o->resume) return cli_error("train", "--net and --resume: the network comes from the model");
    return 0;
}

/* path without a trailing ".safetensors", plus suffix. */
static void sibling(char *out, size_t len, const char *model, const char *suffix)
{
    size_t n = strlen(model);
    const char *ext = ".safetensors";
    if (n > strlen(ext) && !strcmp(model + n - strlen(ext), ext)) n -= strlen(ext);
    snprintf(out, len, "%.*s%s", (int)n, model, suffix);
}

/* ---- metrics history kept in the model file, for --resume --------------- */

static char *history_json(const ccnn_epoch_stats *h, int n, const ccnn_dataset *ds)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "epochs");
    cJSON *cls = cJSON_AddArrayToObject(root, "classes");
    for (int k = 0; k < ds->n_classes; k++) cJSON_AddItemToArray(cls, cJSON_CreateString(ds->class_names[k]));
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "epoch", h[i].epoch);
        cJSON_AddNumberToObject(e, "loss", h[i].loss);
        cJSON_AddNumberToObject(e, "train_acc", h[i].train_acc);
        cJSON_AddNumberToObject(e, "test_acc", h[i].test_acc);
        cJSON_AddNumberToObject(e, "seconds", h[i].seconds);
        cJSON_AddNumberToObject(e, "images_per_s", h[i].images_per_s);
        cJSON_AddNumberToObject(e, "lr", h[i].lr);
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int history_load(const char *model, ccnn_epoch_stats *h, int max)
{
    char *meta = NULL, err[256];
    if (ccnn_model_read_meta(model, "ccnn.metrics", &meta, err, sizeof err)) return 0;
    cJSON *root = cJSON_Parse(meta), *e;
    free(meta);
    int n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "epochs")) {
        if (n == max) break;
        ccnn_epoch_stats *s = &h[n++];
        s->epoch = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "epoch"));
        s->loss = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "loss"));
        s->train_acc = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "train_acc"));
        s->test_acc = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "test_acc"));
        s->seconds = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seconds"));
        s->images_per_s = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "images_per_s"));
        s->lr = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "lr"));
    }
    cJSON_Delete(root);
    return n;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct progress { int tty, epochs; double start, last; } progress;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A live bar on a terminal (stderr); nothing otherwise. */
static int on_batch(void *user, int epoch, int batch, int n_batches, double loss, double ips)
{
    progress *p = user;
    double t = now();
    if (batch == 1) p->start = t;
    if (!p->tty || (batch < n_batches && t - p->last < 0.1)) return 0;
    p->last = t;
    enum { WIDTH = 30 };
    int fill = (int)((double)WIDTH * batch / n_batches);
    double eta = (t - p->start) * (double)(n_batches - batch) / batch;
    fprintf(stderr, "\r\033[Kepoch %d/%d [", epoch, p->epochs);
    for (int i = 0; i < WIDTH; i++) fputc(i < fill ? '=' : (i == fill ? '>' : ' '), stderr);
    fprintf(stderr, "] %3d%%  loss %.4f  %.0f img/s  ETA %.0fs", 100 * batch / n_batches, loss, ips, eta);
    if (batch == n_batches) fputs("\r\033[K", stderr);
    fflush(stderr);
    return 0;
}

/* ---- Ctrl-C --------------------------------------------------------------- */

static ccnn_trainer *g_trainer;
static volatile sig_atomic_t g_interrupts;

/* The first: stop after this step (the trainer only sets a flag); the
 * second: at once - the model file on disk is always a complete one. */
static void on_sigint(int sig)
{
    (void)sig;
    if (g_interrupts++ == 0 && g_trainer) ccnn_trainer_request_stop(g_trainer);
    else _exit(130);
}

/* Whether every step of an epoch gives each of `procs` processes a chunk;
 * if not, says which step does not. */
static int check_chunks(int n, int batch, int procs)
{
    int step = batch < n ? batch : n, last = n % batch ? n % batch : step;
    int smallest = last < step ? last : step, chunks = (smallest + CCNN_CHUNK - 1) / CCNN_CHUNK;
    if (chunks >= procs) return 0;
    return cli_error("train", "%d processes, but the step of %d images (batch %d, %d images) has only "
                     "%d chunks of %d images; every process needs a chunk of every step for the model "
                     "to be the same bits as one process's. Use at most %d processes, or another "
                     "--batch (docs/distributed.md)", procs, smallest, batch, n, chunks, CCNN_CHUNK, chunks);
}

/* ---- the command ---------------------------------------------------------- */

static void net_stem(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    snprintf(out, len, "%.*s", (int)(n ? n : strlen(base)), base);
}

static int save_all(const char *out, ccnn_net *net, ccnn_trainer *tr, const ccnn_epoch_stats *hist,
                    int n_hist, const ccnn_dataset *test, const int *confusion)
{
    char err[512], path[4200];
    char *json = history_json(hist, n_hist, test);
    int rc = ccnn_model_save(out, net, tr, json, err, sizeof err);
    free(json);
    if (rc) return cli_error("train", "%s", err);
    sibling(path, sizeof path, out, ".csv");
    if (ccnn_report_write_csv(path, hist, n_hist, err, sizeof err)) return cli_error("train", "%s", err);
    sibling(path, sizeof path, out, ".html");
    if (ccnn_report_write_html(path, "ccnn training report", hist, n_hist, confusion, ccnn_net_num_classes(net),
                               (const char (*)[CCNN_NAME_MAX])test->class_names, err, sizeof err))
        return cli_error("train", "%s", err);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    options o;
    int prc = parse(argc, argv, &o);
    if (prc) return prc > 0 ? 0 : 2;
    if (o.threads > 0) ccnn_set_num_threads(o.threads);
    if (cli_dist_init(&argc, &argv)) return 1;
    const int rank = cli_dist_rank(), procs = cli_dist_size();
    if (o.threads <= 0 && cli_dist_local_size() > 1) { /* the machine's cores shared out */
        int t = ccnn_get_num_threads() / cli_dist_local_size();
        ccnn_set_num_threads(t > 0 ? t : 1);
    }
    int agreed = 0; /* whether the processes have passed the setup check */

    char err[512], out_buf[4096];
    ccnn_net *net = NULL;
    ccnn_trainer *tr = NULL;
    ccnn_dataset *train = NULL, *test = NULL;
    ccnn_epoch_stats *hist = NULL;
    int *confusion = NULL, status = 1, rc;
    void (*old_sigint)(int) = SIG_DFL, (*old_sigusr1)(int) = SIG_DFL;

    if (o.resume) {
        if (cli_load_model("train", o.resume, &net, &tr)) goto done;
    } else {
        rc = o.net ? ccnn_net_load_file(o.net, &net, err, sizeof err)
                   : ccnn_net_parse(cli_default_net, "nets/fashion-default.net (built in)", &net, err, sizeof err);
        if (rc) { cli_error("train", "%s", err); goto done; }
    }
    ccnn_train_config *cfg = ccnn_net_train_config(net);
    if (o.epochs) cfg->epochs = o.epochs;
    if (o.batch) cfg->batch = o.batch;
    if (o.has_lr) cfg->lr = o.lr;
    if (o.has_seed) cfg->seed = o.seed;
    if (cli_check_memory("train", "the network", net, cfg->batch)) goto done;
    if (!o.resume) {
        if ((rc = ccnn_net_init(net, cfg->seed)) || (rc = ccnn_trainer_create(&tr, net))) {
            cli_error("train", "%s", ccnn_strerror(rc));
            goto done;
        }
    }
    if (cli_dist_comm() && (rc = ccnn_trainer_set_comm(tr, cli_dist_comm()))) {
        cli_error("train", "cannot train data-parallel: %s", ccnn_strerror(rc));
        goto done;
    }
    const char *out = o.out ? o.out : o.resume;
    if (!out) {
        char stem[256];
        net_stem(o.net ? o.net : "fashion-default", stem, sizeof stem);
        snprintf(out_buf, sizeof out_buf, "runs/%s/model.safetensors", stem);
        out = out_buf;
    }
    /* every output path checked before the data is read and the work starts */
    char csv_path[4200], html_path[4200];
    sibling(csv_path, sizeof csv_path, out, ".csv");
    sibling(html_path, sizeof html_path, out, ".html");
    /* rank 0 alone writes; a failure here stops the others (cli_dist_failed) */
    if (rank == 0 && (cli_check_output("train", out) || cli_check_output("train", csv_path) ||
        cli_check_output("train", html_path)))
        goto done;

    if (cli_load_data("train", o.data, &train, &test)) goto done;
    const ccnn_input_spec *in = ccnn_net_input(net);
    int classes = ccnn_net_num_classes(net);
    if (train->c != in->c || train->h != in->h || train->w != in->w || train->n_classes > classes) {
        cli_error("train", "%s: images are %dx%dx%d with %d classes, the network takes %dx%dx%d with %d classes",
                  o.data, train->c, train->h, train->w, train->n_classes, in->c, in->h, in->w, classes);
        goto done;
    }
    hist = calloc((size_t)cfg->epochs + 1, sizeof *hist);
    confusion = calloc((size_t)classes * classes, sizeof *confusion);
    if (!hist || !confusion) { cli_error("train", "out of memory"); goto done; }
    if (check_chunks(train->n, cfg->batch, procs)) goto done;
    agreed = 1;
    if (cli_dist_failed(0)) goto done; /* another process failed: it said why */
    int done_epochs = ccnn_trainer_epochs_done(tr);
    /* one history entry per epoch done, so the epochs to come fit in hist */
    int n_hist = o.resume ? history_load(o.resume, hist, done_epochs < cfg->epochs ? done_epochs : cfg->epochs) : 0;

    progress pg = {rank == 0 && isatty(2), cfg->epochs, 0, 0};
    size_t n_params = ccnn_net_num_params(net);
    printf("network: %d layers, %zu parameters; data: %s (%d train, %d test images); %d threads, %s kernels\n",
           ccnn_net_num_layers(net), n_params, o.data, train->n, test->n, ccnn_get_num_threads(),
           ccnn_isa_name(ccnn_get_isa()));
    if (procs > 1) printf("data-parallel: %d processes, %d threads each\n", procs, ccnn_get_num_threads());
    uint64_t estep = ccnn_trainer_epoch_step(tr);
    if (o.resume && estep)
        printf("resuming %s in epoch %d of %d, after its step %llu\n", o.resume, done_epochs + 1,
               cfg->epochs, (unsigned long long)estep);
    else if (o.resume) printf("resuming %s after epoch %d of %d\n", o.resume, done_epochs, cfg->epochs);
    fflush(stdout);
    g_trainer = tr;
    old_sigint = signal(SIGINT, on_sigint);
    /* mpirun ends the job on Ctrl-C but forwards SIGUSR1: the way to stop
     * a data-parallel run after a step, saved */
    old_sigusr1 = signal(SIGUSR1, on_sigint);
    double test_acc = NAN;
    for (int e = done_epochs; e < cfg->epochs; e++) {
        ccnn_epoch_stats st;
        uint64_t bad = 0;
        rc = ccnn_trainer_epoch(tr, train, &st, on_batch, &pg, &bad);
        int stopped = rc == CCNN_EINTR;
        if (stopped) rc = CCNN_OK;
        if (rc == CCNN_ENONFINITE) { /* every process sees it at the same step */
            if (pg.tty) fputs("\n", stderr);
            cli_error("train", "the loss or a gradient became NaN or infinite at step %llu (epoch %d); "
                      "stopped. The last good model is %s%s", (unsigned long long)bad, e + 1, out,
                      e > done_epochs || o.resume ? "" : " (none was written: this was the first epoch)");
            goto done;
        }
        if (rc) {
            cli_error("train", "epoch %d: %s", e + 1, ccnn_strerror(rc));
            cli_dist_abort(1); /* the others may be waiting for this process */
            goto done;
        }
        if (!stopped || !ccnn_trainer_epoch_step(tr)) { /* a whole epoch */
            if ((rc = ccnn_trainer_evaluate(tr, test, 256, &test_acc, NULL, confusion))) {
                cli_error("train", "evaluation: %s", ccnn_strerror(rc));
                cli_dist_abort(1);
                goto done;
            }
            st.test_acc = test_acc;
            hist[n_hist++] = st;
            printf("epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %6.1f s  %6.0f img/s  lr %.3g\n",
                   st.epoch, cfg->epochs, st.loss, st.train_acc, st.test_acc, st.seconds, st.images_per_s, st.lr);
            fflush(stdout);
        }
        if (rank == 0 && save_all(out, net, tr, hist, n_hist, test, confusion)) {
            cli_dist_abort(1);
            goto done;
        }
        if (stopped) {
            uint64_t steps;
            ccnn_trainer_get_counters(tr, NULL, &steps);
            if (rank == 0)
                fprintf(stderr, "\ninterrupted: stopped after step %llu (epoch %d); the model is saved in %s.\n"
                        "Resume with: ccnn train --resume %s\n", (unsigned long long)steps,
                        ccnn_trainer_epochs_done(tr) + !!ccnn_trainer_epoch_step(tr), out, out);
            status = 130;
            goto done;
        }
    }
    if (isnan(test_acc)) { /* nothing left to train: report the model as it is */
        if ((rc = ccnn_trainer_evaluate(tr, test, 256, &test_acc, NULL, confusion))) {
            cli_error("train", "evaluation: %s", ccnn_strerror(rc));
            goto done;
        }
    }
    char csv[4200], html[4200];
    sibling(csv, sizeof csv, out, ".csv");
    sibling(html, sizeof html, out, ".html");
    printf("model: %s  metrics: %s  report: %s\n", out, csv, html);
    printf("test accuracy: %.4f\n", test_acc);
    status = 0;
done:
    if (!agreed) cli_dist_failed(1); /* so the others stop too */
    signal(SIGINT, old_sigint);
    signal(SIGUSR1, old_sigusr1);
    g_trainer = NULL;
    free(hist);
    free(confusion);
    ccnn_dataset_free(train);
    ccnn_dataset_free(test);
    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    cli_dist_finish();
    return status;
}
