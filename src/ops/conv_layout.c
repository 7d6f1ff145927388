/* conv_layout.c - how the fast convolution feeds the GEMM: im2col rows
 * (built straight into the GEMM's packed buffers), their adjoint col2im,
 * and the wide layout at stride 1. */
#include "ops/conv_internal.h"
#include "kernels/gemm.h"
#include <string.h>

/* out[t] = col[crs][j0 + t] for t < len, where
 *   col[(c*R + r)*S + s][p*Q + q] = x[c][p*sh + r*dh - pt][q*sw + s*dw - pl]
 * (zero in the padding) and x is the group's Cg channels of one image. */
static void im2col_row(const ccnn_conv_dims *d, const float *x, int64_t crs, int64_t j0,
                       int64_t len, float *out)
{
    int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    int64_t off = s * d->dw - d->pl, lo, hi;
    q_range(d, off, &lo, &hi);
    const float *xc = x + c * d->h * d->w;
    for (int64_t p = j0 / d->q, q = j0 % d->q; len > 0; p++, q = 0) {
        int64_t n = min64(d->q - q, len); /* this output row's part: q .. q+n */
        int64_t ih = p * d->sh + r * d->dh - d->pt;
        if (ih < 0 || ih >= d->h) {
            memset(out, 0, sizeof(float) * (size_t)n);
        } else {
            const float *row = xc + ih * d->w;
            int64_t a = lo < q ? q : lo > q + n ? q + n : lo; /* lo, hi clamped to the part */
            int64_t b = hi < a ? a : hi > q + n ? q + n : hi;
            for (int64_t i = q; i < a; i++) out[i - q] = 0.0f;
            if (d->sw == 1) {
                memcpy(out + (a - q), row + a + off, sizeof(float) * (size_t)(b - a));
            } else if (d->sw == 2) { /* a constant stride vectorises */
#pragma omp simd
                for (int64_t i = a; i < b; i++) out[i - q] = row[2 * i + off];
            } else {
                for (int64_t i = a; i < b; i++) out[i - q] = row[i * d->sw + off];
            }
            for (int64_t i = b; i < q + n; i++) out[i - q] = 0.0f;
        }
        out += n;
        len -= n;
    }
}

/* op(B) = col (CRS x PQ), the forward pass: each panel row is a stretch of
 * a col row. */
void ccnn_conv_pack_col(const void *ctx, const ccnn_gemm_kernel *kr, int64_t p0, int64_t kc,
                     int64_t j0, int64_t nc, float *dst, int64_t ldp, float *scratch)
{
    const conv_col_src *cs = ctx;
    (void)kr;
    (void)scratch;
    for (int64_t k = 0; k < kc; k++, dst += ldp) {
        im2col_row(cs->d, cs->x, p0 + k, j0, nc, dst);
        memset(dst + nc, 0, sizeof(float) * (size_t)(ldp - nc));
    }
}

/* op(A) = col (CRS x PQ), the weight gradient: the sliver's m col rows into
 * the scratch, then transposed into the sliver. */
const float *ccnn_conv_pack_col_rows(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                  int m, int64_t p0, int64_t kc, float *dst, float *rows)
{
    const conv_col_src *cs = ctx;
    if (m < kr->mr) memset(dst, 0, sizeof(float) * (size_t)(kc * kr->mr));
    for (int i = 0; i < m; i++) im2col_row(cs->d, cs->x, i0 + i, p0, kc, rows + i * kc);
    kr->transpose(rows, kc, m, kc, dst, kr->mr);
    return dst;
}

/* The adjoint of im2col_row: dx[c][ih][iw] += in[t] for each t < len whose
 * col entry col[crs][j0 + t] was read from x[c][ih][iw]. */
void ccnn_conv_col2im_row(const ccnn_conv_dims *d, const float *in, int64_t crs, int64_t j0,
                       int64_t len, float *dx)
{
    int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    int64_t off = s * d->dw - d->pl, lo, hi;
    q_range(d, off, &lo, &hi);
    float *dxc = dx + c * d->h * d->w;
    for (int64_t p = j0 / d->q, q = j0 % d->q; len > 0; p++, q = 0) {
        int64_t n = min64(d->q - q, len);
        int64_t ih = p * d->sh + r * d->dh - d->pt;
        if (ih >= 0 && ih < d->h) {
            float *row = dxc + ih * d->w;
            int64_t a = lo < q ? q : lo > q + n ? q + n : lo;
            int64_t b = hi < a ? a : hi > q + n ? q + n : hi;
            if (d->sw == 1) {
#pragma omp simd
                for (int64_t i = a; i < b; i++) row[i + off] += in[i - q];
            } else {
                for (int64_t i = a; i < b; i++) row[i * d->sw + off] += in[i - q];
            }
        }
        in += n;
        len -= n;
    }
}

