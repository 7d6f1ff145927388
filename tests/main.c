/* main.c - runs the registered tests; prints "N passed, N failed". */
#include "test.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TESTS 1024
static struct { const char *name; test_fn fn; } g_tests[MAX_TESTS];
static int g_ntests, g_cur_failures;

void test_register(const char *name, test_fn fn)
{
    if (g_ntests < MAX_TESTS) {
        g_tests[g_ntests].name = name;
        g_tests[g_ntests].fn = fn;
        g_ntests++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (g_cur_failures < 10) { /* the first few say enough */
        fprintf(stderr, "  FAIL %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    g_cur_failures++;
}

int test_failed_now(void) { return g_cur_failures; }

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    if (g_ntests >= MAX_TESTS) {
        fprintf(stderr, "too many tests: raise MAX_TESTS\n");
        return 2;
    }
    /* registration order depends on link order; run in name order */
    qsort(g_tests, (size_t)g_ntests, sizeof g_tests[0], by_name);
    for (int i = 0; i < g_ntests; i++) {
        if (filter && !strstr(g_tests[i].name, filter)) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        g_cur_failures = 0;
        g_tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (g_cur_failures) {
            printf("FAIL %s (%d failed checks, %.2fs)\n", g_tests[i].name, g_cur_failures, s);
            failed++;
        } else {
            printf("ok   %s (%.2fs)\n", g_tests[i].name, s);
            passed++;
        }
        fflush(stdout);
    }
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched\n");
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
