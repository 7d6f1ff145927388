/* util.c - random data, comparisons and the ccnn command for the tests. */
#define _DEFAULT_SOURCE /* wait4 */
#include "test.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

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

/* What the last test_sh / test_ccnn run measured of its child. */
static test_sh_usage g_last;

const test_sh_usage *test_sh_last(void) { return &g_last; }

/* Runs `[exec CLI ]FMT...` through /bin/sh: stdin /dev/null, stdout and
 * stderr into out. The command line is formatted into a buffer of its own
 * size: a command cut short would run something else than the test says. */
static int vsh(char *out, size_t outlen, const char *cli, const char *fmt, va_list ap)
{
    memset(&g_last, 0, sizeof g_last);
    out[0] = 0;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    size_t pre = cli ? strlen(cli) + 6 : 0; /* "exec " CLI " " */
    char *cmd = n < 0 ? NULL : malloc(pre + (size_t)n + 1);
    if (!cmd) {
        test_fail(__FILE__, __LINE__, "cannot make the command line of '%s'", fmt);
        return -1;
    }
    if (cli) snprintf(cmd, pre + 1, "exec %s ", cli);
    vsnprintf(cmd + pre, (size_t)n + 1, fmt, ap);

    int fd[2];
    if (pipe(fd)) {
        free(cmd);
        return -1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) { /* async-signal-safe calls only: the tests run threads */
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    close(fd[1]);
    /* read to the end, the part past outlen into a sink: a writer never
     * dies of SIGPIPE because the buffer was full */
    size_t got = 0;
    char sink[4096];
    for (;;) {
        int keep = got + 1 < outlen;
        ssize_t r = read(fd[0], keep ? out + got : sink, keep ? outlen - 1 - got : sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (keep) got += (size_t)r;
    }
    out[got] = 0;
    close(fd[0]);
    if (pid < 0) return -1;
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    g_last.max_rss_kb = ru.ru_maxrss;
    g_last.secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    g_last.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int test_sh(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(out, outlen, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int test_ccnn(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(out, outlen, test_cli_path(), fmt, ap);
    va_end(ap);
    return rc;
}

void test_write_idx(const char *dir, const char *prefix, int n, uint64_t seed, int cut)
{
    char path[256];
    test_rng r = {seed};
    uint8_t *img = malloc((size_t)n * 784), *lab = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        int c = test_rand_int(&r, 0, 9), by = (c / 5) * 14 + 3, bx = (c % 5) * 5 + 1;
        lab[i] = (uint8_t)c;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                img[i * 784 + y * 28 + x] = (uint8_t)(test_rand_int(&r, 0, 90) +
                    (y >= by && y < by + 7 && x >= bx && x < bx + 4 ? 150 : 0));
    }
    uint8_t hi[16] = {0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
                      0, 0, 0, 28, 0, 0, 0, 28};
    uint8_t hl[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    gzFile f = gzopen(path, "wb");
    gzwrite(f, hi, 16);
    gzwrite(f, img, (unsigned)(n * 784 - cut));
    gzclose(f);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    f = gzopen(path, "wb");
    gzwrite(f, hl, 8);
    gzwrite(f, lab, (unsigned)n);
    gzclose(f);
    free(img);
    free(lab);
}

void test_fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

int test_check_table(const char *file, int line, const char *what, const float *got, const float *want,
                     size_t n, double tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol)) /* NaN fails */
            if (bad++ < 4)
                test_fail(file, line, "%s[%zu] = %g, expected %g", what, i, (double)got[i], (double)want[i]);
    if (bad) test_fail(file, line, "%s: %zu of %zu values differ", what, bad, n);
    return bad == 0;
}
