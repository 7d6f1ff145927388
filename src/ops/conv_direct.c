/* conv_direct.c - the direct convolution (kernels/direct.h) for one image
 * and group: no im2col and no GEMM. The register tiles are vectorised over
 * filters, so every output pixel is computed exactly once (the wide layout's
 * GEMM also computes the padding columns), each sum stays in a register over
 * all Cg*R*S taps (no K blocks), and any stride or dilation is just another
 * set of tap offsets. conv_fast.c chooses it, pads the input and transposes
 * dy; backward data at stride 1 comes here as a forward pass. */
#include "ops/conv_internal.h"
#include "kernels/direct.h"
#include "kernels/gemm.h"
#include <string.h>

int64_t ccnn_conv_direct_kblocks(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d)
{
    return (d->kg + kr->kb - 1) / kr->kb;
}

int64_t ccnn_conv_direct_packed_floats(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d)
{
    return d->groups * ccnn_conv_direct_kblocks(kr, d) * kr->kb * (d->cg * d->r * d->s + 1);
}

void ccnn_conv_direct_taps(const ccnn_conv_dims *d, int64_t hp, int64_t wp, int64_t *off)
{
    for (int64_t c = 0, t = 0; c < d->cg; c++)
        for (int64_t r = 0; r < d->r; r++)
            for (int64_t s = 0; s < d->s; s++) off[t++] = (c * hp + r * d->dh) * wp + s * d->dw;
}

/* Group g's filters in blocks of kb, tap-major (direct.h), then its bias
 * in the same blocks; zeros past the last filter. */
void ccnn_conv_direct_pack(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d, const float *w,
                           const float *bias, float *dst)
{
    const int64_t taps = d->cg * d->r * d->s, nb = ccnn_conv_direct_kblocks(kr, d), kb = kr->kb;
    for (int64_t g = 0; g < d->groups; g++) {
        float *wg = dst + g * nb * kb * (taps + 1), *bg = wg + nb * kb * taps;
        for (int64_t b = 0; b < nb; b++)
            for (int64_t t = 0; t < taps; t++)
                for (int64_t k = 0; k < kb; k++) {
                    int64_t f = b * kb + k;
                    wg[(b * taps + t) * kb + k] = f < d->kg ? w[(g * d->kg + f) * taps + t] : 0.0f;
                }
        for (int64_t f = 0; f < nb * kb; f++)
            bg[f] = bias && f < d->kg ? bias[g * d->kg + f] : 0.0f;
    }
}

/* Output rows [p0, p1) of one image and group: yg (Kg x P x Q) from the
 * padded input xp (Cg x Hp x Wp, row pitch wp) and the group's packed
 * filters pk. A row is cut into tiles of equal width (up to uw pixels). */
void ccnn_conv_direct_rows(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                           const int64_t *off, const float *xp, int64_t wp, const float *pk,
                           int with_bias, float *yg, int64_t p0, int64_t p1)
{
    const int64_t taps = d->cg * d->r * d->s, nb = ccnn_conv_direct_kblocks(kr, d);
    const int64_t kb = kr->kb, pq = d->p * d->q;
    const int64_t tiles = (d->q + kr->uw - 1) / kr->uw, width = (d->q + tiles - 1) / tiles;
    const float *bias = pk + nb * kb * taps;
    for (int64_t p = p0; p < p1; p++)
        for (int64_t b = 0; b < nb; b++) {
            const int nk = (int)min64(kb, d->kg - b * kb);
            /* the next output row's lines, while this row computes (4 % at 14x14) */
            if (p + 1 < d->p) prefetch_rows(yg + b * kb * pq + (p + 1) * d->q, pq, nk, d->q);
            for (int64_t q0 = 0; q0 < d->q; q0 += width)
                kr->fwd(taps, off, xp + p * d->sh * wp + q0 * d->sw, d->sw, pk + b * kb * taps,
                        with_bias ? bias + b * kb : NULL, yg + b * kb * pq + p * d->q + q0, pq,
                        (int)min64(width, d->q - q0), nk);
        }
}

/* dy_g (Kg x PQ) transposed into dyt (PQ x kb*kblocks), zeros past Kg; by
 * the GEMM's transpose (8 x 8 blocks in registers where the ISA has them). */
void ccnn_conv_direct_transpose_dy(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                                   const float *dyg, float *dyt)
{
    const int64_t pq = d->p * d->q, ld = ccnn_conv_direct_kblocks(kr, d) * kr->kb;
    if (ld > d->kg)
        for (int64_t j = 0; j < pq; j++)
            memset(dyt + j * ld + d->kg, 0, sizeof(float) * (size_t)(ld - d->kg));
    ccnn_gemm_kernel_for(ccnn_get_isa())->transpose(dyg, pq, (int)d->kg, pq, dyt, ld);
}

/* dwt (CRS x Kg, tap-major) = (accumulate ? dwt : 0) + the image's col *
 * dy_g^T, from xp (as above) and dyt (ccnn_conv_direct_transpose_dy). */
void ccnn_conv_direct_wgrad(const ccnn_direct_kernel *kr, const ccnn_conv_dims *d,
                            const int64_t *off, const float *xp, int64_t wp, const float *dyt,
                            float *dwt, int accumulate)
{
    const int64_t taps = d->cg * d->r * d->s, nb = ccnn_conv_direct_kblocks(kr, d);
    const int64_t kb = kr->kb, ld = nb * kb, wt = ccnn_direct_wgrad_taps(kr);
    for (int64_t t = 0; t < taps; t += wt)
        for (int64_t b = 0; b < nb; b++)
            kr->wgrad((int)min64(wt, taps - t), off + t, xp, d->p, d->q,
                      d->sh * wp, d->sw, dyt + b * kb, ld, dwt + t * d->kg + b * kb, d->kg,
                      (int)min64(kb, d->kg - b * kb), accumulate);
}
