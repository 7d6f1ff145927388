/* registry.c - the table of layer types: keyword <-> ops. */
#include "net/layer.h"
#include <string.h>

extern const ccnn_layer_ops ccnn_conv_ops, ccnn_deconv_ops, ccnn_dense_ops, ccnn_relu_ops,
    ccnn_leaky_relu_ops, ccnn_sigmoid_ops, ccnn_tanh_ops, ccnn_maxpool_ops, ccnn_avgpool_ops,
    ccnn_global_avgpool_ops, ccnn_batchnorm_ops, ccnn_dropout_ops, ccnn_flatten_ops,
    ccnn_add_ops, ccnn_concat_ops, ccnn_softmax_ops;

static const ccnn_layer_ops *const table[CCNN_LAYER_TYPE_COUNT] = {
    [CCNN_LAYER_CONV] = &ccnn_conv_ops,
    [CCNN_LAYER_DECONV] = &ccnn_deconv_ops,
    [CCNN_LAYER_DENSE] = &ccnn_dense_ops,
    [CCNN_LAYER_RELU] = &ccnn_relu_ops,
    [CCNN_LAYER_LEAKY_RELU] = &ccnn_leaky_relu_ops,
    [CCNN_LAYER_SIGMOID] = &ccnn_sigmoid_ops,
    [CCNN_LAYER_TANH] = &ccnn_tanh_ops,
    [CCNN_LAYER_MAXPOOL] = &ccnn_maxpool_ops,
    [CCNN_LAYER_AVGPOOL] = &ccnn_avgpool_ops,
    [CCNN_LAYER_GLOBAL_AVGPOOL] = &ccnn_global_avgpool_ops,
    [CCNN_LAYER_BATCHNORM] = &ccnn_batchnorm_ops,
    [CCNN_LAYER_DROPOUT] = &ccnn_dropout_ops,
    [CCNN_LAYER_FLATTEN] = &ccnn_flatten_ops,
    [CCNN_LAYER_ADD] = &ccnn_add_ops,
    [CCNN_LAYER_CONCAT] = &ccnn_concat_ops,
    [CCNN_LAYER_SOFTMAX] = &ccnn_softmax_ops,
};

const ccnn_layer_ops *ccnn_layer_ops_for(ccnn_layer_type type)
{
    if ((int)type <= 0 || type >= CCNN_LAYER_TYPE_COUNT) return NULL;
    return table[type];
}

int ccnn_layer_type_from_name(const char *name)
{
    for (int t = 1; t < CCNN_LAYER_TYPE_COUNT; t++)
        if (table[t] && strcmp(table[t]->type_name, name) == 0) return t;
    return -1;
}

const char *ccnn_layer_type_name(ccnn_layer_type type)
{
    const ccnn_layer_ops *ops = ccnn_layer_ops_for(type);
    return ops ? ops->type_name : "unknown";
}
