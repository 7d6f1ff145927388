/* bench_conv.c - convolution speed: GFLOP/s of forward, backward-data,
 * backward-weights and the whole training step of a layer, on typical layer
 * shapes, at 1 and 2 threads, as a fraction of the FMA peak measured here.
 *
 *   build/bench/bench_conv [--threads LIST] [--runs N] [--shape I] [--csv FILE] [THREADS]
 *
 *   --threads 1,2   thread counts to measure (default 1,2); a bare number
 *                   THREADS is the same as --threads THREADS
 *   --runs N        timed calls per figure, at least 5 (default 7); small
 *                   layers get more, up to about 0.25 s of calls
 *   --shape I       only the I-th shape of the list (1-based), e.g. under perf
 *   --clock cpu     time by the process's CPU time, not the wall clock: on a
 *                   machine shared with other work, a 1-thread figure that
 *                   preemption does not inflate (at more threads it counts
 *                   every thread's time, spinning included: per-core figures)
 *   --csv FILE      also append machine-readable lines to FILE
 *                   ("-": stdout), read by bench/bench_torch.py:
 *                     peak,THREADS,ISA,GFLOPS
 *                     conv,N,C,K,H,W,R,STRIDE,PAD,THREADS,PASS,GFLOPS,FRACTION_OF_PEAK,SECONDS
 *                   PASS is fwd, bwd_data, bwd_weights or step.
 *
 * FLOPs of one pass = 2*N*K*P*Q*C*R*S (groups 1); the step (forward with
 * bias, backward data, backward weights with the bias gradient) counts three
 * passes. Every figure is the median of the timed calls after one warm-up
 * call. The peak is a register-only FMA loop (AVX-512 or AVX2, chosen at run
 * time like the library's kernels), per core at 1 thread, for all threads
 * together at more; each layer's figure is divided by the peak of its own
 * thread count. */
#include "ccnn.h"
#include "core/arch.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if CCNN_X86
#include <immintrin.h>
#endif

#define MAX_RUNS 51
#define MAX_THREADS 8

typedef struct { int n, c, k, h, w, r, stride, pad; } shape;

/* N, C->K, HxW, kernel, stride, pad */
static const shape shapes[] = {
    {64, 1, 32, 28, 28, 3, 1, 1},     /* first layer of the default net */
    {64, 1, 20, 28, 28, 5, 1, 0},     /* LeNet-style first layer */
    {64, 32, 64, 14, 14, 3, 1, 1},    /* second layer of the default net */
    {32, 64, 64, 56, 56, 3, 1, 1},
    {32, 128, 128, 28, 28, 3, 1, 1},
    {32, 64, 128, 56, 56, 3, 2, 1},   /* strided */
    {32, 256, 64, 14, 14, 1, 1, 0},   /* pointwise */
};

static const char *const pass_names[4] = {"fwd", "bwd_data", "bwd_weights", "step"};

static clockid_t g_clock = CLOCK_MONOTONIC; /* --clock cpu: CLOCK_PROCESS_CPUTIME_ID */

static double now(void)
{
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof t[0], by_value);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* ---- FMA peak ----------------------------------------------------------------
 * acc = acc*m + a on 16 independent registers: enough FMAs in flight to
 * cover latency x throughput on current x86 cores (Zen 4: 4 cycles x 2
 * pipes; Intel: 4 x 2). Everything stays in registers. */
#define PEAK_ACC 16
#define FMA16(f)                                                                   \
    a0 = f(a0, m, c); a1 = f(a1, m, c); a2 = f(a2, m, c); a3 = f(a3, m, c);        \
    a4 = f(a4, m, c); a5 = f(a5, m, c); a6 = f(a6, m, c); a7 = f(a7, m, c);        \
    a8 = f(a8, m, c); a9 = f(a9, m, c); a10 = f(a10, m, c); a11 = f(a11, m, c);    \
    a12 = f(a12, m, c); a13 = f(a13, m, c); a14 = f(a14, m, c); a15 = f(a15, m, c)

static volatile float peak_sink;

#if CCNN_X86
/* Returns the FLOPs done: iters x 16 FMAs x 16 lanes x 2. */
__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    /* distinct starting values, or the compiler merges identical chains */
#define I512(i) _mm512_set1_ps(0.01f * (i))
    __m512 a0 = I512(0), a1 = I512(1), a2 = I512(2), a3 = I512(3), a4 = I512(4), a5 = I512(5),
           a6 = I512(6), a7 = I512(7), a8 = I512(8), a9 = I512(9), a10 = I512(10), a11 = I512(11),
           a12 = I512(12), a13 = I512(13), a14 = I512(14), a15 = I512(15);
#undef I512
    for (long i = 0; i < iters; i++) {
        FMA16(_mm512_fmadd_ps);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                       _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
    peak_sink = _mm512_reduce_add_ps(s);
    return (double)iters * PEAK_ACC * 16 * 2;
}

