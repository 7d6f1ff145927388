/* layer.c - helpers shared by the layer files. */
#include "net/layer.h"

void ccnn_layer_add_tensor(ccnn_layer *l, const char *suffix, int is_state, int ndim,
                           int d0, int d1, int d2, int d3)
{
    ccnn_layer_tensor *t = &l->tensors[l->n_tensors++];
    size_t n = 1;
    t->suffix = suffix;
    t->ndim = ndim;
    t->dims[0] = d0; t->dims[1] = d1; t->dims[2] = d2; t->dims[3] = d3;
    for (int i = 0; i < ndim; i++) n *= (size_t)t->dims[i];
    t->is_state = is_state;
    if (is_state) { t->offset = l->n_state; l->n_state += n; }
    else { t->offset = l->n_params; l->n_params += n; }
}

void ccnn_init_normal(float *w, size_t n, double std, ccnn_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = (float)(std * ccnn_rng_normal(rng));
}
