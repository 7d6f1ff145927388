/* test_netfile.c - network files (docs/netfile.md): the shipped nets in
 * nets/, text -> net -> text round trips over every layer type and option,
 * every error message with its FILE:LINE, and the equivalence of the file
 * format with the C API (ccnn_net_create + ccnn_net_add).
 *
 * Expected shapes and parameter counts are worked out by hand here, not
 * taken from the library. Paths are relative to the repository root, where
 * the tests run. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------- */

typedef struct {
    const char *name, *type;
    int c, h, w;
    size_t params;
} want_layer;

/* Checks every layer of `net` against want[0..n-1] and the total parameter
 * count against the sum of want[].params. */
static void check_layers(const ccnn_net *net, const want_layer *want, int n, const char *what)
{
    CHECK_MSG(ccnn_net_num_layers(net) == n, "%s: %d layers, expected %d", what,
              ccnn_net_num_layers(net), n);
    if (ccnn_net_num_layers(net) != n) return;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        ccnn_layer_info li;
        CHECK_RC(ccnn_net_layer_info(net, i, &li), CCNN_OK);
        CHECK_MSG(!strcmp(li.name, want[i].name), "%s: layer %d is named '%s', expected '%s'", what,
                  i, li.name, want[i].name);
        CHECK_MSG(!strcmp(li.type, want[i].type), "%s: layer %d is a %s, expected %s", what, i,
                  li.type, want[i].type);
        CHECK_MSG(li.c == want[i].c && li.h == want[i].h && li.w == want[i].w,
                  "%s: layer %d (%s) gives %dx%dx%d, expected %dx%dx%d", what, i, li.name, li.c,
                  li.h, li.w, want[i].c, want[i].h, want[i].w);
        CHECK_MSG(li.params == want[i].params, "%s: layer %d (%s) has %zu parameters, expected %zu",
                  what, i, li.name, li.params, want[i].params);
        total += want[i].params;
    }
    CHECK_MSG(ccnn_net_num_params(net) == total, "%s: %zu parameters, expected %zu", what,
              ccnn_net_num_params(net), total);
}

/* Two nets describe the same network: layers, shapes, parameters, tensors,
 * input and training configuration. */
static void check_same_net(ccnn_net *a, ccnn_net *b, const char *what)
{
    CHECK_MSG(ccnn_net_num_layers(a) == ccnn_net_num_layers(b), "%s: %d vs %d layers", what,
              ccnn_net_num_layers(a), ccnn_net_num_layers(b));
    if (ccnn_net_num_layers(a) != ccnn_net_num_layers(b)) return;
    for (int i = 0; i < ccnn_net_num_layers(a); i++) {
        ccnn_layer_info x, y;
        CHECK_RC(ccnn_net_layer_info(a, i, &x), CCNN_OK);
        CHECK_RC(ccnn_net_layer_info(b, i, &y), CCNN_OK);
        CHECK_MSG(!strcmp(x.name, y.name) && !strcmp(x.type, y.type) && x.c == y.c && x.h == y.h &&
                      x.w == y.w && x.params == y.params && x.flops == y.flops,
                  "%s: layer %d differs: %s %s %dx%dx%d %zu vs %s %s %dx%dx%d %zu", what, i, x.name,
                  x.type, x.c, x.h, x.w, x.params, y.name, y.type, y.c, y.h, y.w, y.params);
    }
    CHECK(ccnn_net_num_params(a) == ccnn_net_num_params(b));
    CHECK(ccnn_net_num_state(a) == ccnn_net_num_state(b));
    CHECK(ccnn_net_num_classes(a) == ccnn_net_num_classes(b));
    CHECK_MSG(ccnn_net_num_tensors(a) == ccnn_net_num_tensors(b), "%s: %d vs %d tensors", what,
              ccnn_net_num_tensors(a), ccnn_net_num_tensors(b));
    for (int i = 0; i < ccnn_net_num_tensors(a) && i < ccnn_net_num_tensors(b); i++) {
        ccnn_tensor_info x, y;
        CHECK_RC(ccnn_net_tensor(a, i, &x), CCNN_OK);
        CHECK_RC(ccnn_net_tensor(b, i, &y), CCNN_OK);
        CHECK_MSG(!strcmp(x.name, y.name) && x.ndim == y.ndim && x.is_state == y.is_state &&
                      !memcmp(x.dims, y.dims, sizeof x.dims),
                  "%s: tensor %d: %s vs %s", what, i, x.name, y.name);
    }
    const ccnn_input_spec *ia = ccnn_net_input(a), *ib = ccnn_net_input(b);
    CHECK(ia->c == ib->c && ia->h == ib->h && ia->w == ib->w);
    for (int c = 0; c < ia->c && c < CCNN_MAX_CHANNELS; c++)
        CHECK_MSG(ia->mean[c] == ib->mean[c] && ia->std[c] == ib->std[c], "%s: channel %d", what, c);
    const ccnn_train_config *ta = ccnn_net_train_config(a), *tb = ccnn_net_train_config(b);
    CHECK(ta->optimizer == tb->optimizer && ta->lr == tb->lr && ta->momentum == tb->momentum &&
          ta->nesterov == tb->nesterov && ta->weight_decay == tb->weight_decay &&
          ta->beta1 == tb->beta1 && ta->beta2 == tb->beta2 && ta->adam_eps == tb->adam_eps &&
          ta->schedule == tb->schedule && ta->step_epochs == tb->step_epochs &&
          ta->gamma == tb->gamma && ta->epochs == tb->epochs && ta->batch == tb->batch &&
          ta->augment_crop == tb->augment_crop && ta->augment_flip == tb->augment_flip &&
          ta->seed == tb->seed);
}

/* text -> net -> text -> net -> text: both texts are identical and both
 * nets are the same. Returns the first net (caller frees) or NULL. */
static ccnn_net *round_trip(const char *text, const char *what)
{
    char err[512] = "";
    ccnn_net *a = NULL, *b = NULL;
    char *t1 = NULL, *t2 = NULL;
    int rc = ccnn_net_parse(text, what, &a, err, sizeof err);
    CHECK_MSG(rc == CCNN_OK, "%s: parse returned %d: %s", what, rc, err);
    if (rc) return NULL;
    CHECK_RC(ccnn_net_to_text(a, &t1), CCNN_OK);
    if (!t1) { ccnn_net_free(a); return NULL; }
    rc = ccnn_net_parse(t1, "written", &b, err, sizeof err);
    CHECK_MSG(rc == CCNN_OK, "%s: the written text does not parse (%d): %s\n%s", what, rc, err, t1);
    if (rc == CCNN_OK) {
        CHECK_RC(ccnn_net_to_text(b, &t2), CCNN_OK);
        CHECK_MSG(t2 && !strcmp(t1, t2), "%s: text changed on the round trip:\n%s---\n%s", what, t1,
                  t2 ? t2 : "(null)");
        check_same_net(a, b, what);
    }
    free(t1);
    free(t2);
    ccnn_net_free(b);
    return a;
}

/* The text of `net`, or NULL. */
static char *text_of(const ccnn_net *net)
{
    char *t = NULL;
    CHECK_RC(ccnn_net_to_text(net, &t), CCNN_OK);
    return t;
}

/* ---- the shipped nets --------------------------------------------------------- */

#define DEFAULT_NET "nets/fashion-default.net"
#define RESNET_NET "nets/fashion-resnet.net"

static const want_layer default_layers[] = {
    {"conv1", "conv", 32, 28, 28, 32 * 1 * 3 * 3 + 32},
    {"batchnorm2", "batchnorm", 32, 28, 28, 2 * 32},
    {"relu3", "relu", 32, 28, 28, 0},
    {"maxpool4", "maxpool", 32, 14, 14, 0},
    {"conv5", "conv", 64, 14, 14, 64 * 32 * 3 * 3 + 64},
    {"batchnorm6", "batchnorm", 64, 14, 14, 2 * 64},
    {"relu7", "relu", 64, 14, 14, 0},
    {"maxpool8", "maxpool", 64, 7, 7, 0},
    {"dense9", "dense", 128, 1, 1, 64 * 7 * 7 * 128 + 128},
    {"relu10", "relu", 128, 1, 1, 0},
    {"dropout11", "dropout", 128, 1, 1, 0},
    {"dense12", "dense", 10, 1, 1, 128 * 10 + 10},
    {"softmax13", "softmax", 10, 1, 1, 0},
};

