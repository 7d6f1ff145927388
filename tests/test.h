/* test.h - a tiny test harness. Each test file defines tests with
 * CCNN_TEST(name) { ... }; they register themselves at start-up, and
 * tests/main.c runs them all (or those whose name contains argv[1]) and ends
 * with the line "N passed, N failed".
 *
 * CHECK(cond) records a failure and goes on; REQUIRE(cond) also returns
 * from the test. Helpers for random data, tensor comparison and running
 * the ccnn command live in tests/util.c. */
#ifndef CCNN_TEST_H
#define CCNN_TEST_H

#include "ccnn.h"
#include <stdint.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int test_failed_now(void); /* failures recorded in the running test */

#define CCNN_TEST(name)                                                       \
    static void name(void);                                                   \
    __attribute__((constructor)) static void name##_register(void)            \
    { test_register(#name, name); }                                           \
    static void name(void)

#define CHECK(cond) \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
#define CHECK_MSG(cond, ...) \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define REQUIRE(cond) \
    do { if (!(cond)) { test_fail(__FILE__, __LINE__, "%s", #cond); return; } } while (0)
#define CHECK_RC(expr, want)                                                  \
    do { int rc_ = (expr); if (rc_ != (want))                                 \
        test_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d",     \
                  #expr, rc_, ccnn_strerror(rc_), (int)(want)); } while (0)

/* Deterministic random numbers (splitmix64), independent of the library's. */
typedef struct { uint64_t s; } test_rng;
uint64_t test_rand_u64(test_rng *r);
int test_rand_int(test_rng *r, int lo, int hi);       /* lo..hi inclusive */
float test_rand_float(test_rng *r, float lo, float hi);
void test_fill(test_rng *r, float *a, size_t n, float lo, float hi);
float *test_alloc(size_t n);                          /* aborts the test run on OOM */

/* max |a-b| / max(max|ref|, floor); the tolerance measure of the suite. */
double test_rel_err(const float *a, const float *ref, size_t n, double floor);
double test_max_abs(const float *a, size_t n);

/* CHECK_TABLE(what, got, want, n, tol): every |got[i] - want[i]| <= tol
 * (NaN fails); names the first four that differ and how many did, at the
 * caller's line. For tables of exact values (the worked examples). */
int test_check_table(const char *file, int line, const char *what, const float *got, const float *want,
                     size_t n, double tol);
#define CHECK_TABLE(what, got, want, n, tol) test_check_table(__FILE__, __LINE__, what, got, want, n, tol)
/* NaN into a[0..n): an output a function forgets to write shows up. */
void test_fill_nan(float *a, size_t n);

/* The ISA levels this CPU runs (ccnn_isa_runs), in enum order, into out[3]
 * (no CPU runs more: scalar and its family's levels); returns how many.
 * The current level is left as it was. */
int test_isas(ccnn_isa *out);

/* 1 when CCNN_TEST_QUICK is set (and not "0"): the suite runs under an
 * emulator (make test-aarch64), where the slowest tests take smaller inputs
 * - fewer training images, fewer gradient elements checked. Every check
 * still runs; each test that shrinks says so in its comment. */
int test_quick(void);

/* DIR/PREFIX-images-idx3-ubyte.gz and -labels-idx1-ubyte.gz: n 28x28
 * images of 10 classes (a bright block, 7 rows by 4 columns, whose place
 * is the class, over noise), drawn from seed. cut > 0: the image file ends
 * `cut` bytes short (a corrupt file). */
void test_write_idx(const char *dir, const char *prefix, int n, uint64_t seed, int cut);

/* The ccnn command to run through the shell: $CCNN_CLI, else build/ccnn.
 * A path that exists comes back absolute, so a test may run it after a cd;
 * anything else (make test-aarch64 sets a whole command line, "qemu-aarch64
 * /abs/path/ccnn") comes back as it is. Not quoted: it may hold words. */
const char *test_cli_path(void);

/* Runs a shell command line made from fmt (/bin/sh -c; stdin /dev/null,
 * stdout and stderr together into out, NUL-terminated, cut to outlen - 1
 * bytes; the rest is read and dropped). Returns the exit status, or -1 when
 * the command ended by a signal (test_sh_last()->signal says which) or
 * could not start. The command line is never cut short: one that cannot be
 * made fails the test. */
int test_sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* test_sh of `exec CCNN ARGS`, CCNN being test_cli_path(). */
int test_ccnn(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* What the last test_sh / test_ccnn measured of its child (wait4): peak
 * memory, wall time and the signal that ended it (0: it exited). */
typedef struct { long max_rss_kb; double secs; int signal; } test_sh_usage;
const test_sh_usage *test_sh_last(void);

#endif
