/* test_memory.c - bounded memory before allocating (issue 11): numbers in
 * the input line range-checked, a network's parameters checked against the
 * memory limit (and a model file's tensor data) before they are allocated,
 * the estimate against what a training step really allocates. */
#include "test.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const char big_net[] = "input 1x28x28\nconv filters=16777216 size=5\nglobal_avgpool\ndense units=10\nsoftmax\n";

CCNN_TEST(netfile_input_numbers_range_checked)
{
    const char *bad[] = {"input 1x4294967324x4294967324\nsoftmax\n", "input 4294967297x28x28\nsoftmax\n",
                         "input 1x28x28x\nsoftmax\n", "input 1x28\nsoftmax\n", "input 1x-28x28\nsoftmax\n",
                         "input 1x28x28junk\nsoftmax\n", "input 17x2x2\nsoftmax\n", "input 1x100000x100000\nsoftmax\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccnn_net *net = NULL;
        char err[256] = "";
        CHECK_RC(ccnn_net_parse(bad[i], "t.net", &net, err, sizeof err), CCNN_EINVAL);
        CHECK_MSG(!net && strstr(err, "t.net:1: input: expected 'input CxHxW'"), "%s: '%s'", bad[i], err);
    }
}

CCNN_TEST(netfile_memory_limit_before_allocating)
{
    ccnn_set_memory_limit(1ull << 30);
    ccnn_net *net = NULL;
    char err[512] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_RC(ccnn_net_parse(big_net, "big.net", &net, err, sizeof err), CCNN_ELIMIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(!net && strstr(err, "big.net: the network's 603979786 parameters need 4.83 GB") &&
              strstr(err, "over the memory limit of 1.07 GB"), "said '%s'", err);
    CHECK((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 < 1.0);
    /* a limit from the environment, K/M/G suffixes */
    ccnn_set_memory_limit(0);
    setenv("CCNN_MEMORY_LIMIT", "3M", 1);
    CHECK(ccnn_memory_limit() == 3u << 20);
    CHECK_RC(ccnn_net_parse("input 1x8x8\ndense units=100000\nsoftmax\n", "d.net", &net, err, sizeof err),
             CCNN_ELIMIT);
    CHECK_RC(ccnn_net_parse("input 1x8x8\ndense units=10\nsoftmax\n", "d.net", &net, err, sizeof err), 0);
    ccnn_net_free(net);
    net = NULL;
    /* a forward pass whose activations would go over the limit: refused */
    CHECK_RC(ccnn_net_parse("input 1x64x64\nconv filters=64 size=3 pad=1\nglobal_avgpool\nsoftmax\n", "c.net", &net,
                            err, sizeof err), 0);
    float *x = calloc(64 * 64 * 64, sizeof(float));
    if (net && x) {
        CHECK_RC(ccnn_net_forward(net, x, 64, 0, 0), CCNN_ELIMIT);   /* 64 x 1 MB of outputs */
        CHECK_RC(ccnn_net_forward(net, x, 1, 0, 0), 0);
    }
    free(x);
    ccnn_net_free(net);
    setenv("CCNN_MEMORY_LIMIT", "12Q", 1);       /* not a size: the default */
    CHECK(ccnn_memory_limit() > (64u << 20));
    unsetenv("CCNN_MEMORY_LIMIT");
}

CCNN_TEST(netfile_layer_count_bounded)
{
    size_t n = 5000;
    char *text = malloc(32 + n * 5);
    char *p = text + sprintf(text, "input 1x2x2\n");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "relu\n");    /* relu k on line k + 1 */
    strcpy(p, "softmax\n");
    ccnn_net *net = NULL;
    char err[256] = "";
    CHECK_RC(ccnn_net_parse(text, "deep.net", &net, err, sizeof err), CCNN_ELIMIT);
    CHECK_MSG(strstr(err, "deep.net:4098: more than 4096 layers"), "said '%s'", err);
    free(text);
}

/* A model file of a few hundred bytes whose network needs gigabytes: refused
 * from the file's length, nothing allocated. */
CCNN_TEST(model_tensor_data_checked_before_allocating)
{
    char path[] = "/tmp/ccnn_memory_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    char json[512];
    int n = snprintf(json, sizeof json, "{\"__metadata__\":{\"format\":\"ccnn-model-1\",\"ccnn.net\":\"%s\"}}",
                     "input 1x28x28\\nconv filters=16777216 size=5\\nglobal_avgpool\\ndense units=10\\nsoftmax\\n");
    while (n % 8) json[n++] = ' ';
    uint8_t len[8] = {(uint8_t)n};
    FILE *f = fdopen(fd, "wb");
    fwrite(len, 1, 8, f);
    fwrite(json, 1, (size_t)n, f);
    fclose(f);
    ccnn_net *net = NULL;
    char err[512] = "";
    CHECK_RC(ccnn_model_load(path, &net, NULL, err, sizeof err), CCNN_EFORMAT);
    CHECK_MSG(strstr(err, path) && strstr(err, "tensors take 2.42 GB, the file holds only 0 bytes"), "said '%s'", err);
    remove(path);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* The estimate against what a trainer and a training step allocate. */
CCNN_TEST(memory_estimate_matches_allocations)
{
    const char *text = "input 3x32x32\nconv filters=32 size=3 pad=1\nbatchnorm\nrelu\nmaxpool size=2\n"
                       "conv filters=64 size=3 pad=1\nrelu\ndropout rate=0.3\nglobal_avgpool\ndense units=10\nsoftmax\n";
    ccnn_net *net = NULL;
    char err[256];
    REQUIRE(ccnn_net_parse(text, "m.net", &net, err, sizeof err) == 0);
    ccnn_memory_estimate m1, m2, m3;
    CHECK_RC(ccnn_net_memory(net, 1, &m1), 0);
    CHECK_RC(ccnn_net_memory(net, 2, &m2), 0);
    CHECK_RC(ccnn_net_memory(net, 3, &m3), 0);
    size_t np = ccnn_net_num_params(net), ns = ccnn_net_num_state(net);
    CHECK(m1.params == (2 * np + ns) * 4 && m1.optimizer == 2 * np * 4);
    CHECK(m1.total == m1.params + m1.optimizer + m1.activations);
    CHECK(m3.activations - m2.activations == m2.activations - m1.activations); /* linear in the batch */
    CHECK_RC(ccnn_net_memory(net, 0, &m1), CCNN_EINVAL);
#ifndef UNDER_ASAN
    const int batch = 32;
    ccnn_memory_estimate m;
    ccnn_net_memory(net, batch, &m);
    int threads = ccnn_get_num_threads();
    ccnn_set_num_threads(1); /* the estimate counts one image's im2col, as one thread uses */
    size_t before = heap_in_use();
    ccnn_trainer *tr = NULL;
    REQUIRE(ccnn_trainer_create(&tr, net) == 0);
    float *x = calloc((size_t)batch * 3 * 32 * 32, sizeof(float));
    uint8_t labels[32] = {0};
    CHECK_RC(ccnn_net_forward(net, x, batch, 1, 0), 0);
    CHECK_RC(ccnn_net_backward(net, labels, NULL), 0);
    double used = (double)(heap_in_use() - before) + (double)batch * 3 * 32 * 32 * 4; /* + the input batch */
    double est = (double)(m.optimizer + m.activations);
    CHECK_MSG(used > 0.6 * est && used < 1.5 * est, "estimated %.0f, allocated %.0f bytes", est, used);
    free(x);
    ccnn_trainer_free(tr);
    ccnn_set_num_threads(threads);
#endif
    ccnn_net_free(net);
}