CCNN_TEST(netfile_default_net)
{
    char err[512] = "";
    ccnn_net *net = NULL;
    int rc = ccnn_net_load_file(DEFAULT_NET, &net, err, sizeof err);
    CHECK_MSG(rc == CCNN_OK, "%s", err);
    REQUIRE(rc == CCNN_OK && net);
    check_layers(net, default_layers, (int)(sizeof default_layers / sizeof default_layers[0]),
                 DEFAULT_NET);
    CHECK(ccnn_net_num_params(net) == 421834); /* the sum of the table, written out */
    CHECK(ccnn_net_num_state(net) == 2 * 32 + 2 * 64); /* running mean and variance */
    CHECK(ccnn_net_num_classes(net) == 10);
    /* tensors: conv1 w,b; bn w,b,rm,rv; conv5 w,b; bn x4; dense9 w,b; dense12 w,b */
    CHECK(ccnn_net_num_tensors(net) == 2 + 4 + 2 + 4 + 2 + 2);
    ccnn_tensor_info ti;
    CHECK_RC(ccnn_net_tensor(net, 6, &ti), CCNN_OK);
    CHECK(!strcmp(ti.name, "conv5.weight") && ti.ndim == 4 && ti.dims[0] == 64 && ti.dims[1] == 32 &&
          ti.dims[2] == 3 && ti.dims[3] == 3 && !ti.is_state);

    const ccnn_input_spec *in = ccnn_net_input(net);
    CHECK(in->c == 1 && in->h == 28 && in->w == 28);
    CHECK(in->mean[0] == 0.2860f && in->std[0] == 0.3530f);

    const ccnn_train_config *tc = ccnn_net_train_config(net);
    ccnn_train_config d = ccnn_train_config_default();
    CHECK(tc->optimizer == CCNN_OPT_ADAM && tc->lr == 0.001f && tc->batch == 64 && tc->epochs == 15);
    CHECK(tc->weight_decay == 0.0005f);
    /* everything else keeps its default */
    CHECK(tc->momentum == d.momentum && tc->nesterov == 0 &&
          tc->beta1 == 0.9f && tc->beta2 == 0.999f && tc->adam_eps == 1e-8f &&
          tc->schedule == CCNN_SCHED_COSINE && tc->step_epochs == d.step_epochs &&
          tc->gamma == d.gamma && tc->augment_crop == 0 && tc->augment_flip == 0 && tc->seed == 1);
    ccnn_net_free(net);
}

/* stem, block 1 (identity shortcut), block 2 (projection shortcut), block 3
 * (identity), block 4 (projection) */
static const want_layer resnet_layers[] = {
    {"conv1", "conv", 32, 28, 28, 32 * 1 * 9},
    {"batchnorm2", "batchnorm", 32, 28, 28, 64},
    {"stem", "relu", 32, 28, 28, 0},
    {"conv4", "conv", 32, 28, 28, 32 * 32 * 9},
    {"batchnorm5", "batchnorm", 32, 28, 28, 64},
    {"relu6", "relu", 32, 28, 28, 0},
    {"conv7", "conv", 32, 28, 28, 32 * 32 * 9},
    {"b1", "batchnorm", 32, 28, 28, 64},
    {"add9", "add", 32, 28, 28, 0},
    {"s1", "relu", 32, 28, 28, 0},
    {"conv11", "conv", 64, 14, 14, 64 * 32 * 9},
    {"batchnorm12", "batchnorm", 64, 14, 14, 128},
    {"relu13", "relu", 64, 14, 14, 0},
    {"conv14", "conv", 64, 14, 14, 64 * 64 * 9},
    {"b2", "batchnorm", 64, 14, 14, 128},
    {"p2", "conv", 64, 14, 14, 64 * 32},
    {"q2", "batchnorm", 64, 14, 14, 128},
    {"add18", "add", 64, 14, 14, 0},
    {"t2", "relu", 64, 14, 14, 0},
    {"conv20", "conv", 64, 14, 14, 64 * 64 * 9},
    {"batchnorm21", "batchnorm", 64, 14, 14, 128},
    {"relu22", "relu", 64, 14, 14, 0},
    {"conv23", "conv", 64, 14, 14, 64 * 64 * 9},
    {"b3", "batchnorm", 64, 14, 14, 128},
    {"add25", "add", 64, 14, 14, 0},
    {"s2", "relu", 64, 14, 14, 0},
    {"conv27", "conv", 128, 7, 7, 128 * 64 * 9},
    {"batchnorm28", "batchnorm", 128, 7, 7, 256},
    {"relu29", "relu", 128, 7, 7, 0},
    {"conv30", "conv", 128, 7, 7, 128 * 128 * 9},
    {"b4", "batchnorm", 128, 7, 7, 256},
    {"p4", "conv", 128, 7, 7, 128 * 64},
    {"q4", "batchnorm", 128, 7, 7, 256},
    {"add34", "add", 128, 7, 7, 0},
    {"relu35", "relu", 128, 7, 7, 0},
    {"global_avgpool36", "global_avgpool", 128, 1, 1, 0},
    {"dense37", "dense", 10, 1, 1, 128 * 10 + 10},
    {"softmax38", "softmax", 10, 1, 1, 0},
};

CCNN_TEST(netfile_resnet_net)
{
    char err[512] = "";
    ccnn_net *net = NULL;
    int rc = ccnn_net_load_file(RESNET_NET, &net, err, sizeof err);
    CHECK_MSG(rc == CCNN_OK, "%s", err);
    REQUIRE(rc == CCNN_OK && net);
    check_layers(net, resnet_layers, (int)(sizeof resnet_layers / sizeof resnet_layers[0]), RESNET_NET);
    CHECK(ccnn_net_num_params(net) == 382058);
    CHECK(ccnn_net_num_state(net) == 2 * (32 + 32 + 32 + 64 + 64 + 64 + 64 + 64 + 128 + 128 + 128));
    CHECK(ccnn_net_num_classes(net) == 10);
    const ccnn_input_spec *in = ccnn_net_input(net);
    CHECK(in->c == 1 && in->h == 28 && in->w == 28 && in->mean[0] == 0.2860f && in->std[0] == 0.3530f);
    const ccnn_train_config *tc = ccnn_net_train_config(net);
    CHECK(tc->optimizer == CCNN_OPT_SGD && tc->lr == 0.05f && tc->momentum == 0.9f &&
          tc->nesterov == 1 && tc->weight_decay == 0.0005f && tc->schedule == CCNN_SCHED_COSINE &&
          tc->epochs == 20 && tc->batch == 128 && tc->augment_crop == 2 && tc->augment_flip == 1 &&
          tc->seed == 1);
    ccnn_net_free(net);
}

CCNN_TEST(netfile_shipped_nets_round_trip)
{
    const char *paths[] = {DEFAULT_NET, RESNET_NET};
    for (int i = 0; i < 2; i++) {
        char err[512] = "";
        ccnn_net *net = NULL;
        int rc = ccnn_net_load_file(paths[i], &net, err, sizeof err);
        CHECK_MSG(rc == CCNN_OK, "%s", err);
        if (rc) continue;
        char *t = text_of(net);
        if (t) {
            ccnn_net *again = round_trip(t, paths[i]);
            if (again) check_same_net(net, again, paths[i]);
            ccnn_net_free(again);
        }
        free(t);
        ccnn_net_free(net);
    }
}

/* ---- round trips over every layer type and option ------------------------------- */

/* Every layer type, every option, per-channel normalisation, and every key
 * of the train line (seed at its maximum). Shapes by hand:
 *   c1:  H = (16+1+2 - 2*(3-1) - 1)/1 + 1 = 15, W = (12+3+0 - 1*(5-1) - 1)/2 + 1 = 6
 *   up:  H = (15-1)*2 - 1 - 1 + 1*(3-1) + 1 + 1 = 30, W = (6-1)*2 - 2 + 2 + 1 + 1 = 12
 *   pool 2x2 -> 15x6; avgpool 3x2 stride 1 pad 1,1,0,1: (15+2-3)+1 = 15, (6+1-2)+1 = 6 */
