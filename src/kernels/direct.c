/* direct.c - the direct convolution's portable tiles (contract in direct.h)
 * and the choice of tiles by ISA. Plain loops that a compiler can
 * vectorise over k; the AVX-512 and AVX2 tiles are in
 * direct_avx512.c and direct_avx2.c. */
#include "kernels/direct.h"
#include "core/arch.h"

#define KB 16
#define UW 8

static void fwd_c(int64_t T, const int64_t *off, const float *x, int64_t sw, const float *w,
                  const float *bias, float *y, int64_t ldy, int npx, int nk)
{
    float acc[UW][KB];
    for (int i = 0; i < npx; i++)
        for (int k = 0; k < KB; k++) acc[i][k] = bias ? bias[k] : 0.0f;
    for (int64_t t = 0; t < T; t++, w += KB) {
        const float *xt = x + off[t];
        for (int i = 0; i < npx; i++) {
            const float xv = xt[i * sw];
            for (int k = 0; k < KB; k++) acc[i][k] += xv * w[k];
        }
    }
    for (int k = 0; k < nk; k++)
        for (int i = 0; i < npx; i++) y[k * ldy + i] = acc[i][k];
}

static void wgrad_c(int nt, const int64_t *off, const float *x, int64_t P, int64_t Q,
                    int64_t xrow, int64_t sw, const float *dy, int64_t ldd, float *dw,
                    int64_t ldw, int nk, int accumulate)
{
    float acc[CCNN_DIRECT_TAPS][KB];
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < KB; k++) acc[t][k] = accumulate && k < nk ? dw[t * ldw + k] : 0.0f;
    for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < Q; q++) {
            const float *d = dy + (p * Q + q) * ldd, *xq = x + p * xrow + q * sw;
            for (int t = 0; t < nt; t++) {
                const float xv = xq[off[t]];
                for (int k = 0; k < KB; k++) acc[t][k] += xv * d[k];
            }
        }
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < nk; k++) dw[t * ldw + k] = acc[t][k];
}

/* pays_from_k 0: the scalar tiles do not beat the GEMM paths; only forced */
static const ccnn_direct_kernel k_portable = {.kb = KB, .uw = UW, .fwd = fwd_c, .wgrad = wgrad_c};

const ccnn_direct_kernel *ccnn_direct_kernel_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return &ccnn_direct_avx512;
    if (isa == CCNN_ISA_AVX2) return &ccnn_direct_avx2;
#endif
#if CCNN_ARM64
    if (isa == CCNN_ISA_NEON) return &ccnn_direct_neon;
#endif
    (void)isa;
    return &k_portable;
}
