/* rng.c - splitmix64-based generators. */
#include "rng.h"
#include <math.h>

uint64_t ccnn_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ccnn_hash3(uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t golden = 0x9e3779b97f4a7c15ULL;
    return ccnn_mix64(ccnn_mix64(ccnn_mix64(a + golden) ^ (b + 2 * golden)) ^ (c + 3 * golden));
}

uint64_t ccnn_rng_next(ccnn_rng *r)
{
    return ccnn_mix64(r->s += 0x9e3779b97f4a7c15ULL);
}

double ccnn_rng_uniform(ccnn_rng *r) { return ccnn_u01(ccnn_rng_next(r)); }

double ccnn_rng_normal(ccnn_rng *r)
{
    double u1 = 1.0 - ccnn_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = ccnn_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t ccnn_rng_below(ccnn_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, v;
    do v = ccnn_rng_next(r); while (v >= limit);
    return v % n;
}