static const char all_layers_net[] =
    "# every layer type and option\n"
    "input 3x16x12 mean=0.1,0.2,0.3 std=0.5,0.25,2\n"
    "conv name=c1 filters=8 size=3x5 stride=1x2 pad=1,2,3,0 dilation=2x1 groups=1 bias=0 init=xavier\n"
    "batchnorm eps=0.001 momentum=0.2\n"
    "leaky_relu slope=0.2\n"
    "conv name=g filters=8 size=3 pad=1 groups=4 init=he bias=1\n"
    "deconv name=up filters=4 size=3 stride=2 pad=1 output_pad=1 groups=2\n"
    "sigmoid\n"
    "maxpool size=2\n"
    "avgpool size=3x2 stride=1 pad=1,1,0,1\n"
    "tanh name=t\n"
    "conv name=br input=t filters=6 size=1\n"
    "conv name=t2 input=t filters=4 size=3 pad=1\n"
    "add name=sum input=t,t2,t\n"
    "concat name=cat input=sum,br\n"
    "global_avgpool name=gap input=cat\n"
    "flatten name=fl input=cat\n"
    "dense name=d1 input=gap units=5\n"
    "dense name=d2 input=fl units=5 bias=0 init=xavier\n"
    "add input=d1,d2\n"
    "dropout rate=0.25\n"
    "dense units=3\n"
    "softmax\n"
    "train optimizer=adamw lr=0.0025 momentum=0.8 nesterov=1 weight_decay=0.01 beta1=0.85 "
    "beta2=0.995 eps=1e-7 schedule=step step=3 gamma=0.5 epochs=7 batch=32 crop=3 flip=1 "
    "seed=18446744073709551615\n";

static const want_layer all_layers_want[] = {
    {"c1", "conv", 8, 15, 6, 8 * 3 * 3 * 5},
    {"batchnorm2", "batchnorm", 8, 15, 6, 16},
    {"leaky_relu3", "leaky_relu", 8, 15, 6, 0},
    {"g", "conv", 8, 15, 6, 8 * (8 / 4) * 9 + 8},
    {"up", "deconv", 4, 30, 12, 8 * (4 / 2) * 9 + 4},
    {"sigmoid6", "sigmoid", 4, 30, 12, 0},
    {"maxpool7", "maxpool", 4, 15, 6, 0},
    {"avgpool8", "avgpool", 4, 15, 6, 0},
    {"t", "tanh", 4, 15, 6, 0},
    {"br", "conv", 6, 15, 6, 4 * 6 + 6},
    {"t2", "conv", 4, 15, 6, 4 * 4 * 9 + 4},
    {"sum", "add", 4, 15, 6, 0},
    {"cat", "concat", 10, 15, 6, 0},
    {"gap", "global_avgpool", 10, 1, 1, 0},
    {"fl", "flatten", 900, 1, 1, 0},
    {"d1", "dense", 5, 1, 1, 10 * 5 + 5},
    {"d2", "dense", 5, 1, 1, 900 * 5},
    {"add18", "add", 5, 1, 1, 0},
    {"dropout19", "dropout", 5, 1, 1, 0},
    {"dense20", "dense", 3, 1, 1, 5 * 3 + 3},
    {"softmax21", "softmax", 3, 1, 1, 0},
};

