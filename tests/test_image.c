/* test_image.c - ccnn_image_load: every format and channel count against the
 * pixels the test wrote (PNG and JPEG written by libpng and libjpeg-turbo's
 * encoders, PNM by hand), resizing against a plain double-precision
 * bilinear reference, and hostile files (zero and huge sizes, truncation,
 * other formats, channel counts no image has): refused with the file named,
 * the output untouched. */
#include "test.h"
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char g_img_dir[64];

static void remove_img_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_img_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_img_dir);
}

static const char *img_dir(void)
{
    if (!g_img_dir[0]) {
        snprintf(g_img_dir, sizeof g_img_dir, "/tmp/ccnn_image_XXXXXX");
        if (!mkdtemp(g_img_dir)) { g_img_dir[0] = 0; return NULL; }
        atexit(remove_img_dir);
    }
    return g_img_dir;
}

static const char *img_path(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", img_dir(), name);
    return p[k];
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* An interleaved test image: smooth enough that JPEG keeps it close. */
static uint8_t *pattern(int w, int h, int ch, uint64_t seed)
{
    uint8_t *p = malloc((size_t)w * h * ch);
    test_rng r = {seed};
    int off[4];
    for (int c = 0; c < 4; c++) off[c] = test_rand_int(&r, 0, 60);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                p[((size_t)y * w + x) * ch + c] = (uint8_t)(off[c] + (x * 97 / w + y * 89 / h) * (c + 1) % 190);
    return p;
}

static void write_png(const char *path, const uint8_t *px, int w, int h, int color_type, int depth, int interlace)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color_type, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    int ch = color_type == PNG_COLOR_TYPE_GRAY ? 1 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
           : color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < 256; i++) pal[i].red = pal[i].green = pal[i].blue = (png_byte)i;
        png_set_PLTE(png, info, pal, 256);
    }
    png_write_info(png, info);
    int bpc = depth / 8;
    uint8_t *row = malloc((size_t)w * ch * bpc);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (int i = 0; i < w * ch; i++) {
                uint8_t v = px[(size_t)y * w * ch + i];
                if (bpc == 2) { row[2 * i] = v; row[2 * i + 1] = (uint8_t)(v ^ 0x5a); } /* low byte: noise */
                else row[i] = v;
            }
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

static void write_jpeg(const char *path, const uint8_t *px, int w, int h, int ch, J_COLOR_SPACE cs, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = w; c.image_height = h; c.input_components = ch; c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * w * ch);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* Independent reference: convert to dc channels, then bilinear in doubles. */
static void reference(const uint8_t *src, int sw, int sh, int sc, uint8_t *dst, int dw, int dh, int dc)
{
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++)
            for (int c = 0; c < dc; c++) {
                double fy = (y + 0.5) * sh / dh - 0.5, fx = (x + 0.5) * sw / dw - 0.5;
                int y0 = fy < 0 ? 0 : (int)fy, x0 = fx < 0 ? 0 : (int)fx;
                int y1 = y0 + 1 < sh ? y0 + 1 : sh - 1, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
                double wy = fy - y0 < 0 ? 0 : fy - y0, wx = fx - x0 < 0 ? 0 : fx - x0;
                double v[2][2];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        const uint8_t *p = src + ((size_t)(a ? y1 : y0) * sw + (b ? x1 : x0)) * sc;
                        int gray = sc >= 3 ? (77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8 : p[0];
                        int alpha = sc == 2 ? p[1] : sc == 4 ? p[3] : 255;
                        int val = dc == 1 ? gray : dc == 2 ? (c ? alpha : gray)
                                : c == 3 ? alpha : sc >= 3 ? p[c] : p[0];
                        v[a][b] = val;
                    }
                double r = (1 - wy) * ((1 - wx) * v[0][0] + wx * v[0][1]) + wy * ((1 - wx) * v[1][0] + wx * v[1][1]);
                dst[((size_t)c * dh + y) * dw + x] = (uint8_t)(r + 0.5);
            }
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) { int d = abs(a[i] - b[i]); if (d > m) m = d; }
    return m;
}

