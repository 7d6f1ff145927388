/* test_cli.c - the ccnn command end to end, on small data the test writes:
 * train/eval/predict/info/gradcheck, resume, and every kind of bad input
 * (clear message, non-zero exit, nothing good overwritten).
 * The binary is build/ccnn, or $CCNN_CLI. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static const char *last_line(const char *s)
{
    const char *end = s + strlen(s);
    while (end > s && end[-1] == '\n') end--;
    const char *p = end;
    while (p > s && p[-1] != '\n') p--;
    static char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(end - p), p);
    return line;
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

static const char *dir(void)
{
    if (!g_dir[0]) {
        strcpy(g_dir, "/tmp/ccnn_cli_XXXXXX");
        if (!mkdtemp(g_dir)) { g_dir[0] = 0; return NULL; } /* retry next call, never the template */
        atexit(remove_dir);
        char sub[128];
        snprintf(sub, sizeof sub, "%s/data", g_dir);
        mkdir(sub, 0777);
        /* quick (an emulated run): a quarter of the images, the same checks */
        test_write_idx(sub, "train", test_quick() ? 160 : 640, 1, 0);
        test_write_idx(sub, "t10k", test_quick() ? 64 : 200, 2, 0);
        snprintf(sub, sizeof sub, "%s/bad", g_dir);
        mkdir(sub, 0777);
        test_write_idx(sub, "train", 64, 3, 1000);
        test_write_idx(sub, "t10k", 64, 4, 0);
    }
    return g_dir;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t n = fread(*buf, 1, *len, f);
    fclose(f);
    return n == *len ? 0 : -1;
}

static char out[1 << 16];

CCNN_TEST(cli_help_everywhere)
{
    const char *cmds[] = {"train", "eval", "predict", "info", "gradcheck"};
    CHECK(test_ccnn(out, sizeof out, "--help") == 0 && strstr(out, "usage: ccnn"));
    for (int i = 0; i < 5; i++)
        CHECK_MSG(test_ccnn(out, sizeof out, "%s --help", cmds[i]) == 0 && strstr(out, "usage: ccnn"), "%s", cmds[i]);
    CHECK(test_ccnn(out, sizeof out, "frobnicate") == 2 && strstr(out, "unknown command 'frobnicate'"));
}

/* The model of cli_train_eval_predict, trained here when another test needs
 * it first. */
static int ensure_model(const char *d)
{
    char path[256];
    snprintf(path, sizeof path, "%s/m.safetensors", d);
    if (access(path, F_OK) == 0) return 0;
    return test_ccnn(out, sizeof out, "train --data %s/data --epochs 2 --batch 32 --out %s", d, path);
}

CCNN_TEST(cli_train_eval_predict)
{
    const char *d = dir();
    REQUIRE(d);
    int rc = test_ccnn(out, sizeof out, "train --data %s/data --epochs 2 --batch 32 --out %s/m.safetensors", d, d);
    REQUIRE(rc == 0);
    char line[256];
    snprintf(line, sizeof line, "%s", last_line(out));
    CHECK_MSG(!strncmp(line, "test accuracy: ", 15) && strlen(line) == 21 && line[16] == '.', "last line '%s'", line);
    CHECK(strstr(out, "epoch  2/2") && strstr(out, "img/s"));
    double acc = atof(line + 15);
    CHECK_MSG(acc > 0.5, "accuracy %.4f on an easy task", acc);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/m.csv", d);
    CHECK(stat(path, &st) == 0 && st.st_size > 50);
    snprintf(path, sizeof path, "%s/m.html", d);
    CHECK(stat(path, &st) == 0 && st.st_size > 1000);
    /* eval prints the same number, to the digit */
    CHECK(test_ccnn(out, sizeof out, "eval --model %s/m.safetensors --data %s/data", d, d) == 0);
    CHECK_MSG(!strcmp(last_line(out), line), "eval '%s' vs train '%s'", last_line(out), line);
    CHECK(strstr(out, "accuracy"));
    /* predict a PGM */
    snprintf(path, sizeof path, "%s/x.pgm", d);
    FILE *f = fopen(path, "wb");
    fprintf(f, "P5 28 28 255\n");
    for (int i = 0; i < 784; i++) fputc((i / 28 >= 3 && i / 28 < 10 && i % 28 < 4) ? 220 : 20, f);
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "predict --model %s/m.safetensors --top 2 %s", d, path) == 0);
    CHECK_MSG(strstr(out, "x.pgm: ") && strchr(out, ','), "predict said '%s'", out);
}

static int load_params(const char *path, float **p, size_t *n)
{
    ccnn_net *net = NULL;
    char err[512];
    if (ccnn_model_load(path, &net, NULL, err, sizeof err)) return -1;
    *n = ccnn_net_num_params(net) + ccnn_net_num_state(net);
    *p = malloc(*n * sizeof(float));
    memcpy(*p, ccnn_net_params(net), ccnn_net_num_params(net) * sizeof(float));
    memcpy(*p + ccnn_net_num_params(net), ccnn_net_state(net), ccnn_net_num_state(net) * sizeof(float));
    ccnn_net_free(net);
    return 0;
}

