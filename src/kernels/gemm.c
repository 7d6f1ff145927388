/* gemm.c - blocked, packed SGEMM driver (see gemm.h for the contract).
 *
 * Loop order (GotoBLAS style, A sliver kept in L1):
 *   jc: N in NC-column panels
 *     pc: K in ccnn_gemm_kblock(K) blocks  <- fixed by K: decides rounding
 *       pack op(B)[pc.., jc..] into a row-major panel (stays in L2)
 *       ic: M in mr-row slivers
 *         pack op(A)[ic.., pc..] (one mr x kc sliver, stays in L1)
 *         jr: the panel's nr-wide slivers -> micro-kernel
 * The first K block applies beta to C; later blocks add to C. Threads split
 * M/N into whole tiles and each runs this same loop on its part, so every
 * element of C sees the same operations in the same order. */
#include "kernels/gemm.h"
#include "core/arch.h"
#include "ccnn_internal.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define PAR_MIN_WORK (64.0 * 64 * 64) /* M*N*K below which threads cost more than they give */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- portable kernels ----------------------------------------------------- */
#define CMR 4
#define CNR 16

static void ukernel_c(int64_t kc, const float *restrict a, const float *restrict b, int64_t ldb,
                      float *restrict c, int64_t ldc, int m, int n, float beta, int load_c)
{
    float acc[CMR][CNR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < CMR; i++)
            for (int j = 0; j < CNR; j++)
                acc[i][j] += a[i] * b[j];
        a += CMR;
        b += ldb;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = load_c ? beta * c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void ukernel_rows_c(int64_t kc, const float *restrict a, const float *const *brow,
                           int64_t col, float *restrict c, int64_t ldc, int m, int n, float beta,
                           int load_c, const float *bias)
{
    float acc[CMR][CNR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        const float *b = brow[k] + col;
        for (int i = 0; i < CMR; i++)
            for (int j = 0; j < n; j++)
                acc[i][j] += a[i] * b[j];
        a += CMR;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = bias     ? bias[i] + acc[i][j]
                           : load_c ? beta * c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void transpose_c(const float *restrict src, int64_t lds, int rows, int64_t cols,
                        float *restrict dst, int64_t ldd)
{
    for (int j = 0; j < rows; j++)
        for (int64_t k = 0; k < cols; k++) dst[k * ldd + j] = src[j * lds + k];
}

static const ccnn_gemm_kernel k_scalar = {CMR, CNR, ukernel_c, ukernel_rows_c, transpose_c};
#if CCNN_X86
static const ccnn_gemm_kernel k_avx2 = {6, 16, ccnn_ukernel_avx2, ccnn_ukernel_rows_avx2,
                                        ccnn_transpose_avx2};
static const ccnn_gemm_kernel k_avx512 = {8, 32, ccnn_ukernel_avx512, ccnn_ukernel_rows_avx512,
                                          ccnn_transpose_avx2};
#endif

const ccnn_gemm_kernel *ccnn_gemm_kernel_for(ccnn_isa isa)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return &k_avx512;
    if (isa == CCNN_ISA_AVX2) return &k_avx2;
#endif
#if CCNN_ARM64
    if (isa == CCNN_ISA_NEON) return &ccnn_gemm_neon;
#endif
    (void)isa;
    return &k_scalar;
}

/* ---- packing ---------------------------------------------------------- */
typedef struct gemm_args {
    const ccnn_gemm_kernel *kr;
    int64_t M, N, K;
    ccnn_pack_a_fn pack_a;
    const void *a_ctx;
    ccnn_pack_b_fn pack_b;
    const void *b_ctx;
    const float *const *brow; /* B in place (ccnn_sgemm_rows) instead of pack_b */
    float beta;
    float *C;
    int64_t ldc;
} gemm_args;

const float *ccnn_gemm_pack_a_matrix(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                     int m, int64_t p0, int64_t kc, float *restrict dst,
                                     float *scratch)
{
    const ccnn_gemm_matrix *a = ctx;
    const int mr = kr->mr;
    (void)scratch;
    if (m < mr) memset(dst, 0, sizeof(float) * (size_t)(kc * mr));
    if (!a->trans) {
        kr->transpose(a->m + i0 * a->ld + p0, a->ld, m, kc, dst, mr);
    } else {
        for (int64_t k = 0; k < kc; k++) {
            const float *src = a->m + (p0 + k) * a->ld + i0;
            if (m == 8) memcpy(dst + k * mr, src, 8 * sizeof(float)); /* inlined: 2 moves */
            else memcpy(dst + k * mr, src, sizeof(float) * (size_t)m);
        }
    }
    return dst;
}

int64_t ccnn_gemm_kblock(int64_t K)
{
    int64_t blocks = (K + CCNN_GEMM_KC - 1) / CCNN_GEMM_KC;
    return blocks > 1 ? (K + blocks - 1) / blocks : K;
}

/* The sliver of rows i0.. in the K block at p0 starts at p0*m_pad + i0*kc:
 * every block before it is kc deep (ccnn_gemm_kblock), and holds m_pad rows. */
int64_t ccnn_gemm_packed_a_floats(const ccnn_gemm_kernel *kr, int64_t M, int64_t K)
{
    return (M + kr->mr - 1) / kr->mr * kr->mr * K;
}

void ccnn_gemm_pack_a_all(const ccnn_gemm_kernel *kr, int64_t M, int64_t K, ccnn_pack_a_fn pack_a,
                          const void *ctx, float *dst)
{
    const int64_t m_pad = (M + kr->mr - 1) / kr->mr * kr->mr, kb = ccnn_gemm_kblock(K);
    _Alignas(64) float scratch[CCNN_GEMM_SCRATCH];
    for (int64_t pc = 0; pc < K; pc += kb) {
        int64_t kc = min64(kb, K - pc);
        for (int64_t ic = 0; ic < M; ic += kr->mr) {
            float *sliver = dst + pc * m_pad + ic * kc;
            const float *got = pack_a(ctx, kr, ic, (int)min64(kr->mr, M - ic), pc, kc, sliver, scratch);
            if (got != sliver) memcpy(sliver, got, sizeof(float) * (size_t)(kc * kr->mr));
        }
    }
}

const float *ccnn_gemm_pack_a_packed(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                     int m, int64_t p0, int64_t kc, float *dst, float *scratch)
{
    const ccnn_gemm_packed *pk = ctx;
    (void)kr; (void)m; (void)dst; (void)scratch;
    return pk->a + p0 * pk->m_pad + i0 * kc;
}

void ccnn_gemm_pack_b_matrix(const void *ctx, const ccnn_gemm_kernel *kr, int64_t p0,
                             int64_t kc, int64_t j0, int64_t nc, float *restrict dst,
                             int64_t ldp, float *scratch)
{
    const ccnn_gemm_matrix *b = ctx;
    (void)scratch;
    if (!b->trans) {
        for (int64_t k = 0; k < kc; k++)
            memcpy(dst + k * ldp, b->m + (p0 + k) * b->ld + j0, sizeof(float) * (size_t)nc);
    } else {
        kr->transpose(b->m + j0 * b->ld + p0, b->ld, (int)nc, kc, dst, ldp);
    }
    for (int64_t k = 0; k < kc && nc < ldp; k++)
        memset(dst + k * ldp + nc, 0, sizeof(float) * (size_t)(ldp - nc));
}

/* ---- drivers ---------------------------------------------------------- */

typedef struct pack_space {
    float *a, *b, *scratch;
    int64_t nc; /* B panel width the space holds, a multiple of nr */
} pack_space;

/* C[m0:m1, n0:n1] of the product; m0 and n0 are multiples of mr and nr. */
static void gemm_range(const gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                       const pack_space *ps)
{
    const ccnn_gemm_kernel *kr = g->kr;
    for (int64_t jc = n0; jc < n1; jc += ps->nc) {
        int64_t nc = min64(ps->nc, n1 - jc), ldp = (nc + kr->nr - 1) / kr->nr * kr->nr;
        const int64_t kb = ccnn_gemm_kblock(g->K);
        for (int64_t pc = 0; pc < g->K; pc += kb) {
            int64_t kc = min64(kb, g->K - pc);
            int load_c = pc > 0 || g->beta != 0.0f;
            float beta = pc > 0 ? 1.0f : g->beta;
            if (!g->brow) g->pack_b(g->b_ctx, kr, pc, kc, jc, nc, ps->b, ldp, ps->scratch);
            for (int64_t ic = m0; ic < m1; ic += kr->mr) {
                int m = (int)min64(kr->mr, m1 - ic);
                const float *a = g->pack_a(g->a_ctx, kr, ic, m, pc, kc, ps->a, ps->scratch);
                float *c = g->C + ic * g->ldc + jc;
                for (int64_t jr = 0; jr < nc; jr += kr->nr) {
                    int n = (int)min64(kr->nr, nc - jr);
                    if (g->brow)
                        kr->fn_rows(kc, a, g->brow + pc, jc + jr, c + jr, g->ldc, m, n, beta, load_c,
                                    NULL);
                    else
                        kr->fn(kc, a, ps->b + jr, ldp, c + jr, g->ldc, m, n, beta, load_c);
                }
            }
        }
    }
}

static float *alloc_floats(size_t n)
{
    void *p = NULL;
    return posix_memalign(&p, 64, sizeof(float) * n) == 0 ? p : NULL;
}

float *ccnn_gemm_ws_alloc(int threads)
{
    return alloc_floats(CCNN_GEMM_WS_FLOATS * (size_t)(threads > 0 ? threads : 1));
}

/* One thread's share, packing into ws (CCNN_GEMM_WS_FLOATS, 64-byte
 * aligned) or, without it, space of its own sized to the problem. If that
 * allocation fails we fall back to one-sliver panels on the stack: the same
 * K blocks and kernel, so the same result, only slower - a void GEMM cannot
 * fail. */
static void gemm_part(const gemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                      float *ws)
{
    const ccnn_gemm_kernel *kr = g->kr;
    int64_t kc = CCNN_GEMM_KC, nc = CCNN_GEMM_NC;
    float *own = NULL;
    if (!ws) {
        kc = min64(kc, g->K);
        nc = min64(nc, (n1 - n0 + kr->nr - 1) / kr->nr * kr->nr);
        ws = own = alloc_floats((size_t)(CCNN_GEMM_MR_MAX * CCNN_GEMM_KC + kc * nc +
                                         CCNN_GEMM_SCRATCH));
    }
    if (ws) {
        float *b = ws + CCNN_GEMM_MR_MAX * CCNN_GEMM_KC; /* offsets keep 64-byte alignment */
        pack_space ps = {ws, b, b + kc * nc, nc};
        gemm_range(g, m0, m1, n0, n1, &ps);
    } else {
        _Alignas(64) float sa[CCNN_GEMM_MR_MAX * CCNN_GEMM_KC];
        _Alignas(64) float sb[CCNN_GEMM_KC * CCNN_GEMM_NR_MAX];
        _Alignas(64) float ss[CCNN_GEMM_SCRATCH];
        pack_space small = {sa, sb, ss, kr->nr};
        gemm_range(g, m0, m1, n0, n1, &small);
    }
    free(own);
}

/* Split tm x tn (tm*tn <= nt) minimising the most tiles any thread gets;
 * on a tie prefer splitting N, which keeps A (usually the weights) whole. */
static void choose_split(int64_t tiles_m, int64_t tiles_n, int nt, int *tm, int *tn)
{
    int64_t best = -1;
    for (int a = 1; a <= nt && a <= tiles_m; a++) {
        int b = (int)min64(nt / a, tiles_n);
        int64_t cost = ((tiles_m + a - 1) / a) * ((tiles_n + b - 1) / b);
        if (best < 0 || cost < best) {
            best = cost;
            *tm = a;
            *tn = b;
        }
    }
}

static void gemm_run(const gemm_args *g, int threaded, float *ws)
{
    if (g->M <= 0 || g->N <= 0) return;
    if (g->K <= 0) { /* nothing to multiply: C = beta*C */
        for (int64_t i = 0; i < g->M; i++)
            for (int64_t j = 0; j < g->N; j++) {
                float *c = g->C + i * g->ldc + j;
                *c = g->beta == 0.0f ? 0.0f : g->beta * *c;
            }
        return;
    }
    const int mr = g->kr->mr, nr = g->kr->nr;
    int64_t tiles_m = (g->M + mr - 1) / mr, tiles_n = (g->N + nr - 1) / nr;
    int nt = ccnn_threads(), tm = 1, tn = 1;
    if (threaded && nt > 1 && !omp_in_parallel() &&
        (double)g->M * (double)g->N * (double)g->K >= PAR_MIN_WORK)
        choose_split(tiles_m, tiles_n, nt, &tm, &tn);
    int parts = tm * tn;
    if (parts <= 1) {
        gemm_part(g, 0, g->M, 0, g->N, ws);
        return;
    }
#pragma omp parallel num_threads(parts)
    {
        float *tws = ws ? ws + CCNN_GEMM_WS_FLOATS * (size_t)omp_get_thread_num() : NULL;
        /* Loop in case the runtime gave fewer threads than asked. */
        for (int t = omp_get_thread_num(); t < parts; t += omp_get_num_threads()) {
            int64_t im = t / tn, jn = t % tn;
            int64_t m0 = tiles_m * im / tm * mr, m1 = min64(g->M, tiles_m * (im + 1) / tm * mr);
            int64_t n0 = tiles_n * jn / tn * nr, n1 = min64(g->N, tiles_n * (jn + 1) / tn * nr);
            if (m0 < m1 && n0 < n1) gemm_part(g, m0, m1, n0, n1, tws);
        }
    }
}

void ccnn_sgemm_ex(int64_t M, int64_t N, int64_t K, ccnn_pack_a_fn pack_a, const void *a_ctx,
                   ccnn_pack_b_fn pack_b, const void *b_ctx, float beta, float *C, int64_t ldc,
                   int threaded, float *ws)
{
    gemm_args g = {ccnn_gemm_kernel_for(ccnn_get_isa()), M, N, K, pack_a, a_ctx, pack_b, b_ctx,
                   NULL, beta, C, ldc};
    gemm_run(&g, threaded, ws);
}

void ccnn_sgemm_rows(int64_t M, int64_t N, int64_t K, ccnn_pack_a_fn pack_a, const void *a_ctx,
                     const float *const *brow, float beta, float *C, int64_t ldc, int threaded,
                     float *ws)
{
    gemm_args g = {ccnn_gemm_kernel_for(ccnn_get_isa()), M, N, K, pack_a, a_ctx, NULL, NULL,
                   brow, beta, C, ldc};
    gemm_run(&g, threaded, ws);
}

void ccnn_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                const float *A, int64_t lda, const float *B, int64_t ldb,
                float beta, float *C, int64_t ldc)
{
    ccnn_gemm_matrix a = {A, lda, trans_a}, b = {B, ldb, trans_b};
    ccnn_sgemm_ex(M, N, K, ccnn_gemm_pack_a_matrix, &a, ccnn_gemm_pack_b_matrix, &b, beta, C,
                  ldc, 1, NULL);
}

void ccnn_sgemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                       const float *A, int64_t lda, const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc)
{
    ccnn_gemm_matrix a = {A, lda, trans_a}, b = {B, ldb, trans_b};
    ccnn_sgemm_ex(M, N, K, ccnn_gemm_pack_a_matrix, &a, ccnn_gemm_pack_b_matrix, &b, beta, C,
                  ldc, 0, NULL);
}