/* Loads path at dc x dh x dw and compares with the reference of px. */
static void expect_image(const char *path, const uint8_t *px, int sw, int sh, int sc, int dc, int dh, int dw,
                         int tol, const char *fmt)
{
    size_t n = (size_t)dc * dh * dw;
    uint8_t *got = malloc(n), *want = malloc(n);
    char err[512] = "";
    ccnn_image_info info;
    int rc = ccnn_image_load(path, dc, dh, dw, 0, got, &info, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", path, err);
    if (rc == 0) {
        CHECK_MSG(info.w == sw && info.h == sh && !strcmp(info.format, fmt), "%s: %dx%d %s", path, info.w, info.h, info.format);
        reference(px, sw, sh, sc, want, dw, dh, dc);
        int d = max_diff(got, want, n);
        CHECK_MSG(d <= tol, "%s as %dx%dx%d: differs by %d (tolerance %d)", path, dc, dh, dw, d, tol);
    }
    free(got);
    free(want);
}

static void write_pnm(const char *path, const char *magic, const uint8_t *px, int w, int h, int ch, int maxval)
{
    FILE *f = fopen(path, "wb");
    fprintf(f, "%s\n# a comment\n%d %d\n", magic, w, h);
    if (magic[1] != '1' && magic[1] != '4') fprintf(f, "%d\n", maxval);
    size_t n = (size_t)w * h * ch;
    for (size_t i = 0; i < n; i++) {
        int v = (px[i] * maxval + 127) / 255; /* exact at maxval 255 */
        switch (magic[1]) {
        case '1': fputc(px[i] < 128 ? '1' : '0', f); if (i % 7 == 6) fputc('\n', f); break;
        case '2': case '3': fprintf(f, "%d%c", v, i % 9 == 8 ? '\n' : ' '); break;
        case '4': break;
        default:
            if (maxval > 255) { fputc(v >> 8, f); fputc(v & 255, f); }
            else fputc(v, f);
        }
    }
    if (magic[1] == '4')
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x += 8) {
                int byte = 0;
                for (int b = 0; b < 8; b++)
                    if (x + b < w && px[(size_t)y * w + x + b] < 128) byte |= 0x80 >> b;
                fputc(byte, f);
            }
    fclose(f);
}

CCNN_TEST(image_pnm_formats)
{
    REQUIRE(img_dir());
    const int w = 13, h = 9;
    uint8_t *g = pattern(w, h, 1, 1), *rgb = pattern(w, h, 3, 2), *bw = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) bw[i] = g[i] < 100 ? 0 : 255;
    write_pnm(img_path("a.pgm"), "P5", g, w, h, 1, 255);
    expect_image(img_path("a.pgm"), g, w, h, 1, 1, h, w, 0, "PNM");
    write_pnm(img_path("b.pgm"), "P2", g, w, h, 1, 255);
    expect_image(img_path("b.pgm"), g, w, h, 1, 1, h, w, 0, "PNM");
    write_pnm(img_path("c.ppm"), "P6", rgb, w, h, 3, 255);
    expect_image(img_path("c.ppm"), rgb, w, h, 3, 3, h, w, 0, "PNM");
    expect_image(img_path("c.ppm"), rgb, w, h, 3, 1, h, w, 0, "PNM");   /* luma */
    expect_image(img_path("c.ppm"), rgb, w, h, 3, 4, h, w, 0, "PNM");   /* alpha 255 */
    write_pnm(img_path("d.ppm"), "P3", rgb, w, h, 3, 255);
    expect_image(img_path("d.ppm"), rgb, w, h, 3, 3, h, w, 0, "PNM");
    write_pnm(img_path("e.pbm"), "P1", bw, w, h, 1, 1);
    expect_image(img_path("e.pbm"), bw, w, h, 1, 1, h, w, 0, "PNM");
    write_pnm(img_path("f.pbm"), "P4", bw, w, h, 1, 1);
    expect_image(img_path("f.pbm"), bw, w, h, 1, 1, h, w, 0, "PNM");
    expect_image(img_path("f.pbm"), bw, w, h, 1, 3, h, w, 0, "PNM");
    /* 16-bit samples (stb read past the buffer here): scaled back exactly */
    write_pnm(img_path("g.pgm"), "P5", g, w, h, 1, 65535);
    expect_image(img_path("g.pgm"), g, w, h, 1, 1, h, w, 0, "PNM");
    write_pnm(img_path("h.ppm"), "P6", rgb, w, h, 3, 1000);
    expect_image(img_path("h.ppm"), rgb, w, h, 3, 3, h, w, 1, "PNM");
    free(g); free(rgb); free(bw);
}