/* ---- the wide layout (stride 1) ---------------------------------------------
 * At stride 1, copy the group's input once into xp, padded: Cg x Hp x Wp
 * with Hp = H + pt + pb, Wp = W + pl + pr (a negative pad crops). Output
 * (p, q) reads xp[c][p + r*dh][q + s*dw] for tap (c, r, s). Number the
 * outputs "wide", j = p*Wp + q with q running to Wp instead of Q: then
 *   col[(c*R + r)*S + s][j] = xp[c][r*dh*Wp + s*dw + j],
 * so each col row is one contiguous stretch of xp and packs with a memcpy,
 * not a copy per output row with bounds at both ends. The columns with
 * q >= Q are garbage (they wrap into the next row): computed and dropped,
 * (Wp - Q)/Q more multiply-adds (7% at 28x28 with pad 1, 14% at 14x14).
 * Only Nw = (P-1)*Wp + Q columns are used, so no read passes xp's end:
 * the last one is (R-1)*dh*Wp + (S-1)*dw + Nw - 1 = Hp*Wp - 1. */

/* n zeros at p: pads are mostly one wide (3x3 "same"), and a store is
 * cheaper than a library call. */
static inline void zero_few(float *p, int64_t n)
{
    if (n == 1) *p = 0.0f;
    else if (n > 1) memset(p, 0, sizeof(float) * (size_t)n);
}

/* xp for the group's Cg channels at xg; returns xg itself when unpadded.
 * Each row of xp is written once: rows are short (14 floats at 14x14), so
 * the calls per row, not the bytes, are the cost. */
const float *ccnn_conv_wide_pad(const ccnn_conv_dims *d, const float *xg, float *xp)
{
    if (!is_padded(d)) return xg;
    const int64_t hp = wide_hp(d), wp = wide_wp(d);
    const int64_t jlo = d->pl > 0 ? d->pl : 0, jhi = min64(wp, d->w + d->pl);
    const int64_t ilo = d->pt > 0 ? d->pt : 0, ihi = min64(hp, d->h + d->pt);
    if (jlo >= jhi || ilo >= ihi) {
        memset(xp, 0, sizeof(float) * (size_t)(d->cg * hp * wp));
        return xp;
    }
    for (int64_t c = 0; c < d->cg; c++) {
        float *plane = xp + c * hp * wp;
        memset(plane, 0, sizeof(float) * (size_t)(ilo * wp));
        for (int64_t i = ilo; i < ihi; i++) {
            float *dst = plane + i * wp;
            zero_few(dst, jlo);
            memcpy(dst + jlo, xg + (c * d->h + i - d->pt) * d->w + jlo - d->pl,
                   sizeof(float) * (size_t)(jhi - jlo));
            zero_few(dst + jhi, wp - jhi);
        }
        memset(plane + ihi * wp, 0, sizeof(float) * (size_t)((hp - ihi) * wp));
    }
    return xp;
}

/* Start of wide col row crs, at wide column 0. */
const float *ccnn_conv_wide_row(const conv_wide_src *ws, int64_t crs)
{
    const ccnn_conv_dims *d = ws->d;
    const int64_t s = crs % d->s, r = crs / d->s % d->r, c = crs / (d->s * d->r);
    const int64_t wp = wide_wp(d);
    return ws->xp + c * wide_hp(d) * wp + r * d->dh * wp + s * d->dw + ws->j0;
}

/* op(A) = wide col (the weight gradient): m rows copied into the scratch,
 * then transposed into the sliver. */
const float *ccnn_conv_pack_wide_rows(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                   int m, int64_t p0, int64_t kc, float *dst, float *rows)
{
    if (m < kr->mr) memset(dst, 0, sizeof(float) * (size_t)(kc * kr->mr));
    for (int i = 0; i < m; i++)
        memcpy(rows + i * kc, ccnn_conv_wide_row(ctx, i0 + i) + p0, sizeof(float) * (size_t)kc);
    kr->transpose(rows, kc, m, kc, dst, kr->mr);
    return dst;
}