/* iters x 16 FMAs x 8 lanes x 2. */
__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
#define I256(i) _mm256_set1_ps(0.01f * (i))
    __m256 a0 = I256(0), a1 = I256(1), a2 = I256(2), a3 = I256(3), a4 = I256(4), a5 = I256(5),
           a6 = I256(6), a7 = I256(7), a8 = I256(8), a9 = I256(9), a10 = I256(10), a11 = I256(11),
           a12 = I256(12), a13 = I256(13), a14 = I256(14), a15 = I256(15);
#undef I256
    for (long i = 0; i < iters; i++) {
        FMA16(_mm256_fmadd_ps);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)),
                                       _mm256_add_ps(_mm256_add_ps(a12, a13), _mm256_add_ps(a14, a15))));
    float v[8];
    _mm256_storeu_ps(v, s);
    peak_sink = v[0] + v[7];
    return (double)iters * PEAK_ACC * 8 * 2;
}
#endif

/* Scalar fallback: the compiler may vectorise it or not; a rough figure. */
static double fma_loop_scalar(long iters)
{
    float m = 0.999999f, c = 1e-6f;
    float a0 = 0.00f, a1 = 0.01f, a2 = 0.02f, a3 = 0.03f, a4 = 0.04f, a5 = 0.05f, a6 = 0.06f,
          a7 = 0.07f, a8 = 0.08f, a9 = 0.09f, a10 = 0.10f, a11 = 0.11f, a12 = 0.12f, a13 = 0.13f,
          a14 = 0.14f, a15 = 0.15f;
#define SFMA(x, y, z) ((x) * (y) + (z))
    for (long i = 0; i < iters; i++) {
        FMA16(SFMA);
    }
#undef SFMA
    peak_sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
    return (double)iters * PEAK_ACC * 2;
}

/* The loop for the level the library's kernels run at (ccnn_get_isa, which
 * checks the CPU and honours CCNN_ISA). */
static double fma_loop(ccnn_isa isa, long iters)
{
#if CCNN_X86
    if (isa == CCNN_ISA_AVX512) return fma_loop_avx512(iters);
    if (isa == CCNN_ISA_AVX2) return fma_loop_avx2(iters);
#endif
    (void)isa;
    return fma_loop_scalar(iters);
}

/* GFLOP/s of `threads` threads each running the loop at once: median of 5
 * runs of about 0.1 s, after a warm-up that also brings the clock up. */
static double fma_peak(ccnn_isa isa, int threads)
{
    long iters = 1 << 16;
    for (;;) { /* size the loop to about 0.1 s on one thread */
        double t0 = now();
        fma_loop(isa, iters);
        double t = now() - t0;
        if (t > 0.02 || iters > (1L << 34)) {
            iters = (long)((double)iters * 0.1 / (t > 0 ? t : 1e-3)) + 1;
            break;
        }
        iters *= 4;
    }
    double gf[5];
    for (int run = -1; run < 5; run++) {
        double flops = 0, t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += fma_loop(isa, iters);
        double t = now() - t0;
        if (run >= 0) gf[run] = flops / t * 1e-9;
    }
    return median(gf, 5);
}