CCNN_TEST(netfile_round_trip_every_option)
{
    ccnn_net *net = round_trip(all_layers_net, "all_layers");
    REQUIRE(net);
    check_layers(net, all_layers_want, (int)(sizeof all_layers_want / sizeof all_layers_want[0]),
                 "all_layers");
    const ccnn_input_spec *in = ccnn_net_input(net);
    CHECK(in->c == 3 && in->h == 16 && in->w == 12);
    CHECK(in->mean[0] == 0.1f && in->mean[1] == 0.2f && in->mean[2] == 0.3f);
    CHECK(in->std[0] == 0.5f && in->std[1] == 0.25f && in->std[2] == 2.0f);
    const ccnn_train_config *tc = ccnn_net_train_config(net);
    CHECK(tc->optimizer == CCNN_OPT_ADAMW);
    CHECK(tc->lr == 0.0025f);
    CHECK(tc->momentum == 0.8f);
    CHECK(tc->nesterov == 1);
    CHECK(tc->weight_decay == 0.01f);
    CHECK(tc->beta1 == 0.85f);
    CHECK(tc->beta2 == 0.995f);
    CHECK(tc->adam_eps == 1e-7f);
    CHECK(tc->schedule == CCNN_SCHED_STEP);
    CHECK(tc->step_epochs == 3);
    CHECK(tc->gamma == 0.5f);
    CHECK(tc->epochs == 7);
    CHECK(tc->batch == 32);
    CHECK(tc->augment_crop == 3);
    CHECK(tc->augment_flip == 1);
    CHECK(tc->seed == UINT64_MAX);

    /* the written text says every resolved option */
    char *t = text_of(net);
    REQUIRE(t);
    static const char *const lines[] = {
        "input 3x16x12 mean=0.100000001,0.200000003,0.300000012 std=0.5,0.25,2\n",
        "\nconv name=c1 filters=8 size=3x5 stride=1x2 pad=1,2,3,0 dilation=2x1 groups=1 bias=0 init=xavier\n",
        "\nbatchnorm eps=0.00100000005 momentum=0.200000003\n",
        "\nleaky_relu slope=0.200000003\n",
        "\nconv name=g filters=8 size=3x3 stride=1x1 pad=1,1,1,1 dilation=1x1 groups=4 bias=1 init=he\n",
        "\ndeconv name=up filters=4 size=3x3 stride=2x2 pad=1,1,1,1 dilation=1x1 groups=2 output_pad=1x1 bias=1 init=he\n",
        "\nsigmoid\n",
        "\nmaxpool size=2x2 stride=2x2 pad=0,0,0,0\n",
        "\navgpool size=3x2 stride=1x1 pad=1,1,0,1\n",
        "\ntanh name=t\n",
        "\nconv name=br input=t filters=6 size=1x1 stride=1x1 pad=0,0,0,0 dilation=1x1 groups=1 bias=1 init=he\n",
        "\nadd name=sum input=t,t2,t\n",
        "\nconcat name=cat input=sum,br\n",
        "\nglobal_avgpool name=gap input=cat\n",
        "\nflatten name=fl input=cat\n",
        "\ndense name=d1 input=gap units=5 bias=1 init=he\n",
        "\ndense name=d2 input=fl units=5 bias=0 init=xavier\n",
        "\nadd input=d1,d2\n",
        "\ndropout rate=0.25\n",
        "\ndense units=3 bias=1 init=he\n",
        "\nsoftmax\n",
        "\ntrain optimizer=adamw lr=0.00249999994 momentum=0.800000012 nesterov=1 "
        "weight_decay=0.00999999978 beta1=0.850000024 beta2=0.995000005 eps=1.00000001e-07 "
        "schedule=step step=3 gamma=0.5 epochs=7 batch=32 crop=3 flip=1 seed=18446744073709551615\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CHECK_MSG(strstr(t, lines[i]) != NULL, "the text lacks %s in:\n%s", lines[i], t);
    CHECK(!strncmp(t, lines[0], strlen(lines[0])));
    free(t);
    ccnn_net_free(net);
}

/* Sizes and pads as HxW, dilated deconv, input=input, names with - and _,
 * and defaults everywhere else (no train line).
 *   deconv: H = (5-1)*3 - 0 - 1 + 2*(2-1) + 1 + 1 = 15, W = (7-1)*2 - 2 - 0 + (3-1) + 1 + 1 = 14
 *   conv:   H = (15+2 - 2*(3-1) - 1)/2 + 1 = 7,      W = (14+0 - 2*(3-1) - 1)/2 + 1 = 5
 *   avgpool 2x3 (stride = size): H = (7-2)/2 + 1 = 3, W = (5-3)/3 + 1 = 1 */
static const char hxw_net[] =
    "input 2x5x7\n"
    "deconv name=Up_1 input=input filters=3 size=2x3 stride=3x2 pad=0,1,2,0 dilation=2x1 output_pad=1x1\n"
    "conv name=my-conv_2 filters=2 size=3 stride=2 pad=1x0 dilation=2\n"
    "leaky_relu\n"
    "avgpool size=2x3\n"
    "dropout\n"
    "flatten\n"
    "softmax\n";

static const want_layer hxw_want[] = {
    {"Up_1", "deconv", 3, 15, 14, 2 * 3 * 2 * 3 + 3},
    {"my-conv_2", "conv", 2, 7, 5, 2 * 3 * 9 + 2},
    {"leaky_relu3", "leaky_relu", 2, 7, 5, 0},
    {"avgpool4", "avgpool", 2, 3, 1, 0},
    {"dropout5", "dropout", 2, 3, 1, 0},
    {"flatten6", "flatten", 6, 1, 1, 0},
    {"softmax7", "softmax", 6, 1, 1, 0},
};

CCNN_TEST(netfile_round_trip_defaults_and_hxw)
{
    ccnn_net *net = round_trip(hxw_net, "hxw");
    REQUIRE(net);
    check_layers(net, hxw_want, (int)(sizeof hxw_want / sizeof hxw_want[0]), "hxw");
    char *t = text_of(net);
    REQUIRE(t);
    /* defaults: input mean 0 std 1; leaky slope 0.01; dropout rate 0.5 in a file */
    CHECK(strstr(t, "input 2x5x7 mean=0,0 std=1,1\n") == t);
    CHECK(strstr(t, "\ndeconv name=Up_1 input=input filters=3 size=2x3 stride=3x2 pad=0,1,2,0 "
                    "dilation=2x1 groups=1 output_pad=1x1 bias=1 init=he\n"));
    CHECK(strstr(t, "\nconv name=my-conv_2 filters=2 size=3x3 stride=2x2 pad=1,1,0,0 dilation=2x2 "
                    "groups=1 bias=1 init=he\n"));
    CHECK(strstr(t, "\nleaky_relu slope=0.00999999978\n"));
    CHECK(strstr(t, "\navgpool size=2x3 stride=2x3 pad=0,0,0,0\n"));
    CHECK(strstr(t, "\ndropout rate=0.5\n"));
    CHECK(strstr(t, "\ntrain optimizer=adam lr=0.00100000005 momentum=0.899999976 nesterov=0 "
                    "weight_decay=0 beta1=0.899999976 beta2=0.999000013 eps=9.99999994e-09 "
                    "schedule=constant step=10 gamma=0.100000001 epochs=2 batch=64 crop=0 flip=0 seed=1\n"));
    free(t);
    /* the train defaults are ccnn_train_config_default() */
    ccnn_train_config d = ccnn_train_config_default(), *tc = ccnn_net_train_config(net);
    CHECK(d.optimizer == CCNN_OPT_ADAM && d.lr == 1e-3f && d.batch == 64 && d.epochs == 2 &&
          d.beta1 == 0.9f && d.beta2 == 0.999f && d.adam_eps == 1e-8f &&
          d.schedule == CCNN_SCHED_CONSTANT && d.seed == 1);
    CHECK(!memcmp(&d, tc, sizeof d));
    ccnn_net_free(net);
}

/* Other spellings read to the same net: "A,B" pairs, pad "P", CRLF line
 * ends, tabs, comments after options, no final newline, options in any
 * order, a repeated option (the last wins), the train line anywhere. */
CCNN_TEST(netfile_equivalent_spellings)
{
    static const char a[] =
        "input 1x9x9\n"
        "conv filters=4 size=3 stride=2 pad=1 dilation=1\n"
        "dense units=3\n"
        "softmax\n"
        "train epochs=3 optimizer=sgd\n";
    static const char b[] =
        "  # leading comment\r\n"
        "\r\n"
        "\tinput   1x9x9   mean=0 std=1 # trailing comment\r\n"
        "train optimizer=sgd epochs=3\r\n"
        "conv pad=1,1,1,1 stride=2,2 size=3x3 filters=5 filters=4 dilation=1x1 groups=1\r\n"
        "dense units=3 bias=1 init=he\t# comment\r\n"
        "softmax";
    char err[256] = "";
    ccnn_net *na = NULL, *nb = NULL;
    CHECK_RC(ccnn_net_parse(a, "a", &na, err, sizeof err), CCNN_OK);
    CHECK_RC(ccnn_net_parse(b, "b", &nb, err, sizeof err), CCNN_OK);
    CHECK_MSG(!err[0], "%s", err);
    if (na && nb) {
        check_same_net(na, nb, "spellings");
        char *ta = text_of(na), *tb = text_of(nb);
        CHECK(ta && tb && !strcmp(ta, tb));
        free(ta);
        free(tb);
        ccnn_layer_info li;
        CHECK_RC(ccnn_net_layer_info(na, 0, &li), CCNN_OK);
        CHECK(li.c == 4 && li.h == 5 && li.w == 5 && li.params == 4 * 9 + 4);
    }
    ccnn_net_free(na);
    ccnn_net_free(nb);
}

/* ---- errors ------------------------------------------------------------------- */

typedef struct {
    const char *text;
    int rc;
    const char *msg;       /* the whole message, "t.net:LINE: ..." */
    int exact;             /* 1: msg is the whole message; 0: a prefix */
} bad_net;

#define L1 "input 1x8x8\n"
#define TAIL "flatten\nsoftmax\n"

static const bad_net bad_nets[] = {
    /* the input line */
    {"", CCNN_EINVAL, "t.net:1: no 'input CxHxW' line", 1},
    {"# only\n\n  # comments\n", CCNN_EINVAL, "t.net:3: no 'input CxHxW' line", 1},
    {"conv filters=2 size=3\nsoftmax\n", CCNN_EINVAL,
     "t.net:1: the first line must be 'input CxHxW', not 'conv'", 1},
    {"# net\n\nrelu\ninput 1x8x8\n", CCNN_EINVAL,
     "t.net:3: the first line must be 'input CxHxW', not 'relu'", 1},
    {"train epochs=1\n" L1 TAIL, CCNN_EINVAL,
     "t.net:1: the first line must be 'input CxHxW', not 'train'", 1},
    {L1 "flatten\n\ninput 1x8x8\nsoftmax\n", CCNN_EINVAL, "t.net:4: a second input line", 1},
    {"input\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got ''", 1},
    {"input 1x28\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '1x28'", 1},
    {"input 1x28x28x3\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '1x28x28x3'", 1},
    {"input 1x28x28junk\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '1x28x28junk'", 1},
    {"input 17x8x8\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '17x8x8'", 1},
    {"input 0x8x8\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '0x8x8'", 1},
    {"input 1x0x8\n", CCNN_EINVAL, "t.net:1: input: expected 'input CxHxW' with C from 1 to 16, got '1x0x8'", 1},
    {"input 1x8x8 mean\n", CCNN_EINVAL, "t.net:1: input: expected key=value, got 'mean'", 1},
    {"input 1x8x8 scale=2\n", CCNN_EINVAL, "t.net:1: input: unknown option 'scale' (known: mean, std)", 1},
    {"input 3x8x8 mean=0.1,0.2\n", CCNN_EINVAL,
     "t.net:1: input: bad value '0.1,0.2' for mean: expected one number or 3 separated by commas", 1},
    {"input 1x8x8 mean=x\n", CCNN_EINVAL,
     "t.net:1: input: bad value 'x' for mean: expected one number or 1 separated by commas", 1},
    {"input 1x8x8 mean=nan\n", CCNN_EINVAL,
     "t.net:1: input: bad value 'nan' for mean: expected one number or 1 separated by commas", 1},
    {"input 3x8x8 mean=0.1,,0.2,0.3\n", CCNN_EINVAL, /* an empty item is no value */
     "t.net:1: input: bad value '0.1,,0.2,0.3' for mean: expected one number or 3 separated by commas", 1},
    {"input 1x8x8 std=1,\n", CCNN_EINVAL,
     "t.net:1: input: bad value '1,' for std: expected one number or 1 separated by commas", 1},
    {"input 1x8x8 std=0\n", CCNN_EINVAL, "t.net:1: input: std must be > 0", 1},
    {"input 2x8x8 std=1,-1\n", CCNN_EINVAL, "t.net:1: input: std must be > 0", 1},
    {"input 1x8x8\n", CCNN_EINVAL, "t.net:1: the network has no layers", 1},

    /* layer lines */
    {L1 "\n# c\nconvv filters=2 size=3\nsoftmax\n", CCNN_EINVAL,
     "t.net:4: unknown layer 'convv' (known: conv, deconv, dense, relu, leaky_relu, sigmoid, tanh, "
     "maxpool, avgpool, global_avgpool, batchnorm, dropout, flatten, add, concat, softmax)", 1},
    {L1 "conv filters=2 size=3 units=4\n", CCNN_EINVAL,
     "t.net:2: conv: unknown option 'units' (known: name, input, filters, size, stride, pad, dilation, "
     "groups, bias, init)", 1},
    {L1 "deconv filters=2 size=3 slope=1\n", CCNN_EINVAL,
     "t.net:2: deconv: unknown option 'slope' (known: name, input, filters, size, stride, pad, dilation, "
     "groups, output_pad, bias, init)", 1},
    {L1 "dense units=2 filters=2\n", CCNN_EINVAL,
     "t.net:2: dense: unknown option 'filters' (known: name, input, units, bias, init)", 1},
    {L1 "maxpool size=2 dilation=2\n", CCNN_EINVAL,
     "t.net:2: maxpool: unknown option 'dilation' (known: name, input, size, stride, pad)", 1},
    {L1 "avgpool size=2 groups=2\n", CCNN_EINVAL,
     "t.net:2: avgpool: unknown option 'groups' (known: name, input, size, stride, pad)", 1},
    {L1 "relu slope=0.1\n", CCNN_EINVAL, "t.net:2: relu: unknown option 'slope' (known: name, input)", 1},
    {L1 "leaky_relu rate=0.1\n", CCNN_EINVAL,
     "t.net:2: leaky_relu: unknown option 'rate' (known: name, input, slope)", 1},
    {L1 "dropout slope=0.1\n", CCNN_EINVAL,
     "t.net:2: dropout: unknown option 'slope' (known: name, input, rate)", 1},
    {L1 "batchnorm rate=0.1\n", CCNN_EINVAL,
     "t.net:2: batchnorm: unknown option 'rate' (known: name, input, eps, momentum)", 1},
    {L1 "softmax =3\n", CCNN_EINVAL, "t.net:2: softmax: unknown option '' (known: name, input)", 1},
    {L1 "conv filters=2 size 3\n", CCNN_EINVAL, "t.net:2: conv: expected key=value, got 'size'", 1},
    {L1 "conv filters=0 size=3\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '0' for filters: expected a positive integer", 1},
    {L1 "conv filters=2.5 size=3\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '2.5' for filters: expected a positive integer", 1},
    {L1 "dense units=ten\n", CCNN_EINVAL, "t.net:2: dense: bad value 'ten' for units: expected a positive integer", 1},
    {L1 "conv filters=2 size=3x\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '3x' for size: expected N or HxW, positive", 1},
    {L1 "conv filters=2 size=0\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '0' for size: expected N or HxW, positive", 1},
    {L1 "conv filters=2 size=3 stride=0\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '0' for stride: expected N or HxW, positive", 1},
    {L1 "conv filters=2 size=3 pad=1,2\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '1,2' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT", 1},
    {L1 "conv filters=2 size=3 pad=-1\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '-1' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT", 1},
    {L1 "conv filters=2 size=3 pad=1,1,1,1,1\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '1,1,1,1,1' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT", 1},
    {L1 "conv filters=2 size=3 pad=1,,2,3,4\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '1,,2,3,4' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT", 1},
    {L1 "conv filters=2 size=3 pad=1x\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '1x' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT", 1},
    {L1 "conv filters=2 size=3 dilation=0x1\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '0x1' for dilation: expected N or HxW, positive", 1},
    {L1 "conv filters=2 size=3 groups=0\n", CCNN_EINVAL,
     "t.net:2: conv: bad value '0' for groups: expected a positive integer", 1},
    {L1 "deconv filters=2 size=3 output_pad=-1\n", CCNN_EINVAL,
     "t.net:2: deconv: bad value '-1' for output_pad: expected N or HxW", 1},
    {L1 "conv filters=2 size=3 bias=2\n", CCNN_EINVAL, "t.net:2: conv: bad value '2' for bias: expected 0 or 1", 1},
    {L1 "dense units=2 init=glorot\n", CCNN_EINVAL,
     "t.net:2: dense: bad value 'glorot' for init: expected he or xavier", 1},
    {L1 "leaky_relu slope=inf\n", CCNN_EINVAL, "t.net:2: leaky_relu: bad value 'inf' for slope: expected a number", 1},
    {L1 "dropout rate=1\n", CCNN_EINVAL, "t.net:2: dropout: bad value '1' for rate: expected a number in [0, 1)", 1},
    {L1 "dropout rate=-0.1\n", CCNN_EINVAL, "t.net:2: dropout: bad value '-0.1' for rate: expected a number in [0, 1)", 1},
    {L1 "batchnorm eps=0\n", CCNN_EINVAL, "t.net:2: batchnorm: bad value '0' for eps: expected a positive number", 1},
    {L1 "batchnorm momentum=1.5\n", CCNN_EINVAL,
     "t.net:2: batchnorm: bad value '1.5' for momentum: expected a number in (0, 1]", 1},
    {L1 "batchnorm momentum=0\n", CCNN_EINVAL,
     "t.net:2: batchnorm: bad value '0' for momentum: expected a number in (0, 1]", 1},
    {L1 "relu name=1st\n", CCNN_EINVAL,
     "t.net:2: relu: bad value '1st' for name: expected a name: letters, digits, _ or -, starting with a letter or _", 1},
    {L1 "relu name=input\n", CCNN_EINVAL,
     "t.net:2: relu: bad value 'input' for name: expected a name: letters, digits, _ or -, starting with a letter or _", 1},
    {L1 "relu name=a.b\n", CCNN_EINVAL,
     "t.net:2: relu: bad value 'a.b' for name: expected a name: letters, digits, _ or -, starting with a letter or _", 1},
    {L1 "relu name=abcdefghijabcdefghijabcdefghij12\n", CCNN_EINVAL, /* 32 characters: one too many */
     "t.net:2: relu: bad value 'abcdefghijabcdefghijabcdefghij12' for name: expected a name", 0},
    {L1 "add input=a,b,c,d,e\n", CCNN_EINVAL,
     "t.net:2: add: bad value 'a,b,c,d,e' for input: expected one to four layer names separated by commas", 1},
    {L1 "relu name=a\nadd input=a,,a\n", CCNN_EINVAL,
     "t.net:3: add: bad value 'a,,a' for input: expected one to four layer names separated by commas", 1},
    {L1 "relu input=,a\n", CCNN_EINVAL,
     "t.net:2: relu: bad value ',a' for input: expected one to four layer names separated by commas", 1},
    {L1 "relu input=\n", CCNN_EINVAL,
     "t.net:2: relu: bad value '' for input: expected one to four layer names separated by commas", 1},
    {L1 "conv filters=2\n", CCNN_EINVAL, "t.net:2: conv: size= is required", 1},
    {L1 "deconv filters=2\n", CCNN_EINVAL, "t.net:2: deconv: size= is required", 1},
    {L1 "maxpool stride=2\n", CCNN_EINVAL, "t.net:2: maxpool: size= is required", 1},
    {L1 "avgpool\n", CCNN_EINVAL, "t.net:2: avgpool: size= is required", 1},
    {L1 "conv size=3\n", CCNN_EINVAL, "t.net:2: conv: filters= is required", 1},
    {L1 "deconv size=3 stride=2\n", CCNN_EINVAL, "t.net:2: deconv: filters= is required", 1},
    {L1 "flatten\ndense bias=0\n", CCNN_EINVAL, "t.net:3: dense: units= is required", 1},

    /* layers that do not fit together (messages from the layers) */
    {L1 "\nconv filters=2 size=9\nsoftmax\n", CCNN_ESHAPE,
     "t.net:3: conv: a 9x9 kernel (dilation 1,1) does not fit the 8x8 input with padding 0,0,0,0", 1},
    {L1 "conv filters=2 size=3 dilation=4\n", CCNN_ESHAPE,
     "t.net:2: conv: a 3x3 kernel (dilation 4,4) does not fit the 8x8 input", 0},
    {L1 "maxpool size=9\n", CCNN_ESHAPE, "t.net:2: maxpool: a 9x9 kernel does not fit the 8x8 input", 0},
    {L1 "maxpool size=2 pad=2\n", CCNN_EINVAL,
     "t.net:2: maxpool: pad 2,2,2,2 (top,bottom,left,right) must be smaller than the 2x2 kernel on each side", 1},
    {L1 "conv filters=6 size=1 groups=4\n", CCNN_ESHAPE,
     "t.net:2: conv: groups=4 must divide the 1 input channels and the 6 filters", 1},
    {L1 "deconv filters=2 size=3 output_pad=1\n", CCNN_EINVAL,
     "t.net:2: deconv: output_pad_h=1 must be smaller than stride_h=1 or dilation_h=1", 1},
    {L1 TAIL "dense units=2\n", CCNN_ESHAPE, "t.net:4: dense: no layer may follow softmax (the loss)", 1},
    {L1 "flatten\nsoftmax\nsoftmax\n", CCNN_ESHAPE, "t.net:4: softmax: no layer may follow softmax (the loss)", 1},
    {"input 1x1x1\nsoftmax\n", CCNN_ESHAPE, "t.net:2: softmax: needs at least 2 classes", 0},
    {L1 "conv name=a filters=4 size=1\nconv name=b input=input filters=2 size=1\nadd input=a,b\n",
     CCNN_ESHAPE, "t.net:4: add: inputs must have the same shape, got a 4x8x8, b 2x8x8", 1},
    {L1 "relu name=a\nmaxpool name=b size=2\nconcat input=a,b\n", CCNN_ESHAPE,
     "t.net:4: concat: inputs must have the same height and width", 0},
    {L1 "relu name=a\nadd input=a\n", CCNN_EINVAL, "t.net:3: add takes 2 to 4 inputs, not 1", 1},
    {L1 "add\n", CCNN_EINVAL, "t.net:2: add takes 2 to 4 inputs, not 1", 1},
    {L1 "relu name=a\nadd input=a,zz\n", CCNN_EINVAL, "t.net:3: add: no earlier layer is named 'zz'", 1},
    {L1 "relu input=later\nrelu name=later\n", CCNN_EINVAL, "t.net:2: relu: no earlier layer is named 'later'", 1},
    {L1 "relu name=a\n# c\nsigmoid name=a\n", CCNN_EINVAL, "t.net:4: sigmoid: the name 'a' is already used", 1},
    {L1 "relu name=relu2\nrelu\n", CCNN_EINVAL, "t.net:3: relu: the name 'relu2' is already used", 1},

    /* the last layer */
    {L1 "flatten\n\n# the end\n\n", CCNN_EINVAL, "t.net:2: the last layer must be softmax (the loss)", 1},
    {L1 "conv filters=2 size=3\nrelu\ntrain epochs=1\n", CCNN_EINVAL,
     "t.net:3: the last layer must be softmax (the loss)", 1},
    {L1 "train epochs=1\n", CCNN_EINVAL, "t.net:2: the network has no layers", 1},

    /* the train line */
    {L1 TAIL "train epochs=2\n# c\ntrain lr=0.1\n", CCNN_EINVAL, "t.net:6: a second train line", 1},
    {L1 TAIL "train optimiser=sgd\n", CCNN_EINVAL,
     "t.net:4: train: unknown option 'optimiser' (known: optimizer, lr, momentum, nesterov, weight_decay, "
     "beta1, beta2, eps, schedule, step, gamma, epochs, batch, crop, flip, seed)", 1},
    {L1 TAIL "train epochs\n", CCNN_EINVAL, "t.net:4: train: expected key=value, got 'epochs'", 1},
    {L1 TAIL "train optimizer=rmsprop\n", CCNN_EINVAL, "t.net:4: train: bad value 'rmsprop' for optimizer", 1},
    {L1 TAIL "train lr=0\n", CCNN_EINVAL, "t.net:4: train: bad value '0' for lr", 1},
    {L1 TAIL "train lr=11\n", CCNN_EINVAL, "t.net:4: train: bad value '11' for lr", 1},
    {L1 TAIL "train lr=fast\n", CCNN_EINVAL, "t.net:4: train: bad value 'fast' for lr", 1},
    {L1 TAIL "train momentum=1\n", CCNN_EINVAL, "t.net:4: train: bad value '1' for momentum", 1},
    {L1 TAIL "train nesterov=2\n", CCNN_EINVAL, "t.net:4: train: bad value '2' for nesterov", 1},
    {L1 TAIL "train weight_decay=-0.1\n", CCNN_EINVAL, "t.net:4: train: bad value '-0.1' for weight_decay", 1},
    {L1 TAIL "train beta1=1\n", CCNN_EINVAL, "t.net:4: train: bad value '1' for beta1", 1},
    {L1 TAIL "train beta2=1\n", CCNN_EINVAL, "t.net:4: train: bad value '1' for beta2", 1},
    {L1 TAIL "train eps=0\n", CCNN_EINVAL, "t.net:4: train: bad value '0' for eps", 1},
    {L1 TAIL "train schedule=linear\n", CCNN_EINVAL, "t.net:4: train: bad value 'linear' for schedule", 1},
    {L1 TAIL "train step=0\n", CCNN_EINVAL, "t.net:4: train: bad value '0' for step", 1},
    {L1 TAIL "train gamma=2\n", CCNN_EINVAL, "t.net:4: train: bad value '2' for gamma", 1},
    {L1 TAIL "train epochs=0\n", CCNN_EINVAL, "t.net:4: train: bad value '0' for epochs", 1},
    {L1 TAIL "train epochs=1.5\n", CCNN_EINVAL, "t.net:4: train: bad value '1.5' for epochs", 1},
    {L1 TAIL "train batch=65537\n", CCNN_EINVAL, "t.net:4: train: bad value '65537' for batch", 1},
    {L1 TAIL "train crop=65\n", CCNN_EINVAL, "t.net:4: train: bad value '65' for crop", 1},
    {L1 TAIL "train flip=yes\n", CCNN_EINVAL, "t.net:4: train: bad value 'yes' for flip", 1},
    {L1 TAIL "train seed=-1\n", CCNN_EINVAL, "t.net:4: train: bad value '-1' for seed", 1},
    {L1 TAIL "train seed=18446744073709551616\n", CCNN_EINVAL,
     "t.net:4: train: bad value '18446744073709551616' for seed", 1},
    /* the first bad key on the line is the one reported */
    {L1 TAIL "train epochs=3 lr=0 batch=0\n", CCNN_EINVAL, "t.net:4: train: bad value '0' for lr", 1},

    /* line ends: CRLF counts as one line; no final newline */
    {"input 1x8x8\r\n\r\nrelu\r\nbogus", CCNN_EINVAL, "t.net:4: unknown layer 'bogus'", 0},
};

CCNN_TEST(netfile_error_messages)
{
    for (size_t i = 0; i < sizeof bad_nets / sizeof bad_nets[0]; i++) {
        const bad_net *b = &bad_nets[i];
        char err[1024];
        memset(err, 'X', sizeof err);
        err[sizeof err - 1] = 0;
        static char sentinel;
        ccnn_net *net = (ccnn_net *)&sentinel; /* must stay untouched */
        int rc = ccnn_net_parse(b->text, "t.net", &net, err, sizeof err);
        CHECK_MSG(rc == b->rc, "case %zu: returned %d, expected %d for:\n%s(%s)", i, rc, b->rc, b->text, err);
        CHECK_MSG(net == (ccnn_net *)&sentinel, "case %zu: *out was written on error", i);
        if (b->exact)
            CHECK_MSG(!strcmp(err, b->msg), "case %zu:\n  got      '%s'\n  expected '%s'", i, err, b->msg);
        else
            CHECK_MSG(!strncmp(err, b->msg, strlen(b->msg)), "case %zu:\n  got      '%s'\n  expected '%s...'",
                      i, err, b->msg);
        if (rc == CCNN_OK) ccnn_net_free(net);
    }
}

/* Lines of 4095 characters are fine, 4096 are not; 64 words are fine, 65
 * are not. */
CCNN_TEST(netfile_line_limits)
{
    size_t n = 3 * 4200 + 1000;
    char *text = malloc(n), err[256] = "";
    REQUIRE(text);
    ccnn_net *net = NULL;

    /* a 4095-character comment on line 2 */
    strcpy(text, L1 "#");
    memset(text + strlen(text), 'c', 4094);
    strcpy(text + strlen(L1) + 4095, "\n" TAIL);
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, err, sizeof err), CCNN_OK);
    CHECK_MSG(!err[0], "%s", err);
    ccnn_net_free(net);
    net = NULL;

    /* one more character; the error names line 3 after a blank line */
    strcpy(text, L1 "\n#");
    memset(text + strlen(text), 'c', 4095);
    strcpy(text + strlen(L1) + 1 + 4096, "\n" TAIL);
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, err, sizeof err), CCNN_EINVAL);
    CHECK_MSG(!strcmp(err, "t.net:3: line longer than 4095 characters"), "got '%s'", err);
    CHECK(net == NULL);

    /* 64 words on one line (the layer and 63 options) */
    strcpy(text, L1 "relu");
    for (int i = 0; i < 63; i++) strcat(text, " name=a");
    strcat(text, "\n" TAIL);
    err[0] = 0;
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, err, sizeof err), CCNN_OK);
    CHECK_MSG(!err[0], "%s", err);
    ccnn_net_free(net);
    net = NULL;
    strcpy(text, L1 "relu");
    for (int i = 0; i < 64; i++) strcat(text, " name=a");
    strcat(text, "\n" TAIL);
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, err, sizeof err), CCNN_EINVAL);
    CHECK_MSG(!strcmp(err, "t.net:2: too many words"), "got '%s'", err);
    free(text);
}

