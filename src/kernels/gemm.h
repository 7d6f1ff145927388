/* gemm.h - single-precision matrix multiply used by the fast convolution.
 *
 *   C = beta*C + op(A) * op(B),  all row-major,
 *   op(A) is M x K (A itself is K x M when trans_a), op(B) is K x N.
 *
 * beta == 0 never reads C, so C may hold garbage (even NaN).
 *
 * Results are bitwise identical whatever the thread count: every element of
 * C is summed over K in the same order (K blocks fixed by K alone, the same
 * micro-kernel), and threads only split M/N into whole register tiles.
 * Different ISAs (ccnn_get_isa) may round differently.
 */
#ifndef CCNN_GEMM_H
#define CCNN_GEMM_H

#include "ccnn.h"
#include "core/arch.h"
#include <stdint.h>

/* Threaded: up to ccnn_threads() OpenMP threads, serial when already inside
 * a parallel region or when the product is small. */
void ccnn_sgemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                const float *A, int64_t lda, const float *B, int64_t ldb,
                float beta, float *C, int64_t ldc);

/* Serial: for use inside an outer OpenMP region. Same results. */
void ccnn_sgemm_serial(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                       const float *A, int64_t lda, const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc);

/* ---- blocking and micro-kernels ------------------------------------------ */

/* Depth of one K block. Fixed (not tuned per call or per thread count)
 * because it decides the summation order, hence the rounding. */
#define CCNN_GEMM_KC 256
/* Widest N panel packed at once (a multiple of every kernel's nr). */
#define CCNN_GEMM_NC 512
/* Largest register tile of any kernel. */
#define CCNN_GEMM_MR_MAX 8
#define CCNN_GEMM_NR_MAX 32

/* A micro-kernel computes one mr x nr tile of C from packed panels:
 *   a: kc steps of mr values (column k of the A sliver), read by broadcasts;
 *   b: kc rows of nr values, row k at b + k*ldb, 64-byte aligned.
 * Only the top-left m x n part (m <= mr, n <= nr) of the tile is written:
 *   load_c == 0:  C = acc            (C not read)
 *   load_c != 0:  C = beta*C + acc   (a multiply then an add, no FMA, so
 *                                     edge and full tiles round alike)
 * acc starts at zero and sums k = 0..kc-1 in order with FMA (plain
 * multiply-add in the portable kernel). */
typedef void (*ccnn_ukernel_fn)(int64_t kc, const float *a, const float *b, int64_t ldb,
                                float *c, int64_t ldc, int m, int n, float beta, int load_c);

/* dst[k*ldd + j] = src[j*lds + k] for j < rows, k < cols: the transpose
 * that packing row-major data into k-major slivers needs. */
typedef void (*ccnn_transpose_fn)(const float *src, int64_t lds, int rows, int64_t cols,
                                  float *dst, int64_t ldd);

/* The same tile with B read in place instead of from a packed panel: row k
 * of the tile's B is the n floats at brow[k] + col (any alignment; nothing
 * past them is read). Same operations in the same order, so the same bits
 * as the packed kernel. bias (or NULL): C = bias[i] + acc in row i, C not
 * read - the bits of load_c with beta 1 and C holding bias[i], without the
 * pass over C that puts it there. */
typedef void (*ccnn_ukernel_rows_fn)(int64_t kc, const float *a, const float *const *brow,
                                     int64_t col, float *c, int64_t ldc, int m, int n, float beta,
                                     int load_c, const float *bias);

typedef struct ccnn_gemm_kernel {
    int mr, nr;
    ccnn_ukernel_fn fn;
    ccnn_ukernel_rows_fn fn_rows;
    ccnn_transpose_fn transpose;
} ccnn_gemm_kernel;

/* The kernel for an ISA level; never NULL (falls back to portable C). */
const ccnn_gemm_kernel *ccnn_gemm_kernel_for(ccnn_isa isa);

/* ---- GEMM with caller-supplied packing -------------------------------------
 * The convolution builds its im2col matrix straight into the GEMM's packed
 * buffers instead of storing it. Packers get CCNN_GEMM_SCRATCH floats of
 * scratch space (shared by the A and B packers of one thread, which never
 * run at the same time). */
#define CCNN_GEMM_SCRATCH (CCNN_GEMM_NR_MAX * CCNN_GEMM_KC)

/* An A sliver: dst[k*mr + i] = op(A)[i0+i][p0+k] for i < m, k < kc; zero
 * for m <= i < mr. Returns the sliver the kernel reads: dst, or one packed
 * earlier with the same layout (ccnn_gemm_pack_a_packed). */
typedef const float *(*ccnn_pack_a_fn)(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                       int m, int64_t p0, int64_t kc, float *dst, float *scratch);

/* A B panel, row-major: dst[k*ldp + j] = op(B)[p0+k][j0+j] for j < nc, k < kc;
 * zero for nc <= j < ldp (ldp is nc rounded up to nr, so rows stay 64-byte
 * aligned). kc <= CCNN_GEMM_KC, nc <= CCNN_GEMM_NC. */
typedef void (*ccnn_pack_b_fn)(const void *ctx, const ccnn_gemm_kernel *kr, int64_t p0,
                               int64_t kc, int64_t j0, int64_t nc, float *dst, int64_t ldp,
                               float *scratch);

/* The packers for a plain matrix; ctx is a ccnn_gemm_matrix. */
typedef struct ccnn_gemm_matrix {
    const float *m;
    int64_t ld;
    int trans; /* op(X) = X^T */
} ccnn_gemm_matrix;
const float *ccnn_gemm_pack_a_matrix(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                     int m, int64_t p0, int64_t kc, float *dst, float *scratch);
void ccnn_gemm_pack_b_matrix(const void *ctx, const ccnn_gemm_kernel *kr, int64_t p0,
                             int64_t kc, int64_t j0, int64_t nc, float *dst, int64_t ldp,
                             float *scratch);

