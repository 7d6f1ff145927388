/* bench_train.c - end-to-end training speed of a network through the public
 * API: images per second and peak memory.
 *
 *   build/bench/bench_train [--net FILE] [--threads N] [--images N] [--epochs N]
 *                           [--clock wall|cpu] [--csv FILE]
 *
 *   --net FILE     network file (default nets/fashion-default.net); its
 *                  `train` line gives the optimizer and the batch size
 *   --threads N    threads (default 2)
 *   --images N     synthetic training images (default 3200: 50 batches of 64)
 *   --epochs N     timed epochs (default 5); the figure is their median
 *   --clock cpu    time by the process's CPU time (with --threads 1, on a
 *                  machine shared with other work; see bench_conv)
 *   --csv FILE     also append a machine-readable line to FILE ("-": stdout):
 *                    train,NET,THREADS,BATCH,IMAGES,IMAGES_PER_S,MAXRSS_KB,BASE_RSS_KB
 *
 * The data set is random bytes with random labels (speed does not depend on
 * the values). One untimed warm-up epoch on a tenth of the images grows the
 * buffers first; then each timed epoch is ccnn_trainer_epoch over all of
 * them (shuffle, normalisation, forward, loss, backward, Adam). Peak memory
 * is the process's maximum resident set (VmHWM, else getrusage), which
 * includes the data set (images x 784 bytes); BASE_RSS_KB is the resident
 * set before the net is built. */
#include "ccnn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EPOCHS 21

static clockid_t g_clock = CLOCK_MONOTONIC; /* --clock cpu: CLOCK_PROCESS_CPUTIME_ID */

static double now(void)
{
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Peak resident set of this process image in KB: VmHWM from /proc (Linux),
 * else getrusage. (getrusage's figure survives execve, so a program started
 * by a large parent would report the parent's size; VmHWM does not.) */
static long max_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    struct rusage ru;
    if (kb < 0 && getrusage(RUSAGE_SELF, &ru) == 0) kb = ru.ru_maxrss; /* KB on Linux */
    return kb;
}

/* Current resident set from /proc (Linux); -1 if unknown. */
static long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = -1, res = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += got;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_train [--net FILE] [--threads N] [--images N] [--epochs N] "
                    "[--clock wall|cpu] [--csv FILE]\n");
    exit(2);
}

static void die(const char *what, int rc, const char *err)
{
    fprintf(stderr, "bench_train: %s: %s%s%s\n", what, ccnn_strerror(rc), err && *err ? ": " : "",
            err ? err : "");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *net_path = "nets/fashion-default.net", *csv_path = NULL;
    int threads = 2, images = 3200, epochs = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--net") == 0) net_path = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--images") == 0) images = atoi(argv[++i]);
        else if (strcmp(argv[i], "--epochs") == 0) epochs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--csv") == 0) csv_path = argv[++i];
        else if (strcmp(argv[i], "--clock") == 0) {
            const char *c = argv[++i];
            if (strcmp(c, "cpu") == 0) g_clock = CLOCK_PROCESS_CPUTIME_ID;
            else if (strcmp(c, "wall") != 0) usage();
        } else usage();
    }
    if (threads < 1 || images < 10 || epochs < 1 || epochs > MAX_EPOCHS) usage();
    long base_rss = rss_now_kb();
    ccnn_set_num_threads(threads);

    char err[256] = "";
    char *text = read_file(net_path);
    if (!text) {
        perror(net_path);
        return 1;
    }
    ccnn_net *net;
    int rc = ccnn_net_parse(text, net_path, &net, err, sizeof err);
    free(text);
    if (rc) die("parse", rc, err);
    if ((rc = ccnn_net_init(net, 1))) die("init", rc, NULL);
    const ccnn_input_spec *in = ccnn_net_input(net);
    int batch = ccnn_net_train_config(net)->batch;
    ccnn_layer_info last;
    ccnn_net_layer_info(net, ccnn_net_num_layers(net) - 1, &last);
    int classes = last.c * last.h * last.w;

    /* synthetic data: random pixels and labels */
    ccnn_dataset ds = {.n = images, .c = in->c, .h = in->h, .w = in->w, .n_classes = classes};
    size_t per = (size_t)in->c * in->h * in->w;
    ds.images = malloc((size_t)images * per);
    ds.labels = malloc((size_t)images);
    if (!ds.images || !ds.labels) die("data", CCNN_ENOMEM, NULL);
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)images * per; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ds.images[i] = (uint8_t)(s >> 56);
    }
    for (int i = 0; i < images; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ds.labels[i] = (uint8_t)((s >> 33) % (uint64_t)classes);
    }

    ccnn_trainer *tr;
    if ((rc = ccnn_trainer_create(&tr, net))) die("trainer", rc, NULL);
    ccnn_dataset warm = ds;
    warm.n = images / 10 > batch ? images / 10 : images;
    ccnn_epoch_stats st;
    if ((rc = ccnn_trainer_epoch(tr, &warm, &st, NULL, NULL, NULL))) die("warm-up epoch", rc, NULL);

    double ips[MAX_EPOCHS];
    for (int e = 0; e < epochs; e++) {
        double t0 = now();
        if ((rc = ccnn_trainer_epoch(tr, &ds, &st, NULL, NULL, NULL))) die("epoch", rc, NULL);
        ips[e] = images / (now() - t0);
    }
    qsort(ips, (size_t)epochs, sizeof ips[0], by_value);
    double med = epochs % 2 ? ips[epochs / 2] : 0.5 * (ips[epochs / 2 - 1] + ips[epochs / 2]);
    long rss = max_rss_kb();

    printf("ccnn training: %s, batch %d, %d thread%s, %d random images x %d epochs (median)\n",
           net_path, batch, threads, threads > 1 ? "s" : "", images, epochs);
    printf("  %.0f images/s (%.1f ms a batch), max RSS %.1f MB (%.1f MB before the net)\n", med,
           1e3 * batch / med, rss / 1024.0, base_rss / 1024.0);
    if (csv_path) {
        FILE *csv = strcmp(csv_path, "-") == 0 ? stdout : fopen(csv_path, "a");
        if (!csv) {
            perror(csv_path);
            return 1;
        }
        const char *base = strrchr(net_path, '/');
        fprintf(csv, "train,%s,%d,%d,%d,%.2f,%ld,%ld\n", base ? base + 1 : net_path, threads, batch,
                images, med, rss, base_rss);
        if (csv != stdout) fclose(csv);
    }
    ccnn_trainer_free(tr);
    ccnn_net_free(net);
    free(ds.images);
    free(ds.labels);
    return 0;
}
