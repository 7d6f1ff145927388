/* test_wino_kernels.c - the Winograd F(2x2, 3x3) transforms of every ISA
 * level (src/kernels/wino*.c) against plain loops written here from the
 * definitions V = B^T d B and Y = bias + A^T M A, on every run the
 * contract allows (1..16 tiles of one row, 1..8 tiles of two rows), with
 * short last rows, NULL output rows, inputs allocated to the exact bound
 * wino.h gives (so that the sanitizer build sees any read past it) and a
 * guard after each output row. wino.h also promises the same bits on every ISA: checked
 * against the portable kernel.
 *
 * Run with `build/ccnn_tests wino`. */
#include "test.h"
#include "kernels/wino.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

/* v[xi*16 + u] = (B^T d B)[a][b] of tile u, xi = 4a + b, in double. */
static void input_ref(const float *x, int64_t ldr, int64_t rstep, int nt, int nrows, double *v)
{
    for (int u = 0; u < nt * nrows; u++) {
        const float *p = x + u / nt * rstep + 2 * (u % nt);
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
                double s = 0;
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) s += BT[a][i] * (double)p[i * ldr + j] * BT[b][j];
                v[(4 * a + b) * 16 + u] = s;
            }
    }
}

static int close_to(float got, double want)
{
    return fabs((double)got - want) <= 1e-5 * (1.0 + fabs(want));
}

CCNN_TEST(wino_kernels_input)
{
    test_rng rng = {0x3141};
    ccnn_isa isas[3], cur = ccnn_get_isa();
    const int nisa = test_isas(isas);
    const ccnn_wino_kernel *portable = ccnn_wino_kernel_for(CCNN_ISA_SCALAR);
    for (int nrows = 1; nrows <= 2; nrows++)
        for (int nt = 1; nt * nrows <= CCNN_WINO_RUN; nt++) {
            const int64_t ldr = 2 * nt + 2 + test_rand_int(&rng, 0, 5);
            const int64_t rstep = 2 * ldr;
            /* exactly up to the last float the contract lets a kernel read */
            const size_t nx = (size_t)((nrows - 1) * rstep + 3 * ldr + 2 * nt + 2);
            float *x = test_alloc(nx);
            test_fill(&rng, x, nx, -1.0f, 1.0f);
            const int64_t ldv = 16 + test_rand_int(&rng, 0, 3);
            double ref[16 * 16];
            input_ref(x, ldr, rstep, nt, nrows, ref);
            float *want = test_alloc((size_t)(16 * ldv)), *got = test_alloc((size_t)(16 * ldv));
            for (int64_t i = 0; i < 16 * ldv; i++) want[i] = -7.0f;
            portable->input(x, ldr, rstep, nt, nrows, want, ldv);
            for (int xi = 0; xi < 16; xi++)
                for (int u = 0; u < nt * nrows; u++)
                    CHECK_MSG(close_to(want[xi * ldv + u], ref[xi * 16 + u]),
                              "portable input nt %d nrows %d xi %d tile %d: %g, want %g", nt,
                              nrows, xi, u, want[xi * ldv + u], ref[xi * 16 + u]);
            for (int i = 0; i < nisa; i++) {
                for (int64_t j = 0; j < 16 * ldv; j++) got[j] = -7.0f;
                ccnn_wino_kernel_for(isas[i])->input(x, ldr, rstep, nt, nrows, got, ldv);
                /* the same bits, and nothing written past the run's lanes */
                CHECK_MSG(memcmp(got, want, sizeof(float) * (size_t)(16 * ldv)) == 0,
                          "%s input differs from portable: nt %d nrows %d",
                          ccnn_isa_name(isas[i]), nt, nrows);
            }
            free(x);
            free(want);
            free(got);
        }
    ccnn_set_isa(cur);
}

CCNN_TEST(wino_kernels_output)
{
    test_rng rng = {0x2718};
    ccnn_isa isas[3], cur = ccnn_get_isa();
    const int nisa = test_isas(isas);
    const ccnn_wino_kernel *portable = ccnn_wino_kernel_for(CCNN_ISA_SCALAR);
    for (int nrows = 1; nrows <= 2; nrows++)
        for (int nt = 1; nt * nrows <= CCNN_WINO_RUN; nt++)
            for (int cut = 0; cut < 2; cut++) { /* the image's last column in the run, or not */
                const int ncols = 2 * nt - cut, skip = test_rand_int(&rng, -1, 2 * nrows - 1);
                const int64_t ldm = 16 + test_rand_int(&rng, 0, 3);
                float *m = test_alloc((size_t)(16 * ldm));
                test_fill(&rng, m, (size_t)(16 * ldm), -1.0f, 1.0f);
                const float bias = test_rand_float(&rng, -1.0f, 1.0f);
                float *want[4] = {0}, *got[4] = {0};
                float *yw[4], *yg[4];
                for (int r = 0; r < 4; r++) {
                    /* rows of ncols and a guard; one row (skip) and rows past the run NULL */
                    const int live = r < 2 * nrows && r != skip;
                    want[r] = live ? test_alloc((size_t)ncols + 1) : NULL;
                    got[r] = live ? test_alloc((size_t)ncols + 1) : NULL;
                    if (live) want[r][ncols] = got[r][ncols] = -9.0f;
                    yw[r] = want[r];
                    yg[r] = got[r];
                }
                portable->output(m, ldm, nt, nrows, bias, yw, ncols);
                for (int r = 0; r < 2 * nrows; r++) {
                    if (!want[r]) continue;
                    for (int q = 0; q < ncols; q++) {
                        const int u = r / 2 * nt + q / 2, a = r % 2, b = q % 2;
                        double s = bias;
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++)
                                s += AT[a][i] * (double)m[(4 * i + j) * ldm + u] * AT[b][j];
                        CHECK_MSG(close_to(want[r][q], s),
                                  "portable output nt %d nrows %d row %d col %d: %g, want %g", nt,
                                  nrows, r, q, want[r][q], s);
                    }
                }
                for (int i = 0; i < nisa; i++) {
                    for (int r = 0; r < 4; r++)
                        if (got[r]) {
                            for (int q = 0; q < ncols; q++) got[r][q] = -7.0f;
                            got[r][ncols] = -9.0f;
                        }
                    ccnn_wino_kernel_for(isas[i])->output(m, ldm, nt, nrows, bias, yg, ncols);
                    for (int r = 0; r < 4; r++)
                        CHECK_MSG(!got[r] || memcmp(got[r], want[r],
                                                    sizeof(float) * (size_t)(ncols + 1)) == 0,
                                  "%s output row %d differs from portable: nt %d nrows %d ncols %d",
                                  ccnn_isa_name(isas[i]), r, nt, nrows, ncols);
                }
                for (int r = 0; r < 4; r++) {
                    free(want[r]);
                    free(got[r]);
                }
                free(m);
            }
    ccnn_set_isa(cur);
}
