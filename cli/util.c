/* util.c - option parsing and loading helpers of the ccnn command. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