/* ---- conv timing ------------------------------------------------------------- */
static float *random_buf(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)(*seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

typedef struct bufs {
    float *x, *w, *b, *dy, *y, *dx, *dw, *db;
} bufs;

static void check(int rc)
{
    if (rc) {
        fprintf(stderr, "conv failed: %s\n", ccnn_strerror(rc));
        exit(1);
    }
}

static void run_pass(int pass, const ccnn_conv2d_params *p, const bufs *B)
{
    if (pass == 0 || pass == 3) check(ccnn_conv2d_forward(p, B->x, B->w, B->b, B->y));
    if (pass == 1 || pass == 3) check(ccnn_conv2d_backward_data(p, B->dy, B->w, B->dx));
    if (pass == 2 || pass == 3) check(ccnn_conv2d_backward_weights(p, B->x, B->dy, B->dw, B->db));
}

/* Median seconds of one pass (0 forward, 1 backward data, 2 backward
 * weights, 3 all three): one warm-up call, then at least min_runs timed
 * calls, more (up to MAX_RUNS) while they add up to under 0.25 s. */
static double time_pass(int pass, const ccnn_conv2d_params *p, const bufs *B, int min_runs)
{
    double t0 = now();
    run_pass(pass, p, B);
    double warm = now() - t0;
    int runs = min_runs;
    if (warm > 0 && 0.25 / warm > runs) runs = 0.25 / warm > MAX_RUNS ? MAX_RUNS : (int)(0.25 / warm);
    runs |= 1; /* odd: the median is one run */
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    double t[MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        t0 = now();
        run_pass(pass, p, B);
        t[i] = now() - t0;
    }
    return median(t, runs);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_conv [--threads LIST] [--runs N] [--shape I] [--clock wall|cpu] "
                    "[--csv FILE] [THREADS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int threads[MAX_THREADS] = {1, 2}, n_threads = 2, min_runs = 7, only = 0;
    const char *csv_path = NULL;
    const char *list = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) list = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) min_runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) csv_path = argv[++i];
        else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) only = atoi(argv[++i]);
        else if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc) {
            const char *c = argv[++i];
            if (strcmp(c, "cpu") == 0) g_clock = CLOCK_PROCESS_CPUTIME_ID;
            else if (strcmp(c, "wall") != 0) usage();
        }
        else if (argv[i][0] >= '0' && argv[i][0] <= '9') list = argv[i];
        else usage();
    }
    if (list) {
        n_threads = 0;
        for (const char *s = list; *s && n_threads < MAX_THREADS;) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 1 || v > 256) usage();
            threads[n_threads++] = (int)v;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') usage();
        }
    }
    if (min_runs < 5) min_runs = 5;
    if (min_runs > MAX_RUNS) min_runs = MAX_RUNS;
    FILE *csv = NULL;
    if (csv_path) {
        csv = strcmp(csv_path, "-") == 0 ? stdout : fopen(csv_path, "a");
        if (!csv) {
            perror(csv_path);
            return 1;
        }
    }

    /* Allocate, touch and free 30 MB first: glibc's malloc then raises its
     * mmap threshold to that size, so the layers' buffers and the library's
     * per-call scratch come from the heap instead of fresh zeroed pages on
     * every call - the steady state of a training loop. bench_torch.py does
     * the same, so neither side pays page faults the other does not. */
    {
        size_t big = (size_t)30 << 20;
        char *p = malloc(big);
        if (p) memset(p, 1, big);
        free(p);
    }

    ccnn_isa isa = ccnn_get_isa();
    printf("ccnn conv bench: isa %s, impl %s, %d cores, median of >= %d runs after a warm-up, "
           "%s time\n", ccnn_isa_name(isa), ccnn_conv2d_get_impl() == CCNN_CONV_REF ? "ref" : "fast",
           omp_get_num_procs(), min_runs, g_clock == CLOCK_MONOTONIC ? "wall-clock" : "CPU");
    double peak[MAX_THREADS];
    printf("FMA peak (%s loop):", ccnn_isa_name(isa));
    for (int t = 0; t < n_threads; t++) {
        peak[t] = fma_peak(isa, threads[t]);
        printf("  %d thread%s %.1f GFLOP/s (%.1f per core)", threads[t], threads[t] > 1 ? "s" : "",
               peak[t], peak[t] / threads[t]);
        if (csv) fprintf(csv, "peak,%d,%s,%.3f\n", threads[t], ccnn_isa_name(isa), peak[t]);
    }
    printf("\n");
    fflush(stdout);

    printf("\n%-24s %3s %15s %15s %15s %15s\n", "N,C->K,HxW,RxS,str,pad", "thr", "forward",
           "bwd-data", "bwd-weights", "step");
    printf("%-24s %3s %15s %15s %15s %15s\n", "", "", "GFLOP/s %peak", "GFLOP/s %peak",
           "GFLOP/s %peak", "GFLOP/s %peak");
    unsigned seed = 1;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        if (only && (size_t)only != i + 1) continue;
        ccnn_conv2d_params p = {.n = s->n, .c = s->c, .h = s->h, .w = s->w, .k = s->k,
                                .r = s->r, .s = s->r, .stride_h = s->stride, .stride_w = s->stride,
                                .pad_top = s->pad, .pad_bottom = s->pad,
                                .pad_left = s->pad, .pad_right = s->pad};
        int P, Q;
        if (ccnn_conv2d_output_size(&p, &P, &Q)) return 1;
        size_t nx = (size_t)s->n * s->c * s->h * s->w, nw = (size_t)s->k * s->c * s->r * s->r;
        size_t ny = (size_t)s->n * s->k * P * Q;
        bufs B;
        B.x = random_buf(nx, &seed); B.w = random_buf(nw, &seed); B.b = random_buf(s->k, &seed);
        B.dy = random_buf(ny, &seed); B.y = random_buf(ny, &seed); B.dx = random_buf(nx, &seed);
        B.dw = random_buf(nw, &seed); B.db = random_buf(s->k, &seed);
        double flops = 2.0 * s->n * s->k * P * Q * (double)s->c * s->r * s->r;
        char name[64];
        snprintf(name, sizeof name, "%d,%d->%d,%dx%d,%dx%d,%d,%d", s->n, s->c, s->k, s->h, s->w,
                 s->r, s->r, s->stride, s->pad);
        for (int t = 0; t < n_threads; t++) {
            ccnn_set_num_threads(threads[t]);
            printf("%-24s %3d", t == 0 ? name : "", threads[t]);
            for (int pass = 0; pass < 4; pass++) {
                double sec = time_pass(pass, &p, &B, min_runs);
                double f = pass == 3 ? 3 * flops : flops, gf = f / sec * 1e-9;
                printf(" %9.1f %4.0f%%", gf, 100 * gf / peak[t]);
                fflush(stdout);
                if (csv)
                    fprintf(csv, "conv,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%.3f,%.4f,%.6g\n", s->n, s->c,
                            s->k, s->h, s->w, s->r, s->stride, s->pad, threads[t],
                            pass_names[pass], gf, gf / peak[t], sec);
            }
            printf("\n");
        }
        free(B.x); free(B.w); free(B.b); free(B.dy); free(B.y); free(B.dx); free(B.dw); free(B.db);
    }
    if (csv && csv != stdout) fclose(csv);
    return 0;
}
