/* add.c - element-wise sum of 2..4 inputs of one shape (residual blocks).
 * Backward hands dout unchanged to every input. */
#include "net/layer.h"
#include "kernels/eltwise.h"
#include <stdio.h>
#include <string.h>

#define PAR_MIN (1 << 15) /* element-wise: thread count cannot change results */
#define BLOCK 8192         /* elements per kernel call, split among threads */

/* "name CxHxW, name CxHxW, ..." for error messages. */
static void list_shapes(const ccnn_layer *l, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < l->n_in && used < len; i++) {
        const ccnn_shape *s = &l->in_shape[i];
        int k = snprintf(buf + used, len - used, "%s%s %dx%dx%d", i ? ", " : "",
                         l->spec.n_inputs ? l->spec.inputs[i] : "previous", s->c, s->h, s->w);
        if (k < 0) break;
        used += (size_t)k;
    }
}

static int add_setup(ccnn_layer *l, char *err, size_t errlen)
{
    for (int i = 1; i < l->n_in; i++) {
        ccnn_shape a = l->in_shape[0], b = l->in_shape[i];
        if (a.c != b.c || a.h != b.h || a.w != b.w) {
            char shapes[CCNN_MAX_INPUTS * (CCNN_NAME_MAX + 40)];
            list_shapes(l, shapes, sizeof shapes);
            return ccnn_errf(err, errlen, CCNN_ESHAPE,
                                    "inputs must have the same shape, got %s", shapes);
        }
    }
    l->out_shape = l->in_shape[0];
    l->flops = (double)(l->n_in - 1) * (double)ccnn_shape_size(l->out_shape);
    return CCNN_OK;
}

static int add_forward(ccnn_layer *l, const ccnn_run *run)
{
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->out_shape);
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    const float *const *in = l->in;
    const int m = l->n_in;
    float *y = l->out;
    const int relu = l->relu_after;
    /* always summed in input order, ((in0 + in1) + in2) + ..., so results
     * are reproducible */
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i += BLOCK) {
        int64_t b = n - i < BLOCK ? n - i : BLOCK;
        k->add(in[0] + i, in[1] + i, b, y + i);
        for (int j = 2; j < m; j++) k->acc(in[j] + i, b, y + i);
        if (relu) k->relu(y + i, b, y + i); /* fused (layer.h: relu_after), in L1 */
    }
    return CCNN_OK;
}

/* The same layer may be named twice as an input (din[i] == din[j]); adding
 * once per use is then exactly the chain rule. */
static int add_backward(ccnn_layer *l, const ccnn_run *run)
{
    const int64_t n = (int64_t)run->batch * (int64_t)ccnn_shape_size(l->out_shape);
    const ccnn_eltwise_kernels *k = ccnn_eltwise_for(ccnn_get_isa());
    float *dy = l->dout;
    float *const *din = l->din;
    const int m = l->n_in, relu = l->relu_after;
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (int64_t i = 0; i < n; i += BLOCK) {
        int64_t b = n - i < BLOCK ? n - i : BLOCK;
        if (relu) k->relu_grad(l->out + i, dy + i, b, dy + i, 1); /* the fused ReLU's, in place */
        for (int j = 0; j < m; j++)
            if (din[j]) k->acc(dy + i, b, din[j] + i);
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_add_ops = {
    .type_name  = "add",
    .min_inputs = 2,
    .max_inputs = CCNN_MAX_INPUTS,
    .setup      = add_setup,
    .forward    = add_forward,
    .backward   = add_backward,
    .fuse_relu  = 1,
};