/* The depth of the K blocks of a product with inner size K: K cut into the
 * fewest blocks of at most CCNN_GEMM_KC, all as equal as can be (a K of
 * 288 is 144 + 144, not 256 + 32, which would load and store C twice for
 * little work). It depends on K only, so the summation order never depends
 * on the thread count. */
int64_t ccnn_gemm_kblock(int64_t K);

/* ---- A packed once, used many times -----------------------------------------
 * A product repeated with the same A (a convolution's weights, image after
 * image) packs A once into all its slivers: ccnn_gemm_packed_a_floats(kr, M,
 * K) floats (64-byte aligned), filled by ccnn_gemm_pack_a_all from any A
 * packer; then ccnn_gemm_pack_a_packed with a ccnn_gemm_packed as its ctx
 * hands the slivers to ccnn_sgemm_ex without copying. kr must be the
 * kernel of the current ISA (ccnn_gemm_kernel_for(ccnn_get_isa())). */
typedef struct ccnn_gemm_packed {
    const float *a;
    int64_t m_pad; /* M rounded up to mr */
} ccnn_gemm_packed;
int64_t ccnn_gemm_packed_a_floats(const ccnn_gemm_kernel *kr, int64_t M, int64_t K);
void ccnn_gemm_pack_a_all(const ccnn_gemm_kernel *kr, int64_t M, int64_t K, ccnn_pack_a_fn pack_a,
                          const void *ctx, float *dst);
const float *ccnn_gemm_pack_a_packed(const void *ctx, const ccnn_gemm_kernel *kr, int64_t i0,
                                     int m, int64_t p0, int64_t kc, float *dst, float *scratch);

/* Packing space of one thread: an A sliver, a B panel, the scratch. */
#define CCNN_GEMM_WS_FLOATS (CCNN_GEMM_MR_MAX * CCNN_GEMM_KC + CCNN_GEMM_KC * CCNN_GEMM_NC + \
                             CCNN_GEMM_SCRATCH)
/* 64-byte aligned packing space for that many threads, or NULL; free() it. */
float *ccnn_gemm_ws_alloc(int threads);

/* C = beta*C + op(A) * op(B) with the operands given by their packers;
 * threaded as ccnn_sgemm when threaded != 0 (up to ccnn_threads()
 * threads), else serial. Same determinism. ws: NULL (the GEMM allocates
 * its own), or space from ccnn_gemm_ws_alloc for as many threads as it may
 * use - callers that multiply many times save the allocations. */
void ccnn_sgemm_ex(int64_t M, int64_t N, int64_t K, ccnn_pack_a_fn pack_a, const void *a_ctx,
                   ccnn_pack_b_fn pack_b, const void *b_ctx, float beta, float *C, int64_t ldc,
                   int threaded, float *ws);

/* C = beta*C + op(A) * B where row k of B (K x N) is the N floats at
 * brow[k]: B is read where it lies, never packed. For a convolution whose
 * im2col rows are stretches of the (padded) input, that skips the copy. */
void ccnn_sgemm_rows(int64_t M, int64_t N, int64_t K, ccnn_pack_a_fn pack_a, const void *a_ctx,
                     const float *const *brow, float beta, float *C, int64_t ldc, int threaded,
                     float *ws);

/* ---- dot products over 2-D regions (src/kernels/gemm_dot.c) ----------------
 * vacc[(i*N + j)*16 + l] += the sum over r < rows, c < cols with c % 16 == l
 * of arow[i][r*a_rs + c] * b[j*ldb + r*b_rs + c]: sixteen lane sums per
 * (i, j), kept across calls and folded once by ccnn_gemm_dot_fold (a fixed
 * tree). Nothing past a row's cols is read. */
#define CCNN_GEMM_DOT_LANES 16
typedef void (*ccnn_gemm_dot_fn)(int64_t M, int64_t N, int64_t rows, int64_t cols,
                                 const float *const *arow, int64_t a_rs, const float *b,
                                 int64_t ldb, int64_t b_rs, float *vacc);
ccnn_gemm_dot_fn ccnn_gemm_dot_for(ccnn_isa isa);
/* out[e] = the sum of the 16 lanes of vacc[e*16 ...], for e < count. */
void ccnn_gemm_dot_fold(int64_t count, const float *vacc, float *out);

#if CCNN_X86
void ccnn_ukernel_avx512(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                         int64_t ldc, int m, int n, float beta, int load_c);
void ccnn_ukernel_avx2(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                       int64_t ldc, int m, int n, float beta, int load_c);
void ccnn_ukernel_rows_avx512(int64_t kc, const float *a, const float *const *brow, int64_t col,
                              float *c, int64_t ldc, int m, int n, float beta, int load_c,
                              const float *bias);
void ccnn_ukernel_rows_avx2(int64_t kc, const float *a, const float *const *brow, int64_t col,
                            float *c, int64_t ldc, int m, int n, float beta, int load_c,
                            const float *bias);
void ccnn_transpose_avx2(const float *src, int64_t lds, int rows, int64_t cols,
                         float *dst, int64_t ldd);
void ccnn_gemm_dot_avx512(int64_t M, int64_t N, int64_t rows, int64_t cols,
                          const float *const *arow, int64_t a_rs, const float *b, int64_t ldb,
                          int64_t b_rs, float *vacc);
void ccnn_gemm_dot_avx2(int64_t M, int64_t N, int64_t rows, int64_t cols,
                        const float *const *arow, int64_t a_rs, const float *b, int64_t ldb,
                        int64_t b_rs, float *vacc);
#endif

#endif