CCNN_TEST(image_png_formats)
{
    REQUIRE(img_dir());
    const int w = 19, h = 11;
    static const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGBA, PNG_COLOR_TYPE_PALETTE};
    static const int chans[] = {1, 2, 3, 4, 1};
    for (int t = 0; t < 5; t++)
        for (int depth = 8; depth <= 16; depth += 8)
            for (int inter = 0; inter < 2; inter++) {
                if (t == 4 && depth == 16) continue;
                uint8_t *px = pattern(w, h, chans[t], 10 + t);
                const char *p = img_path("x.png");
                write_png(p, px, w, h, types[t], depth, inter);
                for (int dc = 1; dc <= 4; dc++) {
                    expect_image(p, px, w, h, chans[t], dc, h, w, 0, "PNG");
                    expect_image(p, px, w, h, chans[t], dc, 28, 28, 1, "PNG");
                }
                free(px);
            }
}

CCNN_TEST(image_jpeg_formats)
{
    REQUIRE(img_dir());
    const int w = 32, h = 24;
    for (int prog = 0; prog < 2; prog++) {
        uint8_t *g = pattern(w, h, 1, 20), *rgb = pattern(w, h, 3, 21);
        write_jpeg(img_path("g.jpg"), g, w, h, 1, JCS_GRAYSCALE, prog);
        expect_image(img_path("g.jpg"), g, w, h, 1, 1, h, w, 12, "JPEG");
        expect_image(img_path("g.jpg"), g, w, h, 1, 3, 28, 28, 12, "JPEG");
        write_jpeg(img_path("c.jpg"), rgb, w, h, 3, JCS_RGB, prog);
        expect_image(img_path("c.jpg"), rgb, w, h, 3, 3, h, w, 12, "JPEG");
        expect_image(img_path("c.jpg"), rgb, w, h, 3, 1, 28, 28, 12, "JPEG");
        free(g); free(rgb);
    }
}

/* Bilinear resize, up and down, odd sizes, against the reference. */
CCNN_TEST(image_resize_matches_reference)
{
    REQUIRE(img_dir());
    test_rng r = {77};
    for (int t = 0; t < 12; t++) {
        int sw = test_rand_int(&r, 1, 70), sh = test_rand_int(&r, 1, 70), dw = test_rand_int(&r, 1, 40),
            dh = test_rand_int(&r, 1, 40), sc = t % 2 ? 3 : 1, dc = test_rand_int(&r, 1, 4);
        uint8_t *px = malloc((size_t)sw * sh * sc);
        for (int i = 0; i < sw * sh * sc; i++) px[i] = (uint8_t)test_rand_int(&r, 0, 255);
        write_pnm(img_path("r.pnm"), sc == 3 ? "P6" : "P5", px, sw, sh, sc, 255);
        expect_image(img_path("r.pnm"), px, sw, sh, sc, dc, dh, dw, 1, "PNM");
        free(px);
    }
}

/* Refused with code `want`, a message naming the file and containing `what`,
 * the output untouched. */
static void expect_refused(const char *path, int c, uint64_t max_pixels, int want, const char *what)
{
    uint8_t out[5 * 28 * 28];
    memset(out, 0xab, sizeof out);
    char err[512] = "";
    int rc = ccnn_image_load(path, c, 28, 28, max_pixels, out, NULL, err, sizeof err);
    CHECK_MSG(rc == want, "%s: returned %d (%s), expected %d", path, rc, err, want);
    CHECK_MSG(strstr(err, path) && strstr(err, what), "%s: said '%s', expected '%s'", path, err, what);
    int untouched = 1;
    for (size_t i = 0; i < sizeof out; i++) untouched &= out[i] == 0xab;
    CHECK_MSG(untouched, "%s: output written on error", path);
}

