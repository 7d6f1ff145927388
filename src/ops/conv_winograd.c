/* conv_winograd.c - the forward pass of a 3x3, stride-1, undilated
 * convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016).
 *
 * Each 2x2 block of a filter's output comes from the 4x4 input patch d that
 * covers it, with 16 multiplies per channel instead of 36:
 *   Y = A^T [ sum over c of (G g_c G^T) .* (B^T d_c B) ] A
 *       B^T = | 1  0 -1  0 |    G = |  1    0    0  |    A^T = | 1  1  1  0 |
 *             | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *             | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *             | 0  1  0 -1 |        |  0    0    1  |
 * For each of the 16 positions xi of the transformed 4x4 tile, the sum over
 * channels is a matrix product M_xi (Kg x tiles) = U_xi (Kg x Cg) V_xi
 * (Cg x tiles), done by the GEMM; the transforms around it are additions
 * (and halvings, once per call, for the filters). The tiles of a batch are
 * cut into chunks; each output tile is computed whole within its chunk and
 * no sum depends on the chunking, so the bits do not depend on the thread
 * count. Rounding differs from the direct sum (the transforms add and
 * subtract before multiplying, the GEMM sums channels in K blocks); against
 * a double-precision sum its error measured no worse than the direct
 * kernels' (docs/performance.md). */
#include "ops/conv_internal.h"
#include "kernels/gemm.h"
#include "kernels/wino.h"
#include <string.h>

int ccnn_conv_wino_applies(const ccnn_conv_dims *d)
{
    return d->r == 3 && d->s == 3 && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1;
}

static int64_t tiles_y(const ccnn_conv_dims *d) { return (d->p + 1) / 2; }
static int64_t tiles_x(const ccnn_conv_dims *d) { return (d->q + 1) / 2; }

int64_t ccnn_conv_wino_tiles(const ccnn_conv_dims *d) { return d->n * tiles_y(d) * tiles_x(d); }

int64_t ccnn_conv_wino_filters_floats(const ccnn_gemm_kernel *kr, const ccnn_conv_dims *d)
{
    return d->groups * 16 * ccnn_gemm_packed_a_floats(kr, d->kg, d->cg);
}

/* U_xi = (G g G^T)[xi] for every filter k and channel c of the groups, each
 * xi's Kg x Cg matrix packed for the GEMM: dst[(g*16 + xi) * packed + ...].
 * tmp: 16*Kg*Cg floats. */
void ccnn_conv_wino_pack_filters(const ccnn_gemm_kernel *kr, const ccnn_conv_dims *d,
                                 const float *w, float *dst, float *tmp)
{
    const int64_t packed = ccnn_gemm_packed_a_floats(kr, d->kg, d->cg), kc = d->kg * d->cg;
    /* threaded: serial, this took 3 % of a 64,32->64 14x14 forward pass */
    const int nt = omp_in_parallel() || kc < 1024 ? 1 : ccnn_threads();
    for (int64_t g = 0; g < d->groups; g++) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < kc; i++) {
            const float *f = w + (g * kc + i) * 9;
            float t[4][3]; /* G f: row a, column j */
            for (int j = 0; j < 3; j++) {
                const float f0 = f[j], f1 = f[3 + j], f2 = f[6 + j];
                t[0][j] = f0;
                t[1][j] = 0.5f * (f0 + f1 + f2);
                t[2][j] = 0.5f * (f0 - f1 + f2);
                t[3][j] = f2;
            }
            for (int a = 0; a < 4; a++) { /* (G f) G^T */
                tmp[(a * 4 + 0) * kc + i] = t[a][0];
                tmp[(a * 4 + 1) * kc + i] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                tmp[(a * 4 + 2) * kc + i] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                tmp[(a * 4 + 3) * kc + i] = t[a][2];
            }
        }
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int xi = 0; xi < 16; xi++) {
            ccnn_gemm_matrix m = {tmp + xi * kc, d->cg, 0};
            ccnn_gemm_pack_a_all(kr, d->kg, d->cg, ccnn_gemm_pack_a_matrix, &m,
                                 dst + (g * 16 + xi) * packed);
        }
    }
}

/* Rows and columns of the padded copy of one image and group that the
 * tiles read: every 4x4 patch lies inside it. */
static int64_t pad_rows(const ccnn_conv_dims *d) { return 2 * tiles_y(d) + 2; }
static int64_t pad_cols(const ccnn_conv_dims *d) { return 2 * tiles_x(d) + 2; }

/* Floats from one xi to the next in V (rows = Cg) or M (rows = Kg): 16 more
 * than the matrix, so that the 16 planes, which the transforms read or write
 * together, do not fall 4 KB apart onto the same L1 cache set (they did:
 * the transforms took 3x longer). */
static int64_t plane(int64_t rows, int64_t tc) { return rows * tc + 16; }

/* Floats of a chunk's buffers for tc tiles: V (16 x Cg x tc), M (16 x Kg x
 * tc), the padded copy of an image (Cg x pad_rows x pad_cols), and V's row
 * pointers for the GEMM (16 x Cg, two floats each). */
int64_t ccnn_conv_wino_chunk_floats(const ccnn_conv_dims *d, int64_t tc)
{
    return 16 * (plane(d->cg, tc) + plane(d->kg, tc)) + d->cg * pad_rows(d) * pad_cols(d) +
           2 * 16 * d->cg;
}

/* xp[(c*pad_rows + i)*pad_cols + j] = x_g[c][i - pt][j - pl], zero outside
 * the image. */