/* A short or absent error buffer: the return code alone, never an overrun. */
CCNN_TEST(netfile_error_buffer)
{
    const char *text = L1 "conv filters=2\n";
    ccnn_net *net = NULL;
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, NULL, 0), CCNN_EINVAL);
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, NULL, 100), CCNN_EINVAL);
    char small[12];
    memset(small, 'X', sizeof small);
    CHECK_RC(ccnn_net_parse(text, "t.net", &net, small, 8), CCNN_EINVAL);
    CHECK(!strcmp(small, "t.net:2") && small[8] == 'X');
    CHECK(net == NULL);
    /* no filename: "<net>" */
    char err[256];
    CHECK_RC(ccnn_net_parse(text, NULL, &net, err, sizeof err), CCNN_EINVAL);
    CHECK_MSG(!strcmp(err, "<net>:2: conv: size= is required"), "got '%s'", err);
    /* no text, no output pointer */
    CHECK_RC(ccnn_net_parse(NULL, "t.net", &net, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_net_parse(text, "t.net", NULL, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_net_load_file(NULL, &net, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_net_load_file(DEFAULT_NET, NULL, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_net_to_text(NULL, NULL), CCNN_EINVAL);
    CHECK(net == NULL);
}

/* Writes `len` bytes to a new temporary file; its path in path[64]. */
static int temp_file(char *path, const char *data, size_t len)
{
    strcpy(path, "/tmp/ccnn_netfile_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    int ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

CCNN_TEST(netfile_load_file_errors)
{
    char err[512] = "", path[64], want[256];
    ccnn_net *net = NULL;

    /* a missing file: CCNN_EIO, the message names the path */
    CHECK_RC(ccnn_net_load_file("nets/no-such-file.net", &net, err, sizeof err), CCNN_EIO);
    CHECK_MSG(!strcmp(err, "nets/no-such-file.net: cannot open: No such file or directory"), "got '%s'", err);
    CHECK(net == NULL);
    /* a directory is no net */
    CHECK(ccnn_net_load_file("nets", &net, err, sizeof err) != CCNN_OK);
    CHECK(net == NULL);

    /* a NUL byte on line 3 */
    static const char nul[] = "input 1x8x8\nflatten\nsoft\0max\n";
    REQUIRE(temp_file(path, nul, sizeof nul - 1) == 0);
    CHECK_RC(ccnn_net_load_file(path, &net, err, sizeof err), CCNN_EFORMAT);
    snprintf(want, sizeof want, "%s:3: not a text file (contains a NUL byte)", path);
    CHECK_MSG(!strcmp(err, want), "got '%s'", err);
    CHECK(net == NULL);
    unlink(path);

    /* parse errors carry the path and the line */
    static const char bad[] = "# a net\ninput 1x8x8\n\nflatten\ndense\nsoftmax\n";
    REQUIRE(temp_file(path, bad, sizeof bad - 1) == 0);
    CHECK_RC(ccnn_net_load_file(path, &net, err, sizeof err), CCNN_EINVAL);
    snprintf(want, sizeof want, "%s:5: dense: units= is required", path);
    CHECK_MSG(!strcmp(err, want), "got '%s'", err);
    unlink(path);

    /* an empty file */
    REQUIRE(temp_file(path, "", 0) == 0);
    CHECK_RC(ccnn_net_load_file(path, &net, err, sizeof err), CCNN_EINVAL);
    snprintf(want, sizeof want, "%s:1: no 'input CxHxW' line", path);
    CHECK_MSG(!strcmp(err, want), "got '%s'", err);
    unlink(path);

    /* a long file (over the first read buffers) without a final newline */
    size_t n = 0, cap = 64 * 1024;
    char *big = malloc(cap);
    REQUIRE(big);
    n += (size_t)sprintf(big + n, "input 1x8x8\n");
    while (n < cap - 200) n += (size_t)sprintf(big + n, "# filler comment line\n");
    n += (size_t)sprintf(big + n, "flatten\nsoftmax");
    REQUIRE(temp_file(path, big, n) == 0);
    err[0] = 0;
    CHECK_RC(ccnn_net_load_file(path, &net, err, sizeof err), CCNN_OK);
    CHECK_MSG(!err[0], "%s", err);
    CHECK(net && ccnn_net_num_layers(net) == 2);
    ccnn_net_free(net);
    unlink(path);
    free(big);
}

/* ---- the C API builds the same network ---------------------------------------- */

CCNN_TEST(netfile_c_api_equivalence)
{
    ccnn_input_spec in = {.c = 1, .h = 28, .w = 28, .mean = {0.2860f}, .std = {0.3530f}};
    ccnn_net *net = NULL;
    REQUIRE(ccnn_net_create(&net, &in) == CCNN_OK);
    const ccnn_layer_spec specs[] = {
        {.type = CCNN_LAYER_CONV, .filters = 32, .size_h = 3, .size_w = 3,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
        {.type = CCNN_LAYER_BATCHNORM},
        {.type = CCNN_LAYER_RELU},
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2},
        {.type = CCNN_LAYER_CONV, .filters = 64, .size_h = 3, .size_w = 3,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1},
        {.type = CCNN_LAYER_BATCHNORM},
        {.type = CCNN_LAYER_RELU},
        {.type = CCNN_LAYER_MAXPOOL, .size_h = 2, .size_w = 2},
        {.type = CCNN_LAYER_DENSE, .filters = 128},
        {.type = CCNN_LAYER_RELU},
        {.type = CCNN_LAYER_DROPOUT, .rate = 0.3f},
        {.type = CCNN_LAYER_DENSE, .filters = 10},
        {.type = CCNN_LAYER_SOFTMAX},
    };
    char err[256] = "";
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        int rc = ccnn_net_add(net, &specs[i], err, sizeof err);
        CHECK_MSG(rc == CCNN_OK, "layer %zu: %d %s", i, rc, err);
    }
    ccnn_train_config *tc = ccnn_net_train_config(net);
    tc->optimizer = CCNN_OPT_ADAM;
    tc->lr = 0.001f;
    tc->batch = 64;
    tc->epochs = 15;
    tc->weight_decay = 0.0005f;
    tc->schedule = CCNN_SCHED_COSINE;

    ccnn_net *parsed = NULL;
    int rc = ccnn_net_load_file(DEFAULT_NET, &parsed, err, sizeof err);
    CHECK_MSG(rc == CCNN_OK, "%s", err);
    if (rc == CCNN_OK) {
        char *a = text_of(net), *b = text_of(parsed);
        CHECK_MSG(a && b && !strcmp(a, b), "C API:\n%s\nfile:\n%s", a ? a : "", b ? b : "");
        free(a);
        free(b);
        check_same_net(net, parsed, "C API vs file");
        check_layers(net, default_layers, (int)(sizeof default_layers / sizeof default_layers[0]), "C API");
    }
    ccnn_net_free(parsed);

    /* ccnn_net_add rejects a layer after softmax and leaves the net as it was */
    ccnn_layer_spec more = {.type = CCNN_LAYER_RELU};
    CHECK_RC(ccnn_net_add(net, &more, err, sizeof err), CCNN_ESHAPE);
    CHECK_MSG(!strcmp(err, "relu: no layer may follow softmax (the loss)"), "got '%s'", err);
    CHECK(ccnn_net_num_layers(net) == 13);
    ccnn_net_free(net);
}

/* A residual block through the C API (names and inputs) matches its text. */
CCNN_TEST(netfile_c_api_residual)
{
    static const char text[] =
        "input 2x6x6 mean=0.5,0.25 std=0.5,0.125\n"
        "conv name=c1 filters=4 size=3 pad=1 bias=0\n"
        "batchnorm\n"
        "relu name=r1\n"
        "conv filters=4 size=3 pad=1 bias=0 init=xavier\n"
        "batchnorm name=bn\n"
        "conv name=proj input=input filters=4 size=1\n"
        "add input=bn,proj\n"
        "relu\n"
        "concat input=r1,relu8\n"
        "global_avgpool\n"
        "dense units=3\n"
        "softmax\n"
        "train optimizer=sgd lr=0.1 nesterov=1 schedule=cosine\n";
    ccnn_input_spec in = {.c = 2, .h = 6, .w = 6, .mean = {0.5f, 0.25f}, .std = {0.5f, 0.125f}};
    ccnn_net *net = NULL;
    REQUIRE(ccnn_net_create(&net, &in) == CCNN_OK);
    const ccnn_layer_spec specs[] = {
        {.type = CCNN_LAYER_CONV, .name = "c1", .filters = 4, .size_h = 3, .size_w = 3,
         .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .no_bias = 1},
        {.type = CCNN_LAYER_BATCHNORM},
        {.type = CCNN_LAYER_RELU, .name = "r1"},
        {.type = CCNN_LAYER_CONV, .filters = 4, .size_h = 3, .size_w = 3, .pad_top = 1,
         .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .no_bias = 1, .init = CCNN_INIT_XAVIER},
        {.type = CCNN_LAYER_BATCHNORM, .name = "bn"},
        {.type = CCNN_LAYER_CONV, .name = "proj", .n_inputs = 1, .inputs = {"input"}, .filters = 4,
         .size_h = 1, .size_w = 1},
        {.type = CCNN_LAYER_ADD, .n_inputs = 2, .inputs = {"bn", "proj"}},
        {.type = CCNN_LAYER_RELU},
        {.type = CCNN_LAYER_CONCAT, .n_inputs = 2, .inputs = {"r1", "relu8"}},
        {.type = CCNN_LAYER_GLOBAL_AVGPOOL},
        {.type = CCNN_LAYER_DENSE, .filters = 3},
        {.type = CCNN_LAYER_SOFTMAX},
    };
    char err[256] = "";
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        int rc = ccnn_net_add(net, &specs[i], err, sizeof err);
        CHECK_MSG(rc == CCNN_OK, "layer %zu: %d %s", i, rc, err);
    }
    ccnn_train_config *tc = ccnn_net_train_config(net);
    tc->optimizer = CCNN_OPT_SGD;
    tc->lr = 0.1f;
    tc->nesterov = 1;
    tc->schedule = CCNN_SCHED_COSINE;

    ccnn_net *parsed = round_trip(text, "residual");
    if (parsed) {
        char *a = text_of(net), *b = text_of(parsed);
        CHECK_MSG(a && b && !strcmp(a, b), "C API:\n%s\nfile:\n%s", a ? a : "", b ? b : "");
        free(a);
        free(b);
        check_same_net(net, parsed, "residual: C API vs file");
        static const want_layer want[] = {
            {"c1", "conv", 4, 6, 6, 4 * 2 * 9},
            {"batchnorm2", "batchnorm", 4, 6, 6, 8},
            {"r1", "relu", 4, 6, 6, 0},
            {"conv4", "conv", 4, 6, 6, 4 * 4 * 9},
            {"bn", "batchnorm", 4, 6, 6, 8},
            {"proj", "conv", 4, 6, 6, 4 * 2 + 4},
            {"add7", "add", 4, 6, 6, 0},
            {"relu8", "relu", 4, 6, 6, 0},
            {"concat9", "concat", 8, 6, 6, 0},
            {"global_avgpool10", "global_avgpool", 8, 1, 1, 0},
            {"dense11", "dense", 3, 1, 1, 8 * 3 + 3},
            {"softmax12", "softmax", 3, 1, 1, 0},
        };
        check_layers(parsed, want, (int)(sizeof want / sizeof want[0]), "residual");
    }
    ccnn_net_free(parsed);
    ccnn_net_free(net);
}

/* Every example in docs/netfile.md that is a whole network (a ``` block
 * whose first line that is not a comment is an input line) parses. */
CCNN_TEST(netfile_doc_examples)
{
    FILE *f = fopen("docs/netfile.md", "rb");
    REQUIRE(f);
    static char doc[64 * 1024];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    int nets = 0;
    for (char *p = strstr(doc, "```\n"); p; ) {
        char *body = p + 4, *end = strstr(body, "```");
        if (!end) break;
        *end = 0;
        const char *first = body; /* the first line that is not a comment */
        while (*first == '#' && strchr(first, '\n')) first = strchr(first, '\n') + 1;
        if (!strncmp(first, "input ", 6) && strstr(first, "softmax")) {
            char err[512] = "";
            ccnn_net *net = NULL;
            int rc = ccnn_net_parse(body, "docs/netfile.md example", &net, err, sizeof err);
            CHECK_MSG(rc == CCNN_OK, "%s in:\n%s", err, body);
            ccnn_net_free(net);
            nets++;
        }
        p = strstr(end + 3, "```\n");
    }
    CHECK_MSG(nets == 3, "%d whole-network examples, expected 3", nets);
}

/* ccnn_net_add refuses the names the parser refuses, so any net built in C
 * can be written out and read back. */
CCNN_TEST(netfile_c_api_bad_names)
{
    ccnn_input_spec in = {.c = 1, .h = 4, .w = 4, .std = {1}};
    ccnn_net *net = NULL;
    REQUIRE(ccnn_net_create(&net, &in) == CCNN_OK);
    static const char *bad[] = {"input", "1abc", "a b", "a,b", "a=b", "-x", "a#b"};
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccnn_layer_spec s = {.type = CCNN_LAYER_RELU};
        snprintf(s.name, sizeof s.name, "%s", bad[i]);
        err[0] = 0;
        CHECK_MSG(ccnn_net_add(net, &s, err, sizeof err) == CCNN_EINVAL && strstr(err, "bad name"),
                  "'%s' accepted (%s)", bad[i], err);
    }
    CHECK(ccnn_net_num_layers(net) == 0);
    static const char *good[] = {"a", "_b", "relu-1", "X_2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ccnn_layer_spec s = {.type = CCNN_LAYER_RELU};
        snprintf(s.name, sizeof s.name, "%s", good[i]);
        CHECK_MSG(ccnn_net_add(net, &s, err, sizeof err) == CCNN_OK, "'%s': %s", good[i], err);
    }
    ccnn_layer_spec loss = {.type = CCNN_LAYER_SOFTMAX};
    CHECK(ccnn_net_add(net, &loss, err, sizeof err) == CCNN_OK);
    char *text = NULL;
    ccnn_net *back = NULL;
    CHECK(ccnn_net_to_text(net, &text) == CCNN_OK);
    CHECK_MSG(text && ccnn_net_parse(text, "c-api", &back, err, sizeof err) == CCNN_OK, "%s", err);
    ccnn_net_free(back);
    free(text);
    ccnn_net_free(net);
}