CCNN_TEST(cli_resume_is_bitwise)
{
    const char *d = dir();
    REQUIRE(d);
    CHECK(test_ccnn(out, sizeof out, "train --data %s/data --epochs 3 --batch 64 --out %s/a.safetensors", d, d) == 0);
    CHECK(test_ccnn(out, sizeof out, "train --data %s/data --epochs 1 --batch 64 --out %s/b.safetensors", d, d) == 0);
    CHECK(test_ccnn(out, sizeof out, "train --resume %s/b.safetensors --data %s/data --epochs 3 --threads 1", d, d) == 0);
    CHECK(strstr(out, "resuming") && strstr(out, "epoch  3/3"));
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/a.safetensors", d);
    snprintf(pb, sizeof pb, "%s/b.safetensors", d);
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    REQUIRE(load_params(pa, &a, &na) == 0 && load_params(pb, &b, &nb) == 0);
    CHECK(na == nb && !memcmp(a, b, na * sizeof(float)));
    free(a);
    free(b);
}

CCNN_TEST(cli_info_and_gradcheck)
{
    CHECK(test_ccnn(out, sizeof out, "info") == 0 && strstr(out, "total: 421834 parameters"));
    CHECK(test_ccnn(out, sizeof out, "info --net nets/fashion-resnet.net") == 0 && strstr(out, "global_avgpool"));
    const char *d = dir();
    REQUIRE(d);
    char path[256];
    snprintf(path, sizeof path, "%s/small.net", d);
    FILE *f = fopen(path, "w");
    fprintf(f, "input 2x6x6\nconv filters=3 size=3 pad=1 stride=2\nbatchnorm\ntanh\ndense units=4\nsoftmax\n");
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "gradcheck --net %s --checks 0", path) == 0 && strstr(out, ": ok"));
}

CCNN_TEST(cli_bad_input)
{
    const char *d = dir();
    REQUIRE(d);
    char path[256], *before = NULL, *after = NULL;
    size_t lb = 0, la = 0;
    REQUIRE(ensure_model(d) == 0);
    /* options out of range, unknown options */
    CHECK(test_ccnn(out, sizeof out, "train --epochs 0") == 2 && strstr(out, "--epochs: '0' is not a whole number"));
    CHECK(test_ccnn(out, sizeof out, "train --batch lots") == 2 && strstr(out, "--batch"));
    CHECK(test_ccnn(out, sizeof out, "train --lr -1") == 2 && strstr(out, "--lr"));
    CHECK(test_ccnn(out, sizeof out, "train --frob 1") == 2 && strstr(out, "unknown option '--frob'"));
    CHECK(test_ccnn(out, sizeof out, "eval") == 2 && strstr(out, "--model"));
    /* missing and truncated data */
    CHECK(test_ccnn(out, sizeof out, "train --data %s/nothing-here --epochs 1", d) != 0 && strstr(out, "nothing-here"));
    snprintf(path, sizeof path, "%s/keep.safetensors", d);
    FILE *f = fopen(path, "w");
    fputs("a good model", f);
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "train --data %s/bad --epochs 1 --out %s", d, path) != 0);
    CHECK_MSG(strstr(out, "train-images-idx3-ubyte.gz") && strstr(out, "truncated"), "said '%s'", out);
    CHECK(read_file(path, &after, &la) == 0 && la == 12 && !memcmp(after, "a good model", 12));
    free(after);
    /* a network file with an error */
    snprintf(path, sizeof path, "%s/broken.net", d);
    f = fopen(path, "w");
    fprintf(f, "input 1x28x28\n# comment\nconv filters=8 size=3\nconv filtres=8 size=3\nsoftmax\n");
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "train --net %s --data %s/data", path, d) != 0);
    CHECK_MSG(strstr(out, "broken.net:4: conv: unknown option 'filtres'"), "said '%s'", out);
    /* a model cut short; a file that is no model */
    snprintf(path, sizeof path, "%s/m.safetensors", d);
    if (read_file(path, &before, &lb) == 0) {
        char cut[256];
        snprintf(cut, sizeof cut, "%s/cut.safetensors", d);
        f = fopen(cut, "wb");
        fwrite(before, 1, lb / 2, f);
        fclose(f);
        CHECK(test_ccnn(out, sizeof out, "eval --model %s --data %s/data", cut, d) != 0);
        CHECK_MSG(strstr(out, "cut.safetensors") && strstr(out, "truncated"), "said '%s'", out);
        free(before);
    }
    CHECK(test_ccnn(out, sizeof out, "eval --model %s/small.net --data %s/data", d, d) != 0 && strstr(out, "small.net"));
    /* a model made for other data */
    snprintf(path, sizeof path, "%s/other.net", d);
    f = fopen(path, "w");
    fprintf(f, "input 1x8x8\ndense units=10\nsoftmax\n");
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "train --net %s --data %s/data --epochs 1", path, d) != 0);
    CHECK_MSG(strstr(out, "the network takes 1x8x8"), "said '%s'", out);
    /* an image that is not one */
    snprintf(path, sizeof path, "%s/m.csv", d);
    CHECK(test_ccnn(out, sizeof out, "predict --model %s/m.safetensors %s", d, path) != 0 && strstr(out, "m.csv"));
    /* a loss that becomes NaN/inf: a tiny std blows the input up */
    snprintf(path, sizeof path, "%s/nan.net", d);
    f = fopen(path, "w");
    fprintf(f, "input 1x28x28 std=1e-45\nconv filters=4 size=3\ndense units=10\nsoftmax\n");
    fclose(f);
    CHECK(test_ccnn(out, sizeof out, "train --net %s --data %s/data --epochs 1 --out %s/nan.safetensors", path, d, d) == 1);
    CHECK_MSG(strstr(out, "NaN or infinite at step 0"), "said '%s'", out);
    snprintf(path, sizeof path, "%s/nan.safetensors", d);
    CHECK(access(path, F_OK) != 0);
}