static void pad_image(const ccnn_conv_dims *d, const float *xg, float *xp)
{
    const int64_t hq = pad_rows(d), wq = pad_cols(d);
    const int64_t iw0 = d->pl < 0 ? -d->pl : 0, iw1 = min64(d->w, wq - d->pl);
    memset(xp, 0, sizeof(float) * (size_t)(d->cg * hq * wq));
    for (int64_t c = 0; c < d->cg; c++)
        for (int64_t ih = 0; ih < d->h && iw0 < iw1; ih++) {
            const int64_t i = ih + d->pt;
            if (i >= 0 && i < hq)
                memcpy(xp + (c * hq + i) * wq + iw0 + d->pl, xg + (c * d->h + ih) * d->w + iw0,
                       sizeof(float) * (size_t)(iw1 - iw0));
        }
}

/* The tiles of a batch are numbered image by image, tile row by tile row.
 * A run (wino.h), from tile t on: at most CCNN_WINO_RUN tiles of one tile
 * row, or two whole tile rows of the same image when they fit together. */
typedef struct tile_run {
    int64_t n, ty, tx0;
    int nt, nrows;
} tile_run;

static tile_run run_at(const ccnn_conv_dims *d, int64_t t, int64_t t1)
{
    const int64_t per_image = tiles_y(d) * tiles_x(d), tx = tiles_x(d);
    tile_run r = {t / per_image, t % per_image / tx, t % tx, 0, 1};
    if (2 * tx <= CCNN_WINO_RUN && r.tx0 == 0 && r.ty + 1 < tiles_y(d) && t + 2 * tx <= t1) {
        r.nt = (int)tx;
        r.nrows = 2;
    } else {
        r.nt = (int)min64(min64(CCNN_WINO_RUN, tx - r.tx0), t1 - t);
    }
    return r;
}

/* y for the batch's tiles [t0, t1) (at most tc of them), every group:
 * filters from ccnn_conv_wino_pack_filters; buf of
 * ccnn_conv_wino_chunk_floats(d, tc), 64-byte aligned; gemm_ws: one
 * thread's GEMM space. */
void ccnn_conv_wino_chunk(const ccnn_gemm_kernel *kr, const ccnn_conv_dims *d, const float *x,
                          const float *filters, const float *bias, float *y, int64_t t0,
                          int64_t t1, int64_t tc, float *buf, float *gemm_ws)
{
    const ccnn_wino_kernel *wk = ccnn_wino_kernel_for(ccnn_get_isa());
    const int64_t packed = ccnn_gemm_packed_a_floats(kr, d->kg, d->cg);
    const int64_t hw = d->h * d->w, hq = pad_rows(d), wq = pad_cols(d);
    const int64_t ldv = plane(d->cg, tc), ldm = plane(d->kg, tc);
    float *v = buf, *m = v + 16 * ldv, *xp = m + 16 * ldm;
    const float **rows = (const float **)(void *)(xp + d->cg * hq * wq);
    for (int xi = 0; xi < 16; xi++) /* row c of V_xi (Cg x tiles) */
        for (int64_t c = 0; c < d->cg; c++) rows[xi * d->cg + c] = v + xi * ldv + c * tc;
    for (int64_t g = 0; g < d->groups; g++) {
        /* V_xi[c][tile], a run of tiles and a channel at a time */
        for (int64_t t = t0, padded = -1; t < t1;) {
            const tile_run r = run_at(d, t, t1);
            if (r.n != padded) {
                pad_image(d, x + (r.n * d->c + g * d->cg) * hw, xp);
                padded = r.n;
            }
            for (int64_t c = 0; c < d->cg; c++)
                wk->input(xp + (c * hq + 2 * r.ty) * wq + 2 * r.tx0, wq, 2 * wq, r.nt, r.nrows,
                          v + c * tc + (t - t0), ldv);
            t += r.nt * r.nrows;
        }
        /* M_xi (Kg x tiles) = U_xi V_xi, V read where it lies */
        for (int xi = 0; xi < 16; xi++) {
            ccnn_gemm_packed u = {filters + (g * 16 + xi) * packed,
                                  (d->kg + kr->mr - 1) / kr->mr * kr->mr};
            ccnn_sgemm_rows(d->kg, t1 - t0, d->cg, ccnn_gemm_pack_a_packed, &u,
                            rows + xi * d->cg, 0.0f, m + xi * ldm, tc, 0, gemm_ws);
        }
        /* y = bias + A^T M A, a filter and a run of tiles at a time: a
         * filter's 16 rows of M stay in the L1 cache across its runs */
        for (int64_t k = 0; k < d->kg; k++) {
            const float bk = bias ? bias[g * d->kg + k] : 0.0f;
            for (int64_t t = t0; t < t1;) {
                const tile_run r = run_at(d, t, t1);
                const int ncols = (int)min64(2 * r.nt, d->q - 2 * r.tx0);
                float *y0 = y + ((r.n * d->k + g * d->kg + k) * d->p + 2 * r.ty) * d->q + 2 * r.tx0;
                float *rows[4];
                for (int i = 0; i < 4; i++)
                    rows[i] = i < 2 * r.nrows && 2 * r.ty + i < d->p ? y0 + i * d->q : NULL;
                wk->output(m + k * tc + (t - t0), ldm, r.nt, r.nrows, bk, rows, ncols);
                t += r.nt * r.nrows;
            }
        }
    }
}
