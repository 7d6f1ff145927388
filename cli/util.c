/* util.c - option parsing and loading helpers of the ccnn command. */
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ccnn %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

int cli_int(const char *cmd, const char *opt, const char *val, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi)
        return cli_error(cmd, "%s: '%s' is not a whole number from %ld to %ld", opt, val, lo, hi);
    *out = (int)v;
    return 0;
}

int cli_float(const char *cmd, const char *opt, const char *val, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(v) || v < lo || v > hi)
        return cli_error(cmd, "%s: '%s' is not a number from %g to %g", opt, val, lo, hi);
    *out = (float)v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *val, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || end == val || *end || *val == '-')
        return cli_error(cmd, "%s: '%s' is not a non-negative whole number", opt, val);
    *out = v;
    return 0;
}

const char *cli_option(const char *cmd, int argc, char **argv, int *i, const char *known)
{
    const char *a = argv[*i], *p = known;
    size_t n = strlen(a);
    int found = 0;
    for (; !found && (p = strstr(p, a)); p += n)
        found = (p == known || p[-1] == ' ') && (p[n] == ' ' || !p[n]);
    if (!found) {
        cli_error(cmd, "unknown option '%s' (see --help)", a);
        return NULL;
    }
    return cli_value(cmd, argc, argv, i);
}

int cli_memory_limit(const char *cmd, const char *val)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : *end == 'T' ? 40 : 0;
    if (shift) end++;
    if (errno || end == val || *end || *val == '-' || v == 0 || v > (ULLONG_MAX >> shift))
        return cli_error(cmd, "--memory-limit: '%s' is not a size (bytes, or a number with K, M, G or T)", val);
    ccnn_set_memory_limit((uint64_t)v << shift);
    return 0;
}

int cli_check_memory(const char *cmd, const char *what, ccnn_net *net, int batch)
{
    ccnn_memory_estimate m;
    char a[32], b[32], c[32], d[32], e[32];
    if (ccnn_net_memory(net, batch, &m)) return cli_error(cmd, "%s: cannot estimate its memory", what);
    if (m.total <= ccnn_memory_limit()) return 0;
    return cli_error(cmd, "%s needs about %s at batch %d (parameters %s, optimizer %s, activations %s), "
                     "over the memory limit of %s (--memory-limit or CCNN_MEMORY_LIMIT raises it)",
                     what, ccnn_format_bytes(m.total, a, sizeof a), batch, ccnn_format_bytes(m.params, b, sizeof b),
                     ccnn_format_bytes(m.optimizer, c, sizeof c), ccnn_format_bytes(m.activations, d, sizeof d),
                     ccnn_format_bytes(ccnn_memory_limit(), e, sizeof e));
}

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path)
{
    char buf[PATH_MAX];
    strcpy(buf, path); /* the caller checked the length */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

int cli_check_output(const char *cmd, const char *path)
{
    struct stat st;
    if (!*path) return cli_error(cmd, "the output path is empty");
    if (strlen(path) >= PATH_MAX - 16)
        return cli_error(cmd, "%.60s...: the path is longer than %d characters", path, PATH_MAX - 17);
    if (path[strlen(path) - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return cli_error(cmd, "%s: is a directory, not a file name", path);
    if (make_parent_dirs(path)) return cli_error(cmd, "%s: cannot create its directory: %s", path, strerror(errno));
    /* a file can be made beside it (the atomic save writes a temporary there) */
    char probe[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(probe, sizeof probe, "%.*s.ccnn-probe.%ld", slash ? (int)(slash - path + 1) : 0, path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return cli_error(cmd, "%s: cannot write in its directory: %s", path, strerror(errno));
    close(fd);
    unlink(probe);
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0)
        return cli_error(cmd, "%s: exists and cannot be written: %s", path, strerror(errno));
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_load_data(const char *cmd, const char *dir, ccnn_dataset **train, ccnn_dataset **test)
{
    char err[512];
    int rc = ccnn_dataset_load_dir(dir, train, test, err, sizeof err);
    if (rc) {
        cli_error(cmd, "%s", err);
        if (rc == CCNN_EIO || rc == CCNN_EFORMAT)
            fprintf(stderr, "  (Fashion-MNIST: apt-get install dataset-fashion-mnist, or --data DIR)\n");
    }
    return rc;
}

int cli_load_model(const char *cmd, const char *path, ccnn_net **net, ccnn_trainer **tr)
{
    char err[512];
    int rc = ccnn_model_load(path, net, tr, err, sizeof err);
    if (rc) cli_error(cmd, "%s", err);
    return rc;
}