static size_t file_bytes(const char *path, uint8_t **buf)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n);
    size_t got = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return got;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

/* A PNG whose IHDR declares w x h (CRC fixed up), with the IDAT of a 1x1 image. */
static void write_png_claiming(const char *path, uint32_t w, uint32_t h)
{
    uint8_t px[1] = {7}, *b;
    write_png(path, px, 1, 1, PNG_COLOR_TYPE_GRAY, 8, 0);
    size_t n = file_bytes(path, &b);
    put32(b + 16, w);
    put32(b + 20, h);
    put32(b + 29, (uint32_t)crc32(0, b + 12, 17));
    write_bytes(path, b, n);
    free(b);
}

CCNN_TEST(image_hostile_sizes)
{
    REQUIRE(img_dir());
    /* zero sizes (an HDR of width 0 went to an out-of-bounds resize before) */
    write_bytes(img_path("z.pgm"), "P5 0 5 255\n", 11);
    expect_refused(img_path("z.pgm"), 1, 0, CCNN_EFORMAT, "zero size");
    write_bytes(img_path("z2.pgm"), "P5 5 0 255\n", 11);
    expect_refused(img_path("z2.pgm"), 1, 0, CCNN_EFORMAT, "zero size");
    write_png_claiming(img_path("z.png"), 0, 1);
    expect_refused(img_path("z.png"), 1, 0, CCNN_EFORMAT, "PNG");
    /* tiny files declaring huge images: refused from the header */
    write_png_claiming(img_path("big.png"), 100000, 100000);
    expect_refused(img_path("big.png"), 1, 0, CCNN_ELIMIT, "over the limit of 33554432 pixels");
    write_bytes(img_path("big.pgm"), "P5 100000 100000 255\n", 21);
    expect_refused(img_path("big.pgm"), 1, 0, CCNN_ELIMIT, "10000000000 pixels");
    write_bytes(img_path("huge.pgm"), "P5 99999999999 1 255\n", 21);
    expect_refused(img_path("huge.pgm"), 1, 0, CCNN_EFORMAT, "bad header");
    uint8_t *g = pattern(64, 64, 1, 5), *b;
    write_jpeg(img_path("big.jpg"), g, 64, 64, 1, JCS_GRAYSCALE, 0);
    size_t n = file_bytes(img_path("big.jpg"), &b);
    for (size_t i = 2; i + 8 < n; i++)   /* SOF0: FF C0 len(2) precision(1) height(2) width(2) */
        if (b[i] == 0xff && b[i + 1] == 0xc0) { b[i + 5] = b[i + 7] = 0xfd; b[i + 6] = b[i + 8] = 0xe8; break; }
    write_bytes(img_path("big.jpg"), b, n);
    expect_refused(img_path("big.jpg"), 1, 0, CCNN_ELIMIT, "65000 x 65000");
    free(b);
    /* the limit is exact, and can be lowered or raised */
    write_pnm(img_path("l.pgm"), "P5", g, 64, 64, 1, 255);
    uint8_t out[28 * 28];
    char err[256];
    CHECK_RC(ccnn_image_load(img_path("l.pgm"), 1, 28, 28, 4096, out, NULL, err, sizeof err), 0);
    expect_refused(img_path("l.pgm"), 1, 4095, CCNN_ELIMIT, "over the limit of 4095 pixels");
    CHECK_RC(ccnn_image_load(img_path("big.pgm"), 1, 28, 28, 20000000000ull, out, NULL, err, sizeof err), CCNN_EFORMAT);
    CHECK_MSG(strstr(err, "truncated"), "said '%s'", err);
    free(g);
}

