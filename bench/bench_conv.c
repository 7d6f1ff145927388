/* bench_conv.c - convolution speed: GFLOP/s of forward, backward-data and
 * backward-weights on a few typical layer shapes.
 *
 *   build/bench/bench_conv [threads]
 *
 * FLOPs per pass = 2*N*K*P*Q*(C/groups)*R*S; each figure is the median of
 * RUNS timed calls after one warm-up call. */
#include "ccnn.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RUNS 7

typedef struct { int n, c, k, h, w, r, stride, pad; } shape;

static const shape shapes[] = {
    {64, 1, 32, 28, 28, 3, 1, 1},
    {64, 32, 64, 14, 14, 3, 1, 1},
    {32, 64, 64, 56, 56, 3, 1, 1},
    {32, 128, 128, 28, 28, 3, 1, 1},
    {32, 64, 128, 56, 56, 3, 2, 1},
    {32, 256, 64, 14, 14, 1, 1, 0},
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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

/* Median seconds of one pass (0: forward, 1: backward data, 2: weights). */
static double time_pass(int pass, const ccnn_conv2d_params *p, const float *x, const float *w,
                        const float *b, const float *dy, float *y, float *dx, float *dw, float *db)
{
    double t[RUNS];
    for (int i = -1; i < RUNS; i++) { /* i == -1: warm-up */
        double t0 = now();
        int rc = pass == 0 ? ccnn_conv2d_forward(p, x, w, b, y)
               : pass == 1 ? ccnn_conv2d_backward_data(p, dy, w, dx)
                           : ccnn_conv2d_backward_weights(p, x, dy, dw, db);
        if (rc) {
            fprintf(stderr, "conv failed: %s\n", ccnn_strerror(rc));
            exit(1);
        }
        if (i >= 0) t[i] = now() - t0;
    }
    qsort(t, RUNS, sizeof t[0], by_value);
    return t[RUNS / 2];
}

int main(int argc, char **argv)
{
    if (argc > 1) ccnn_set_num_threads(atoi(argv[1]));
    printf("ccnn conv bench: %d thread(s), isa %s, impl %s, median of %d runs\n",
           ccnn_get_num_threads(), ccnn_isa_name(ccnn_get_isa()),
           ccnn_conv2d_get_impl() == CCNN_CONV_REF ? "ref" : "fast", RUNS);
    printf("%-30s %10s %10s %10s   (GFLOP/s)\n", "N,C->K,HxW,RxS,stride,pad", "forward",
           "bwd-data", "bwd-weight");
    unsigned seed = 1;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        ccnn_conv2d_params p = {.n = s->n, .c = s->c, .h = s->h, .w = s->w, .k = s->k,
                                .r = s->r, .s = s->r, .stride_h = s->stride, .stride_w = s->stride,
                                .pad_top = s->pad, .pad_bottom = s->pad,
                                .pad_left = s->pad, .pad_right = s->pad};
        int P, Q;
        if (ccnn_conv2d_output_size(&p, &P, &Q)) return 1;
        size_t nx = (size_t)s->n * s->c * s->h * s->w, nw = (size_t)s->k * s->c * s->r * s->r;
        size_t ny = (size_t)s->n * s->k * P * Q;
        float *x = random_buf(nx, &seed), *w = random_buf(nw, &seed), *b = random_buf(s->k, &seed);
        float *dy = random_buf(ny, &seed), *y = random_buf(ny, &seed), *dx = random_buf(nx, &seed);
        float *dw = random_buf(nw, &seed), *db = random_buf(s->k, &seed);
        double flops = 2.0 * s->n * s->k * P * Q * (double)s->c * s->r * s->r;
        char name[64];
        snprintf(name, sizeof name, "%d,%d->%d,%dx%d,%dx%d,%d,%d", s->n, s->c, s->k, s->h, s->w,
                 s->r, s->r, s->stride, s->pad);
        printf("%-30s", name);
        for (int pass = 0; pass < 3; pass++) {
            double sec = time_pass(pass, &p, x, w, b, dy, y, dx, dw, db);
            printf(" %10.1f", flops / sec * 1e-9);
            fflush(stdout);
        }
        printf("\n");
        free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(db);
    }
    return 0;
}
