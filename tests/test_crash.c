/* test_crash.c - crash safety of saving: `ccnn train` killed with SIGKILL at
 * random moments (several trials) leaves at --out either nothing or a model
 * that loads; a full disk (a small tmpfs, where this machine lets the test
 * mount one) gives a clear error and leaves the previous model untouched. */
#include "test.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void be32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fwrite(b, 1, 4, f);
}

/* Plain IDX files of n 8x8 images: a bright column at the label's place. */
static void write_data(const char *dir, const char *prefix, int n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *f = fopen(p, "wb");
    be32(f, 0x803); be32(f, (uint32_t)n); be32(f, 8); be32(f, 8);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 64; k++) fputc(k % 8 == i % 8 ? 230 : (i * 31 + k * 7) % 60, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix);
    f = fopen(p, "wb");
    be32(f, 0x801); be32(f, (uint32_t)n);
    for (int i = 0; i < n; i++) fputc(i % 8, f);
    fclose(f);
}

static pid_t spawn(const char *cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

CCNN_TEST(crash_kill_during_training)
{
    char dir[] = "/tmp/ccnn_crash_XXXXXX", net[128], out[128], cmd[1024], err[512];
    REQUIRE(mkdtemp(dir));
    write_data(dir, "train", 512);
    write_data(dir, "t10k", 64);
    snprintf(net, sizeof net, "%s/n.net", dir);
    FILE *f = fopen(net, "w");
    fputs("input 1x8x8\nconv filters=4 size=3 pad=1\nrelu\ndense units=10\nsoftmax\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    snprintf(cmd, sizeof cmd, "exec %s train --net %s --data %s --epochs 100000 --batch 16 --threads 1 --out %s "
             ">/dev/null 2>&1", test_cli_path(), net, dir, out);
    test_rng r = {11};
    int loaded = 0, absent = 0;
    for (int t = 0; t < 6; t++) {
        pid_t pid = spawn(cmd);
        REQUIRE(pid > 0);
        struct timespec d = {0, (long)test_rand_int(&r, 50, 900) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (access(out, F_OK) != 0) { absent++; continue; }
        ccnn_net *m = NULL;
        int rc = ccnn_model_load(out, &m, NULL, err, sizeof err);
        CHECK_MSG(rc == 0, "trial %d: the model at --out does not load: %s", t, err);
        loaded += rc == 0;
        ccnn_net_free(m);
    }
    printf("  6 kills: %d left a model that loads, %d left none\n", loaded, absent);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

CCNN_TEST(crash_full_disk)
{
    char dir[] = "/tmp/ccnn_full_XXXXXX", net[200], out[160], cmd[1024], data[160];
    REQUIRE(mkdtemp(dir));
    if (mount("ccnn-test", dir, "tmpfs", 0, "size=64k") != 0) {
        printf("  skipped: cannot mount a small tmpfs here (not root, or no CAP_SYS_ADMIN)\n");
        rmdir(dir);
        return;
    }
    snprintf(data, sizeof data, "%s-data", dir);
    mkdir(data, 0777);
    write_data(data, "train", 64);
    write_data(data, "t10k", 16);
    snprintf(net, sizeof net, "%s/n.net", data);
    FILE *f = fopen(net, "w");
    /* about 80 kB of parameters: more than the 64 kB disk */
    fputs("input 1x8x8\ndense units=300\ndense units=10\nsoftmax\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    f = fopen(out, "w");
    fputs("the previous model", f);
    fclose(f);
    char msg[4096];
    int st = test_ccnn(msg, sizeof msg, "train --net %s --data %s --epochs 1 --out %s", net, data, out);
    CHECK_MSG(st == 1 && strstr(msg, "m.safetensors") &&
              strstr(msg, "No space left on device"), "status %d: '%s'", st, msg);
    char buf[64] = "";
    f = fopen(out, "r");
    if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
    CHECK_MSG(!strcmp(buf, "the previous model"), "the previous model became '%s'", buf);
    umount(dir);
    rmdir(dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
    CHECK(system(cmd) == 0);
}