CCNN_TEST(image_hostile_content)
{
    REQUIRE(img_dir());
    uint8_t *g = pattern(40, 30, 3, 6), *b;
    /* channel counts no image gives (stb aborted the process at 5) */
    write_pnm(img_path("c.ppm"), "P6", g, 40, 30, 3, 255);
    expect_refused(img_path("c.ppm"), 5, 0, CCNN_ESHAPE, "the network takes 5 channels");
    /* truncated files of each format, at several lengths */
    write_png(img_path("t.png"), g, 40, 30, PNG_COLOR_TYPE_RGB, 8, 0);
    write_jpeg(img_path("t.jpg"), g, 40, 30, 3, JCS_RGB, 0);
    write_jpeg(img_path("tp.jpg"), g, 40, 30, 3, JCS_RGB, 1);
    const char *names[] = {"t.png", "t.jpg", "tp.jpg", "c.ppm"};
    for (int k = 0; k < 4; k++) {
        size_t n = file_bytes(img_path(names[k]), &b);
        for (int cut = 1; cut < 8; cut++) {
            write_bytes(img_path("cut"), b, n * cut / 8);
            expect_refused(img_path("cut"), 3, 0, CCNN_EFORMAT, "");
        }
        /* flipped bytes: refused or decoded, never a crash or sanitizer error */
        test_rng r = {k + 1u};
        for (int t = 0; t < 40; t++) {
            uint8_t *m = malloc(n);
            memcpy(m, b, n);
            for (int f = 0; f < 4; f++) m[test_rand_int(&r, 0, (int)n - 1)] ^= (uint8_t)test_rand_int(&r, 1, 255);
            write_bytes(img_path("flip"), m, n);
            uint8_t out[3 * 28 * 28];
            char err[256];
            int rc = ccnn_image_load(img_path("flip"), 3, 28, 28, 0, out, NULL, err, sizeof err);
            CHECK_MSG(rc == 0 || strstr(err, img_path("flip")), "rc %d '%s'", rc, err);
            free(m);
        }
        free(b);
    }
    /* CMYK JPEG: refused, said so */
    uint8_t *cmyk = pattern(16, 16, 4, 7);
    write_jpeg(img_path("k.jpg"), cmyk, 16, 16, 4, JCS_CMYK, 0);
    expect_refused(img_path("k.jpg"), 3, 0, CCNN_EFORMAT, "CMYK");
    free(cmyk);
    /* formats stb took that predict never listed; bad samples; empty files */
    write_bytes(img_path("a.gif"), "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    expect_refused(img_path("a.gif"), 1, 0, CCNN_EFORMAT, "not a PNG, JPEG or PBM/PGM/PPM file");
    write_bytes(img_path("a.hdr"), "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 5 +X 0\n", 45);
    expect_refused(img_path("a.hdr"), 1, 0, CCNN_EFORMAT, "not a PNG, JPEG");
    write_bytes(img_path("a.bmp"), "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0", 14);
    expect_refused(img_path("a.bmp"), 1, 0, CCNN_EFORMAT, "not a PNG, JPEG");
    write_bytes(img_path("empty"), "", 0);
    expect_refused(img_path("empty"), 1, 0, CCNN_EFORMAT, "empty");
    write_bytes(img_path("v.pgm"), "P2 2 1 10\n3 11\n", 15);
    expect_refused(img_path("v.pgm"), 1, 0, CCNN_EFORMAT, "bad or missing sample");
    write_bytes(img_path("v16.pgm"), "P5 1 1 300\n\x01\x2d", 13);
    expect_refused(img_path("v16.pgm"), 1, 0, CCNN_EFORMAT, "bad or missing sample");
    write_bytes(img_path("m0.pgm"), "P5 1 1 0\n\x00", 10);
    expect_refused(img_path("m0.pgm"), 1, 0, CCNN_EFORMAT, "maxval");
    expect_refused(img_path("no-such-file.png"), 1, 0, CCNN_EIO, "cannot open");
    expect_refused(img_dir(), 1, 0, CCNN_EIO, "is a directory");
    /* found by fuzzing: a zTXt chunk made libpng ask for 2 GB (ancillary
     * chunks are now skipped unread; make fuzz-smoke replays it under a
     * 1 GB malloc limit from fuzz/corpus/png) */
    expect_refused("tests/fixtures/png-ztxt-oom.png", 3, 0, CCNN_EFORMAT, "PNG: Read Error");
    free(g);
}
