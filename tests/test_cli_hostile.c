/* test_cli_hostile.c - the ccnn command on hostile files: each must end
 * with a non-zero exit status (not a signal), a message naming the file,
 * under 1 GB of memory and within seconds (test_ccnn measures the child's
 * peak memory and time). $CCNN_CLI as test_cli.c. */
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_RSS_KB (1024L * 1024)  /* 1 GB */
#define MAX_SECONDS 10.0

static char g_hdir[64];
static char out[1 << 16];

static void remove_hdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_hdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_hdir);
}

static const char *hpath(const char *name)
{
    static char p[4][160];
    static int k;
    if (!g_hdir[0]) {
        strcpy(g_hdir, "/tmp/ccnn_hostile_XXXXXX");
        if (!mkdtemp(g_hdir)) return "/nonexistent";
        atexit(remove_hdir);
    }
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_hdir, name);
    return p[k];
}

/* The command on a hostile file: exit 1 or 2, `file` and `what` in the
 * message, memory and time bounded. */
#define EXPECT_REFUSED(what, file, ...)                                                          \
    do {                                                                                          \
        int st_ = test_ccnn(out, sizeof out, __VA_ARGS__);                                        \
        const test_sh_usage *u_ = test_sh_last();                                                 \
        CHECK_MSG((st_ == 1 || st_ == 2) && strstr(out, file) && strstr(out, what),               \
                  "status %d (signal %d), said '%s' (expected '%s' and '%s')", st_, u_->signal,  \
                  out, file, what);                                                              \
        CHECK_MSG(u_->max_rss_kb < MAX_RSS_KB && u_->secs < MAX_SECONDS, "%s: %ld kB, %.1f s",   \
                  file, u_->max_rss_kb, u_->secs);                                               \
    } while (0)

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void chunk(FILE *f, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    fwrite(be, 1, 4, f);
    fwrite(type, 1, 4, f);
    fwrite(data, 1, n, f);
    uLong crc = crc32(crc32(0, (const Bytef *)type, 4), data, n);
    uint8_t c[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    fwrite(c, 1, 4, f);
}

/* A gray 8-bit PNG whose header says w x h; its data is that of a w0 x h0
 * image (so a lie when they differ). */
static void write_png(const char *path, uint32_t w, uint32_t h, int w0, int h0)
{
    FILE *f = fopen(path, "wb");
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                        (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h, 8, 0, 0, 0, 0};
    chunk(f, "IHDR", ihdr, 13);
    size_t raw_n = (size_t)h0 * (w0 + 1);
    uint8_t *raw = calloc(raw_n, 1);
    for (int y = 0; y < h0; y++)
        for (int x = 0; x < w0; x++) raw[(size_t)y * (w0 + 1) + 1 + x] = (uint8_t)(x * 9 + y * 5);
    uLongf zn = compressBound(raw_n);
    uint8_t *z = malloc(zn);
    compress(z, &zn, raw, raw_n);
    chunk(f, "IDAT", z, (uint32_t)zn);
    static const uint8_t none[1];
    chunk(f, "IEND", none, 0);
    fclose(f);
    free(raw);
    free(z);
}

static int save_model(const char *path, const char *net_text)
{
    ccnn_net *net = NULL;
    char err[512];
    int rc = ccnn_net_parse(net_text, "test", &net, err, sizeof err);
    if (!rc) rc = ccnn_net_init(net, 3);
    if (!rc) rc = ccnn_model_save(path, net, NULL, NULL, err, sizeof err);
    ccnn_net_free(net);
    return rc;
}

CCNN_TEST(cli_predict_formats_and_channels)
{
    char m1[160], m3[160], m4[160];
    snprintf(m1, sizeof m1, "%s", hpath("gray.safetensors"));
    snprintf(m3, sizeof m3, "%s", hpath("rgb.safetensors"));
    snprintf(m4, sizeof m4, "%s", hpath("rgba.safetensors"));
    REQUIRE(save_model(m1, "input 1x28x28\nconv filters=2 size=3\ndense units=3\nsoftmax\n") == 0);
    REQUIRE(save_model(m3, "input 3x16x16\ndense units=4\nsoftmax\n") == 0);
    REQUIRE(save_model(m4, "input 4x8x8\ndense units=4\nsoftmax\n") == 0);
    char png[160], pgm[160];
    snprintf(png, sizeof png, "%s", hpath("a.png"));
    snprintf(pgm, sizeof pgm, "%s", hpath("a.pgm"));
    write_png(png, 40, 30, 40, 30);
    write_bytes(pgm, "P2 2 2 3\n0 1 2 3\n", 17);
    const char *models[] = {m1, m3, m4};
    for (int k = 0; k < 3; k++) {
        int st = test_ccnn(out, sizeof out, "predict --model %s --top 2 %s %s", models[k], png, pgm);
        CHECK_MSG(st == 0 && strstr(out, "a.png: class") && strstr(out, "a.pgm: class"), "status %d: '%s'", st, out);
    }
    /* the help lists exactly the formats decoded */
    CHECK(test_ccnn(out, sizeof out, "predict --help") == 0 && strstr(out, "PNG, JPEG (not CMYK), PBM/PGM/PPM (P1-P6)") &&
          !strstr(out, "BMP"));
    /* one bad image among good ones: the good ones are still classified */
    int st = test_ccnn(out, sizeof out, "predict --model %s %s %s %s", m1, png, hpath("missing.png"), pgm);
    CHECK_MSG(st == 1 && strstr(out, "a.pgm: class") && strstr(out, "missing.png: cannot open"), "'%s'", out);
    /* --max-pixels */
    EXPECT_REFUSED("over the limit of 1000 pixels", "a.png", "predict --model %s --max-pixels 1000 %s", m1, png);
    CHECK(test_ccnn(out, sizeof out, "predict --model %s --max-pixels 1200 %s", m1, png) == 0);
    CHECK(test_ccnn(out, sizeof out, "predict --model %s --max-pixels 0 %s", m1, png) == 2 && strstr(out, "--max-pixels"));
    CHECK(test_ccnn(out, sizeof out, "predict --model %s --max-pixels -5 %s", m1, png) == 2 && strstr(out, "--max-pixels"));
}

CCNN_TEST(cli_predict_hostile_images)
{
    char m1[160], m5[160];
    snprintf(m1, sizeof m1, "%s", hpath("gray.safetensors"));
    snprintf(m5, sizeof m5, "%s", hpath("five.safetensors"));
    REQUIRE(save_model(m1, "input 1x28x28\nconv filters=2 size=3\ndense units=3\nsoftmax\n") == 0);
    REQUIRE(save_model(m5, "input 5x8x8\ndense units=3\nsoftmax\n") == 0);
    /* a network of 5 channels: stb aborted (SIGABRT); now a clear refusal */
    write_png(hpath("ok.png"), 8, 8, 8, 8);
    EXPECT_REFUSED("the network takes 5 channels", "ok.png", "predict --model %s %s", m5, hpath("ok.png"));
    /* zero width (as the HDR file that was resized out of bounds) */
    write_bytes(hpath("zero.pgm"), "P5 0 28 255\n", 12);
    EXPECT_REFUSED("zero size", "zero.pgm", "predict --model %s %s", m1, hpath("zero.pgm"));
    write_png(hpath("zero.png"), 0, 28, 0, 28);
    EXPECT_REFUSED("PNG", "zero.png", "predict --model %s %s", m1, hpath("zero.png"));
    /* tiny files declaring huge images (stb allocated 0.5-2 GB) */
    write_png(hpath("huge.png"), 60000, 60000, 4, 4);
    EXPECT_REFUSED("over the limit", "huge.png", "predict --model %s %s", m1, hpath("huge.png"));
    write_png(hpath("lie.png"), 5000, 5000, 4, 4);     /* under the limit, data missing */
    EXPECT_REFUSED("PNG", "lie.png", "predict --model %s %s", m1, hpath("lie.png"));
    write_bytes(hpath("huge.ppm"), "P6 65535 65535 255\n\1\2\3", 22);
    EXPECT_REFUSED("over the limit", "huge.ppm", "predict --model %s %s", m1, hpath("huge.ppm"));
    write_bytes(hpath("lie.ppm"), "P6 4000 4000 65535\n\1\2\3", 22);
    EXPECT_REFUSED("truncated", "lie.ppm", "predict --model %s %s", m1, hpath("lie.ppm"));
    /* 16-bit PNM cut short (stb read past its buffer) */
    write_bytes(hpath("short16.pgm"), "P5 3 3 65535\n\1\2\3\4\5", 18);
    EXPECT_REFUSED("truncated", "short16.pgm", "predict --model %s %s", m1, hpath("short16.pgm"));
    /* a JPEG of SOF 65000 x 65000 and nothing after */
    static const uint8_t sof[] = {0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0xfd, 0xe8, 0xfd, 0xe8, 1, 1, 0x11, 0};
    write_bytes(hpath("huge.jpg"), sof, sizeof sof);
    EXPECT_REFUSED("JPEG", "huge.jpg", "predict --model %s %s", m1, hpath("huge.jpg"));
    /* formats stb took though the help never listed them */
    write_bytes(hpath("x.gif"), "GIF89a\xff\xff\xff\xff\x00\x00\x00;", 14);
    EXPECT_REFUSED("not a PNG, JPEG or PBM/PGM/PPM file", "x.gif", "predict --model %s %s", m1, hpath("x.gif"));
    write_bytes(hpath("x.hdr"), "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 28 +X 0\n", 46);
    EXPECT_REFUSED("not a PNG, JPEG", "x.hdr", "predict --model %s %s", m1, hpath("x.hdr"));
    write_bytes(hpath("x.tga"), "\0\0\2\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff\x20\0", 18);
    EXPECT_REFUSED("not a PNG, JPEG", "x.tga", "predict --model %s %s", m1, hpath("x.tga"));
    write_bytes(hpath("x.psd"), "8BPS\0\1\0\0\0\0\0\0\0\3\xff\xff\xff\xff", 18);
    EXPECT_REFUSED("not a PNG, JPEG", "x.psd", "predict --model %s %s", m1, hpath("x.psd"));
}

/* Memory from a few bytes: a 70-byte net file, a model file of a few hundred
 * bytes (4.7 GB and 16-42 s before); numbers that wrapped. */
CCNN_TEST(cli_hostile_nets_and_models)
{
    char net[160], model[160];
    snprintf(net, sizeof net, "%s", hpath("big.net"));
    snprintf(model, sizeof model, "%s", hpath("big.safetensors"));
    FILE *f = fopen(net, "w");
    fputs("input 1x28x28\nconv filters=16777216 size=5\nglobal_avgpool\ndense units=10\nsoftmax\n", f);
    fclose(f);
    EXPECT_REFUSED("over the memory limit of 1.07 GB", "big.net", "info --memory-limit 1G --net %s", net);
    /* train refuses before it reads any data (there is none here) */
    EXPECT_REFUSED("over the memory limit", "big.net", "train --memory-limit 1G --net %s --data %s",
                   net, hpath("no-data"));
    CHECK(!strstr(out, "no-data"));
    f = fopen(net, "w");
    fputs("input 1x28x28\nconv filters=1024 size=5\nglobal_avgpool\ndense units=10\nsoftmax\n", f);
    fclose(f);
    EXPECT_REFUSED("needs about", "the network", "train --memory-limit 100M --net %s --data %s --batch 4096",
                   net, hpath("no-data"));
    CHECK_MSG(strstr(out, "at batch 4096") && strstr(out, "over the memory limit of 104.9 MB"), "'%s'", out);
    CHECK(test_ccnn(out, sizeof out, "info --net %s", net) == 0 && strstr(out, "memory to train at batch 64: about"));
    /* the 152-byte model of the issue */
    char json[512];
    int n = snprintf(json, sizeof json, "{\"__metadata__\":{\"format\":\"ccnn-model-1\",\"ccnn.net\":\"%s\"}}",
                     "input 1x28x28\\nconv filters=16777216 size=5\\nglobal_avgpool\\ndense units=10\\nsoftmax\\n");
    while (n % 8) json[n++] = ' ';
    uint8_t len[8] = {(uint8_t)n};
    f = fopen(model, "wb");
    fwrite(len, 1, 8, f);
    fwrite(json, 1, (size_t)n, f);
    fclose(f);
    EXPECT_REFUSED("the file holds only 0 bytes", "big.safetensors", "eval --model %s --data %s", model, hpath("no-data"));
    EXPECT_REFUSED("the file holds only 0 bytes", "big.safetensors", "info --model %s", model);
    EXPECT_REFUSED("the file holds only 0 bytes", "big.safetensors", "predict --model %s x.png", model);
    /* input 1x4294967324x4294967324 was read as 1x28x28 */
    f = fopen(net, "w");
    fputs("input 1x4294967324x4294967324\ndense units=10\nsoftmax\n", f);
    fclose(f);
    EXPECT_REFUSED("input: expected 'input CxHxW'", "big.net", "info --net %s", net);
    EXPECT_REFUSED("--memory-limit: '12Q' is not a size", "12Q", "info --memory-limit 12Q");
}

/* Options: unknown ones called unknown in every command, with or without a
 * value after them; --out checked before any work. */
CCNN_TEST(cli_options_and_outputs_fail_first)
{
    const char *cmds[] = {"train", "eval", "predict", "info", "gradcheck"};
    for (int i = 0; i < 5; i++) {
        CHECK_MSG(test_ccnn(out, sizeof out, "%s --bogus", cmds[i]) == 2 && strstr(out, "unknown option '--bogus'"), "%s: '%s'", cmds[i], out);
        CHECK_MSG(test_ccnn(out, sizeof out, "%s --bogus 3", cmds[i]) == 2 && strstr(out, "unknown option '--bogus'"), "%s: '%s'", cmds[i], out);
    }
    CHECK(test_ccnn(out, sizeof out, "gradcheck --net") == 2 && strstr(out, "--net needs a value"));
    /* outputs that cannot be written: found before the data is read */
    char d[160], longp[5000];
    snprintf(d, sizeof d, "%s", hpath("adir"));
    mkdir(d, 0777);
    EXPECT_REFUSED("is a directory", "adir", "train --out %s --data %s", d, hpath("no-data"));
    EXPECT_REFUSED("is a directory", "sub/", "train --out %s/sub/ --data %s", d, hpath("no-data"));
    EXPECT_REFUSED("the output path is empty", "", "train --out '' --data %s", hpath("no-data"));
    int n = snprintf(longp, sizeof longp, "%s/", d);
    memset(longp + n, 'a', 4500);
    longp[n + 4500] = 0;
    EXPECT_REFUSED("the path is longer than", "aaaa", "train --out %s --data %s", longp, hpath("no-data"));
    CHECK(!strstr(out, "Success"));
    FILE *f = fopen(hpath("afile"), "w");
    fputs("x", f);
    fclose(f);
    EXPECT_REFUSED("Not a directory", "afile/m.safetensors",
                   "train --out %s/m.safetensors --data %s", hpath("afile"), hpath("no-data"));
    /* the report beside the model is a directory */
    char rep[200];
    snprintf(rep, sizeof rep, "%s/r.html", d);
    mkdir(rep, 0777);
    EXPECT_REFUSED("is a directory", "r.html", "train --out %s/r.safetensors --data %s", d, hpath("no-data"));
}
