/* add.c - element-wise sum of 2..4 inputs of one shape (residual blocks).
 * Backward hands dout unchanged to every input. */
#include "net/layer.h"
#include <stdio.h>
#include <string.h>

#define PAR_MIN (1 << 15) /* element-wise: thread count cannot change results */

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
    ptrdiff_t n = (ptrdiff_t)((size_t)run->batch * ccnn_shape_size(l->out_shape));
    const float *const *in = l->in;
    int k = l->n_in;
    float *y = l->out;
    /* always summed in input order, so results are reproducible */
#pragma omp parallel for num_threads(ccnn_threads()) schedule(static) if (n >= PAR_MIN)
    for (ptrdiff_t i = 0; i < n; i++) {
        float s = in[0][i];
        for (int j = 1; j < k; j++) s += in[j][i];
        y[i] = s;
    }
    return CCNN_OK;
}

/* The same layer may be named twice as an input (din[i] == din[j]); adding
 * once per use is then exactly the chain rule. */
static int add_backward(ccnn_layer *l, const ccnn_run *run)
{
    size_t n = (size_t)run->batch * ccnn_shape_size(l->out_shape);
    for (int j = 0; j < l->n_in; j++) {
        float *dx = l->din[j];
        if (!dx) continue;
        for (size_t i = 0; i < n; i++) dx[i] += l->dout[i];
    }
    return CCNN_OK;
}

const ccnn_layer_ops ccnn_add_ops = {
    "add", 2, CCNN_MAX_INPUTS, add_setup, NULL, NULL, add_forward, add_backward, NULL,
};
