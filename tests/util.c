/* util.c - random data, comparisons and the ccnn command for the tests. */
#include "test.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t test_rand_u64(test_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int test_rand_int(test_rng *r, int lo, int hi)
{
    return lo + (int)(test_rand_u64(r) % (uint64_t)(hi - lo + 1));
}

float test_rand_float(test_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(test_rand_u64(r) >> 11) / 9007199254740992.0);
}

void test_fill(test_rng *r, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) a[i] = test_rand_float(r, lo, hi);
}

float *test_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "test_alloc: out of memory\n");
        exit(2);
    }
    return p;
}

double test_max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

double test_rel_err(const float *a, const float *ref, size_t n, double floor)
{
    double scale = fmax(test_max_abs(ref, n), floor), worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)ref[i]);
        if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
    }
    return worst / scale;
}

int test_isas(ccnn_isa *out)
{
    ccnn_isa cur = ccnn_get_isa();
    int n = 0;
    for (int i = CCNN_ISA_SCALAR; i < CCNN_ISA_COUNT; i++)
        if (ccnn_isa_runs((ccnn_isa)i) && ccnn_set_isa((ccnn_isa)i) == 0) out[n++] = (ccnn_isa)i;
    ccnn_set_isa(cur);
    return n;
}

int test_quick(void)
{
    const char *q = getenv("CCNN_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

const char *test_cli_path(void)
{
    static char abs[PATH_MAX];
    const char *c = getenv("CCNN_CLI");
    if (!c || !*c) c = "build/ccnn";
    /* a command line ("qemu-aarch64 /abs/ccnn") is no file: used as it is */
    return realpath(c, abs) ? abs : c;
}
