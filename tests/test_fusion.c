/* test_fusion.c - the engine's ReLU fusion (net.c, plan_fusion): batch norm
 * and add take over a ReLU that alone reads their output. The fused net
 * must give bitwise the same outputs, loss gradients, parameter gradients
 * and input gradient as the same net with every ReLU run as its own layer,
 * on every ISA this CPU runs and at 1 and 2 threads; and fusion must happen
 * exactly where it may (not where another layer reads the output too). */
#include "test.h"
#include "net/net_internal.h"
#include <stdlib.h>
#include <string.h>

/* conv-bn-relu, a residual add-relu, a bn read by two layers (no fusion),
 * an add read by two layers (no fusion), a three-input add-relu, and a
 * ReLU on the net input (no producer to fuse into). */
static const char net_text[] =
    "input 2x10x10 mean=0.1,0.2 std=0.5,0.7\n"
    "relu name=r0\n"
    "conv filters=6 size=3 pad=1 bias=0\n"
    "batchnorm\n"
    "relu name=stem\n"
    "conv filters=6 size=3 pad=1 bias=0\n"
    "batchnorm name=b1\n"
    "add input=b1,stem name=a1\n"
    "relu name=s1\n"
    "conv filters=6 size=3 pad=1 bias=0\n"
    "batchnorm name=shared\n"
    "relu name=r2\n"
    "add input=shared,r2 name=a2\n"
    "relu name=r3\n"
    "add input=a2,r3,s1 name=a3\n"
    "relu name=s3\n"
    "add input=s3,a2,s1 name=a4\n"
    "relu name=s4\n"
    "global_avgpool\n"
    "dense units=5\n"
    "softmax\n";

static const char *const fused_relus[] = {"stem", "s1", "s3", "s4"};
static const char *const lone_relus[] = {"r0", "r2", "r3"};

static int is_fused(ccnn_net *net, const char *name)
{
    int i = ccnn_net_find(net, name);
    return i >= 0 && net->layers[i]->fused;
}

/* One training step; copies of the output, parameter gradients and input
 * gradient, and the batch norm's running statistics (state). */
typedef struct { float *out, *grads, *dx, *state; } step_result;

static int run_step(ccnn_net *net, const float *x, const uint8_t *labels, int batch,
                    step_result *r)
{
    size_t in = 2 * 10 * 10 * (size_t)batch;
    r->out = test_alloc((size_t)batch * 5);
    r->grads = test_alloc(ccnn_net_num_params(net));
    r->dx = test_alloc(in);
    r->state = test_alloc(ccnn_net_num_state(net));
    int rc = ccnn_net_forward(net, x, batch, 1, 7);
    if (rc) return rc;
    memcpy(r->out, ccnn_net_output(net), (size_t)batch * 5 * sizeof(float));
    rc = ccnn_net_backward(net, labels, r->dx);
    if (rc) return rc;
    memcpy(r->grads, ccnn_net_grads(net), ccnn_net_num_params(net) * sizeof(float));
    memcpy(r->state, ccnn_net_state(net), ccnn_net_num_state(net) * sizeof(float));
    return 0;
}

static void free_step(step_result *r)
{
    free(r->out); free(r->grads); free(r->dx); free(r->state);
}

CCNN_TEST(fusion_bitwise_as_separate_relus)
{
    const int batch = 3;
    test_rng rng = {42};
    float *x = test_alloc(2 * 10 * 10 * batch);
    test_fill(&rng, x, 2 * 10 * 10 * batch, -1, 1);
    for (int i = 0; i < 2 * 10 * 10 * batch; i += 7) x[i] = 0; /* ReLU kinks at the input */
    uint8_t labels[3] = {1, 4, 0};
    ccnn_isa isas[3];
    int n_isa = test_isas(isas);
    ccnn_isa was = ccnn_get_isa();
    for (int ii = 0; ii < n_isa; ii++) {
        ccnn_set_isa(isas[ii]);
        for (int threads = 1; threads <= 2; threads++) {
            ccnn_set_num_threads(threads);
            ccnn_net *a = NULL, *b = NULL;
            REQUIRE(ccnn_net_parse(net_text, "fuse.net", &a, NULL, 0) == 0);
            REQUIRE(ccnn_net_parse(net_text, "fuse.net", &b, NULL, 0) == 0);
            CHECK_RC(ccnn_net_init(a, 5), 0);
            CHECK_RC(ccnn_net_init(b, 5), 0);
            b->no_fusion = 1;
            step_result ra, rb;
            CHECK_RC(run_step(a, x, labels, batch, &ra), 0);
            CHECK_RC(run_step(b, x, labels, batch, &rb), 0);
            for (size_t i = 0; i < sizeof fused_relus / sizeof *fused_relus; i++) {
                CHECK_MSG(is_fused(a, fused_relus[i]), "%s not fused", fused_relus[i]);
                CHECK_MSG(!is_fused(b, fused_relus[i]), "%s fused with no_fusion", fused_relus[i]);
            }
            for (size_t i = 0; i < sizeof lone_relus / sizeof *lone_relus; i++)
                CHECK_MSG(!is_fused(a, lone_relus[i]), "%s fused but its input has other readers",
                          lone_relus[i]);
            const char *isa = ccnn_isa_name(isas[ii]);
            CHECK_MSG(!memcmp(ra.out, rb.out, (size_t)batch * 5 * sizeof(float)),
                      "%s, %d threads: outputs differ", isa, threads);
            CHECK_MSG(!memcmp(ra.grads, rb.grads, ccnn_net_num_params(a) * sizeof(float)),
                      "%s, %d threads: parameter gradients differ", isa, threads);
            CHECK_MSG(!memcmp(ra.dx, rb.dx, 2 * 10 * 10 * (size_t)batch * sizeof(float)),
                      "%s, %d threads: input gradients differ", isa, threads);
            CHECK_MSG(!memcmp(ra.state, rb.state, ccnn_net_num_state(a) * sizeof(float)),
                      "%s, %d threads: running statistics differ", isa, threads);
            /* a bigger batch re-plans (buffers are allocated again) */
            float *x2 = test_alloc(2 * 10 * 10 * 8);
            test_fill(&rng, x2, 2 * 10 * 10 * 8, -1, 1);
            CHECK_RC(ccnn_net_forward(a, x2, 8, 0, 1), 0);
            CHECK_RC(ccnn_net_forward(b, x2, 8, 0, 1), 0);
            CHECK_MSG(!memcmp(ccnn_net_output(a), ccnn_net_output(b), 8 * 5 * sizeof(float)),
                      "%s, %d threads: evaluation outputs differ", isa, threads);
            CHECK(is_fused(a, "stem"));
            free(x2);
            free_step(&ra);
            free_step(&rb);
            ccnn_net_free(a);
            ccnn_net_free(b);
        }
    }
    ccnn_set_isa(was);
    ccnn_set_num_threads(0);
    free(x);
}
