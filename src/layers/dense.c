/* dense.c - fully connected: y[n,o] = b[o] + sum_i W[o,i] x[n,i], with the
 * input flattened (i runs over C*H*W). W is O x I (PyTorch's Linear). */
#include "net/layer.h"
#include "kernels/gemm.h"
#include <math.h>
#include <stdlib.h>

/* The GEMM's packing space, kept across steps (ccnn_sgemm would allocate
 * it on every call): room for `threads` threads, grown when more are set. */
typedef struct { float *ws; int threads; } dense_priv;

/* C = beta*C + op(A) op(B) through the layer's packing space. */
static int dense_gemm(ccnn_layer *l, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc)
{
    dense_priv *pv = l->priv;
    if (!pv && !(pv = l->priv = calloc(1, sizeof *pv))) return CCNN_ENOMEM;
    const int nt = ccnn_threads();
    if (pv->threads < nt) {
        free(pv->ws);
        pv->threads = (pv->ws = ccnn_gemm_ws_alloc(nt)) ? nt : 0;
        if (!pv->ws) return CCNN_ENOMEM;
    }
    ccnn_gemm_matrix a = {A, lda, ta}, b = {B, ldb, tb};
    ccnn_sgemm_ex(M, N, K, ccnn_gemm_pack_a_matrix, &a, ccnn_gemm_pack_b_matrix, &b, beta, C, ldc,
                  1, pv->ws);
    return CCNN_OK;
}

static int dense_setup(ccnn_layer *l, char *err, size_t errlen)
{
    if (l->spec.filters <= 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "the number of outputs must be > 0");
    size_t in = ccnn_shape_size(l->in_shape[0]);
    if (in > (size_t)INT32_MAX || (double)in * l->spec.filters > 1e9)
        return ccnn_errf(err, errlen, CCNN_EOVERFLOW, "%zu x %d weights are too many",
                                in, l->spec.filters);
    l->out_shape = (ccnn_shape){l->spec.filters, 1, 1};
    ccnn_layer_add_tensor(l, "weight", 0, 2, l->spec.filters, (int)in, 0, 0);
    if (!l->spec.no_bias) ccnn_layer_add_tensor(l, "bias", 0, 1, l->spec.filters, 0, 0, 0);
    l->flops = 2.0 * (double)in * l->spec.filters;
    return CCNN_OK;
}

static void dense_init(ccnn_layer *l, ccnn_rng *rng)
{
    double in = (double)ccnn_shape_size(l->in_shape[0]), out = l->spec.filters;
    double std = l->spec.init == CCNN_INIT_XAVIER ? sqrt(2.0 / (in + out)) : sqrt(2.0 / in);
    ccnn_init_normal(l->params, (size_t)(in * out), std, rng);
}

static int dense_forward(ccnn_layer *l, const ccnn_run *run)
{
    int64_t N = run->batch, O = l->spec.filters, I = (int64_t)ccnn_shape_size(l->in_shape[0]);
    /* Y (N x O) = X (N x I) * W^T */
    int rc = dense_gemm(l, 0, 1, N, O, I, l->in[0], I, l->params, I, 0.0f, l->out, O);
    if (rc) return rc;
    if (!l->spec.no_bias) {
        const float *b = l->params + l->tensors[1].offset;
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < O; o++) l->out[n * O + o] += b[o];
    }
    return CCNN_OK;
}

static int dense_backward(ccnn_layer *l, const ccnn_run *run)
{
    int64_t N = run->batch, O = l->spec.filters, I = (int64_t)ccnn_shape_size(l->in_shape[0]);
    /* dW (O x I) += dY^T (O x N) * X (N x I) */
    int rc = dense_gemm(l, 1, 0, O, I, N, l->dout, O, l->in[0], I, 1.0f, l->grads, I);
    if (rc) return rc;
    if (!l->spec.no_bias) {
        float *db = l->grads + l->tensors[1].offset;
        for (int64_t o = 0; o < O; o++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += l->dout[n * O + o];
            db[o] += (float)s;
        }
    }
    /* dX (N x I) += dY (N x O) * W (O x I) */
    if (l->din[0]) return dense_gemm(l, 0, 0, N, I, O, l->dout, O, l->params, I, 1.0f, l->din[0], I);
    return CCNN_OK;
}

static void dense_destroy(ccnn_layer *l)
{
    dense_priv *pv = l->priv;
    if (pv) free(pv->ws);
    free(pv);
    l->priv = NULL;
}

const ccnn_layer_ops ccnn_dense_ops = {
    .type_name  = "dense",
    .min_inputs = 1,
    .max_inputs = 1,
    .setup      = dense_setup,
    .init       = dense_init,
    .forward    = dense_forward,
    .backward   = dense_backward,
    .destroy    = dense_destroy,
};
