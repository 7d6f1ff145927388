/* test_net_grad.c - whole networks against finite differences: the shipped
 * networks (every parameter tensor and the input, a sample of elements),
 * and a small network with every kind of layer, every element. */
#include "test.h"
#include <string.h>

static void gradcheck_file(const char *path, int batch, int checks, double tol)
{
    ccnn_net *net = NULL;
    char err[512] = "";
    int rc = ccnn_net_load_file(path, &net, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc) return;
    double worst = 1;
    CHECK_RC(ccnn_net_init(net, 3), 0);
    rc = ccnn_net_gradcheck(net, batch, checks, 11, &worst, err, sizeof err);
    CHECK_MSG(rc == 0 && worst < tol, "%s: worst relative error %.3g at %s", path, worst, err);
    ccnn_net_free(net);
}

CCNN_TEST(net_grad_default_network)
{
    gradcheck_file("nets/fashion-default.net", 2, 120, 0.02);
}

CCNN_TEST(net_grad_resnet)
{
    /* 31 float layers leave more rounding noise in each quotient (~5e-4
     * against gradients of ~1e-2); a wrong or overwritten gradient is off by
     * far more than this tolerance */
    gradcheck_file("nets/fashion-resnet.net", 2, 120, 0.08);
}

/* Every layer type, smooth activations so no element is skipped at a kink,
 * all elements checked. */
CCNN_TEST(net_grad_every_layer)
{
    static const char text[] =
        "input 2x9x9 mean=0.1,0.2 std=0.5,0.7\n"
        "conv name=a filters=4 size=3 pad=1,0,2,1 stride=2 dilation=1x2\n"
        "batchnorm\n"
        "tanh name=t\n"
        "deconv filters=4 size=2 stride=2 name=up\n"
        "avgpool size=2 input=up name=p\n"
        "add input=t,p\n"
        "conv filters=4 size=1 groups=2 name=g\n"
        "concat input=g,t\n"
        "sigmoid\n"
        "leaky_relu slope=0.1\n"
        "maxpool size=2 stride=1\n"
        "global_avgpool name=gap\n"
        "flatten\n"
        "dense units=6\n"
        "dropout rate=0.25\n"
        "dense units=5\n"
        "softmax\n";
    ccnn_net *net = NULL;
    char err[512] = "";
    int rc = ccnn_net_parse(text, "every.net", &net, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (rc) return;
    double worst = 1;
    CHECK_RC(ccnn_net_init(net, 5), 0);
    rc = ccnn_net_gradcheck(net, 3, 0, 13, &worst, err, sizeof err);
    CHECK_MSG(rc == 0 && worst < 0.02, "worst relative error %.3g at %s", worst, err);
    ccnn_net_free(net);
}
