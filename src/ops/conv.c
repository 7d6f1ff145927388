/* conv.c - the public convolution entry points: validate, then dispatch to
 * the fast path (default) or the reference. */
#include "ccnn_internal.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int g_impl = -1; /* -1: CCNN_CONV decides */

void ccnn_conv2d_set_impl(ccnn_conv_impl impl)
{
    atomic_store(&g_impl, impl == CCNN_CONV_REF ? CCNN_CONV_REF : CCNN_CONV_FAST);
}

ccnn_conv_impl ccnn_conv2d_get_impl(void)
{
    int impl = atomic_load(&g_impl);
    return (ccnn_conv_impl)(impl >= 0 ? impl : ccnn_env()->conv);
}

int ccnn_conv2d_forward_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p, const float *x,
                           const float *w, const float *bias, float *y)
{
    if (ccnn_conv2d_get_impl() == CCNN_CONV_REF)
        return ccnn_conv2d_forward_ref(p, x, w, bias, y);
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(p, &d);
    if (rc) return rc;
    if (!x || !w || !y) return CCNN_EINVAL;
    return ccnn_conv_fast_forward(ws, &d, x, w, bias, y);
}

int ccnn_conv2d_backward_data_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p,
                                 const float *dy, const float *w, float *dx)
{
    if (ccnn_conv2d_get_impl() == CCNN_CONV_REF)
        return ccnn_conv2d_backward_data_ref(p, dy, w, dx);
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(p, &d);
    if (rc) return rc;
    if (!dy || !w || !dx) return CCNN_EINVAL;
    return ccnn_conv_fast_backward_data(ws, &d, dy, w, dx);
}

int ccnn_conv2d_backward_weights_ws(ccnn_conv2d_workspace *ws, const ccnn_conv2d_params *p,
                                    const float *x, const float *dy, float *dw, float *dbias)
{
    if (ccnn_conv2d_get_impl() == CCNN_CONV_REF)
        return ccnn_conv2d_backward_weights_ref(p, x, dy, dw, dbias);
    ccnn_conv_dims d;
    int rc = ccnn_conv_dims_init(p, &d);
    if (rc) return rc;
    if (!x || !dy || !dw) return CCNN_EINVAL;
    return ccnn_conv_fast_backward_weights(ws, &d, x, dy, dw, dbias);
}

int ccnn_conv2d_forward(const ccnn_conv2d_params *p, const float *x, const float *w,
                        const float *bias, float *y)
{
    return ccnn_conv2d_forward_ws(NULL, p, x, w, bias, y);
}

int ccnn_conv2d_backward_data(const ccnn_conv2d_params *p, const float *dy, const float *w, float *dx)
{
    return ccnn_conv2d_backward_data_ws(NULL, p, dy, w, dx);
}

int ccnn_conv2d_backward_weights(const ccnn_conv2d_params *p, const float *x, const float *dy,
                                 float *dw, float *dbias)
{
    return ccnn_conv2d_backward_weights_ws(NULL, p, x, dy, dw, dbias);
}
