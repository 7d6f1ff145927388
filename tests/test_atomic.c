/* test_atomic.c - the atomic writer removes the temporary file a killed
 * save left behind, next time that path is saved: only files of the exact
 * "<path>.tmp.<pid>" pattern, only for a process that no longer runs. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f) { fputs("partial", f); fclose(f); }
}

CCNN_TEST(atomic_save_removes_stale_temp_files)
{
    char dir[] = "/tmp/ccnn_atomic_XXXXXX", path[128], p[256];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    REQUIRE(dead > 0);
    waitpid(dead, NULL, 0);          /* gone: its pid names no process now */
    const char *stale[] = {"m.safetensors.tmp.%ld"};
    const char *kept[] = {"m.safetensors.tmp.1", "m.safetensors.tmp.x%ld", "other.safetensors.tmp.%ld",
                          "m.safetensors.tmp.%ld.bak", "m.safetensors.tmp.0%ld"};
    snprintf(p, sizeof p, "%s/", dir);
    for (int i = 0; i < 1; i++) { snprintf(p + strlen(dir) + 1, 200, stale[i], (long)dead); touch(p); }
    for (int i = 0; i < 5; i++) { snprintf(p + strlen(dir) + 1, 200, kept[i], (long)dead); touch(p); }
    ccnn_net *net = NULL;
    char err[256];
    REQUIRE(ccnn_net_parse("input 1x2x2\ndense units=2\nsoftmax\n", "t", &net, err, sizeof err) == 0);
    CHECK_RC(ccnn_model_save(path, net, NULL, NULL, err, sizeof err), 0);
    snprintf(p + strlen(dir) + 1, 200, stale[0], (long)dead);
    CHECK_MSG(access(p, F_OK) != 0, "%s is still there", p);
    for (int i = 0; i < 5; i++) {
        snprintf(p + strlen(dir) + 1, 200, kept[i], (long)dead);
        CHECK_MSG(access(p, F_OK) == 0, "%s was removed", p);
        unlink(p);
    }
    CHECK(access(path, F_OK) == 0);
    unlink(path);
    rmdir(dir);
    ccnn_net_free(net);
}
