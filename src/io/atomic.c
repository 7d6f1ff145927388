/* atomic.c - replacing a file atomically: write a temporary file beside
 * it, fsync, rename over it. */
#include "io/atomic.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ERRF(code, ...) ccnn_errf(err, errlen, code, __VA_ARGS__)

/* Removes "<base>.tmp.<pid>" files beside path whose process is gone: only
 * that exact pattern, only when kill(pid, 0) says no such process. */
static void remove_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char *dir = malloc(dlen + 2);
    if (!dir) return;
    if (slash) { memcpy(dir, path, dlen ? dlen : 1); dir[dlen ? dlen : 1] = 0; }
    else strcpy(dir, ".");
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) || strncmp(n + blen, ".tmp.", 5)) continue;
        const char *digits = n + blen + 5;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (*digits < '1' || *digits > '9' || *end || errno || pid <= 0 || pid > 0x3fffffff) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        size_t len = dlen + strlen(n) + 2;
        char *full = malloc(len);
        if (!full) break;
        snprintf(full, len, "%.*s%s%s", (int)dlen, path, slash ? "/" : "", n);
        unlink(full);
        free(full);
    }
    if (d) closedir(d);
    free(dir);
}

int ccnn_atomic_open(ccnn_atomic_file *af, const char *path, char *err, size_t errlen)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return ERRF(CCNN_EINVAL, "no file name given");
    af->path = path;
    remove_stale(path);
    size_t len = strlen(path) + 32;
    af->tmp = malloc(len);
    if (!af->tmp) return ERRF(CCNN_ENOMEM, "%s: out of memory", path);
    snprintf(af->tmp, len, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) { /* left behind by a crashed process with our pid */
        unlink(af->tmp);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (fd >= 0) af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(af->tmp);
        }
        free(af->tmp);
        af->tmp = NULL;
        return ERRF(CCNN_EIO, "%s: cannot create a file in its directory: %s", path, strerror(e));
    }
    return 0;
}

void ccnn_atomic_abort(ccnn_atomic_file *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->tmp);
    af->f = NULL;
    af->tmp = NULL;
}

/* Best effort: makes the rename itself durable. */
static void sync_dir(const char *path)
{
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir) return;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int ccnn_atomic_commit(ccnn_atomic_file *af, char *err, size_t errlen)
{
    const char *what = NULL;
    int e = 0;
    if (!af->f || !af->tmp) return ERRF(CCNN_EINVAL, "ccnn_atomic_commit: no open file");
    if (fflush(af->f) != 0 || ferror(af->f)) {
        what = "cannot write";
        e = errno;
    } else if (fsync(fileno(af->f)) != 0 && errno != EINVAL) {
        what = "cannot sync";
        e = errno;
    }
    FILE *f = af->f;
    af->f = NULL;
    if (fclose(f) != 0 && !what) {
        what = "cannot write";
        e = errno;
    }
    if (!what && rename(af->tmp, af->path) != 0) {
        what = "cannot replace the file";
        e = errno;
    }
    if (what) {
        ccnn_atomic_abort(af);
        return ERRF(CCNN_EIO, "%s: %s: %s", af->path, what, e ? strerror(e) : "write error");
    }
    sync_dir(af->path);
    free(af->tmp);
    af->tmp = NULL;
    return 0;
}
