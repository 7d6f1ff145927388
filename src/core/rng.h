/* rng.h - counter-based random numbers. Every draw is a pure function of
 * (seed, stream, index), so results never depend on thread count or on the
 * order in which threads run. */
#ifndef CCNN_RNG_H
#define CCNN_RNG_H
#include <stdint.h>

uint64_t ccnn_mix64(uint64_t x);
/* A hash of three counters: use as the state of a sequential generator or
 * as one draw. */
uint64_t ccnn_hash3(uint64_t a, uint64_t b, uint64_t c);
/* Uniform in [0, 1) from 64 random bits. */
static inline double ccnn_u01(uint64_t bits) { return (double)(bits >> 11) * (1.0 / 9007199254740992.0); }

/* A sequential generator (splitmix64) for initialisation and shuffling. */
typedef struct ccnn_rng { uint64_t s; } ccnn_rng;
uint64_t ccnn_rng_next(ccnn_rng *r);
double ccnn_rng_uniform(ccnn_rng *r);          /* [0, 1) */
double ccnn_rng_normal(ccnn_rng *r);           /* N(0, 1), Box-Muller */
uint64_t ccnn_rng_below(ccnn_rng *r, uint64_t n); /* [0, n), unbiased */
#endif
