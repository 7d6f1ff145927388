/* test_explain_html.c - `ccnn explain --html` and --svg: a self-contained
 * page (inline SVG, no scripts, nothing fetched) whose figures mark what the
 * text says, and, where Debian's chromium is installed
 * (./scripts/install-deps.sh --browser), a real browser's screenshot of it
 * that shows the figures (not a blank page). The screenshot is read with
 * libpng, loaded at run time: the test binary does not link it. */
#include "test.h"
#include <dlfcn.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    return b;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (size_t l = strlen(what); (s = strstr(s, what)); s += l) n++;
    return n;
}

static int run_explain(const char *dir, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s explain %s --html %s/e.html --svg %s/fig >/dev/null 2>&1", test_cli_path(), args, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char g_dir[64];

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

static const char *dir(void)
{
    if (!g_dir[0]) {
        strcpy(g_dir, "/tmp/ccnn_explain_XXXXXX");
        if (!mkdtemp(g_dir)) { g_dir[0] = 0; return NULL; } /* retry next call, never the template */
        atexit(remove_dir);
    }
    return g_dir;
}

CCNN_TEST(explain_html_self_contained)
{
    const char *d = dir();
    REQUIRE(d);
    /* row and column 6 are never read; rows 1 and 3 twice */
    REQUIRE(run_explain(d, "--input 2x3x7x7 --filters 4 --size 3 --stride 2 --pad 1,0,1,0") == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/e.html", d);
    char *h = slurp(path);
    REQUIRE(h);
    CHECK(!strncmp(h, "<!DOCTYPE html>", 15) && strstr(h, "</html>"));
    CHECK_MSG(count(h, "<svg") == 3 && count(h, "</svg>") == 3, "%d svg elements", count(h, "<svg"));
    CHECK(!strstr(h, "<script") && !strstr(h, "src=") && !strstr(h, "<link") && !strstr(h, "@import"));
    CHECK(strstr(h, "never read: dx = 0") && strstr(h, "read by 2 windows"));
    CHECK(strstr(h, "dx[0,0,i,j]") && strstr(h, "(the reference: "));
    CHECK(!strstr(h, "0 <= p <")); /* the text is escaped: "<" only as &lt; */
    free(h);
    static const char *figs[] = {"windows", "delta", "kernels"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/fig-%s.svg", d, figs[i]);
        char *s = slurp(path);
        CHECK_MSG(s && !strncmp(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) && count(s, "</svg>") == 1,
                  "%s", path);
        free(s);
    }
    /* stride 1 with "same" padding: every row read, nothing marked */
    REQUIRE(run_explain(d, "--input 1x1x5x5 --filters 1 --size 3 --pad 1") == 0);
    snprintf(path, sizeof path, "%s/e.html", d);
    h = slurp(path);
    REQUIRE(h);
    CHECK(!strstr(h, "never read") && strstr(h, "read by 3 windows"));
    free(h);
    /* too large to draw: a note, still a page */
    REQUIRE(run_explain(d, "--input 1x64x56x56 --filters 64 --size 3 --pad 1") == 0);
    h = slurp(path);
    REQUIRE(h);
    CHECK(strstr(h, "too large to draw") && strstr(h, "too many kernels") && strstr(h, "not printed"));
    free(h);
}

/* libpng's simplified API, looked up at run time. */
typedef int (*png_begin_fn)(png_imagep, const char *);
typedef int (*png_finish_fn)(png_imagep, png_const_colorp, void *, png_int_32, void *);
typedef void (*png_free_fn)(png_imagep);

/* RGB pixels of a PNG file, or NULL (message in why). */
static unsigned char *read_png(const char *path, int *w, int *h, char *why, size_t len)
{
    void *lib = dlopen("libpng16.so.16", RTLD_NOW);
    if (!lib) { snprintf(why, len, "libpng16.so.16 not found (apt-get install libpng-dev)"); return NULL; }
    png_begin_fn begin = (png_begin_fn)(uintptr_t)dlsym(lib, "png_image_begin_read_from_file");
    png_finish_fn finish = (png_finish_fn)(uintptr_t)dlsym(lib, "png_image_finish_read");
    png_free_fn pfree = (png_free_fn)(uintptr_t)dlsym(lib, "png_image_free");
    unsigned char *px = NULL;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!begin || !finish || !pfree) snprintf(why, len, "libpng lacks the simplified API");
    else if (!begin(&img, path)) snprintf(why, len, "libpng: %s", img.message);
    else {
        img.format = PNG_FORMAT_RGB;
        px = malloc(PNG_IMAGE_SIZE(img));
        if (!px || !finish(&img, NULL, px, 0, NULL)) {
            snprintf(why, len, "libpng: %s", img.message);
            free(px);
            px = NULL;
            pfree(&img);
        }
        *w = (int)img.width;
        *h = (int)img.height;
    }
    dlclose(lib);
    return px;
}

static int near(const unsigned char *p, int r, int g, int b)
{
    return abs(p[0] - r) < 24 && abs(p[1] - g) < 24 && abs(p[2] - b) < 24;
}

CCNN_TEST(explain_html_renders_in_chromium)
{
    const char *browser = NULL;
    static const char *names[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    for (int i = 0; i < 2 && !browser; i++)
        if (access(names[i], X_OK) == 0) browser = names[i];
    if (!browser) {
        printf("     skipped: chromium is not installed (./scripts/install-deps.sh --browser)\n");
        return;
    }
    const char *d = dir();
    REQUIRE(d);
    REQUIRE(run_explain(d, "--input 2x3x7x7 --filters 4 --size 3 --stride 2 --pad 1,0,1,0") == 0);
    char cmd[2048], shot[256], html[256];
    snprintf(shot, sizeof shot, "%s/shot.png", d);
    snprintf(html, sizeof html, "%s/e.html", d);
    /* --no-sandbox: chromium refuses to run as root without it (CI is root);
     * a private profile; /tmp rather than a small /dev/shm (containers); a
     * time limit in case it hangs */
    snprintf(cmd, sizeof cmd, "DBUS_SESSION_BUS_ADDRESS=disabled: timeout -k 10 120 %s --headless --no-sandbox "
             "--disable-gpu --disable-dev-shm-usage --no-first-run --disable-extensions "
             "--user-data-dir=%s/profile --window-size=900,1400 --screenshot=%s file://%s >%s/chromium.log 2>&1",
             browser, d, shot, html, d);
    int st = system(cmd);
    struct stat sb;
    REQUIRE(WIFEXITED(st));
    CHECK_MSG(WEXITSTATUS(st) == 0 && stat(shot, &sb) == 0, "chromium exit %d (log: %s/chromium.log)",
              WEXITSTATUS(st), d);
    if (stat(shot, &sb) != 0) return;
    int w = 0, h = 0;
    char why[256];
    unsigned char *px = read_png(shot, &w, &h, why, sizeof why);
    if (!px) {
        printf("     skipped: the screenshot cannot be read: %s\n", why);
        return;
    }
    CHECK_MSG(w == 900 && h == 1400, "screenshot %dx%d", w, h);
    long ink = 0, blue = 0, orange = 0, grey = 0;
    for (long i = 0; i < (long)w * h; i++) {
        const unsigned char *p = px + 3 * i;
        ink += p[0] < 200 || p[1] < 200 || p[2] < 200;
        blue += near(p, 0x1f, 0x77, 0xb4);   /* the first window's outline */
        orange += near(p, 0xe6, 0x55, 0x0d); /* the second's */
        grey += near(p, 0xd9, 0xd9, 0xd9);   /* padding cells */
    }
    double frac = (double)ink / ((double)w * h);
    CHECK_MSG(frac > 0.01 && frac < 0.6, "%.3f of the page is ink: blank or black", frac);
    CHECK_MSG(blue > 100 && orange > 100 && grey > 1000, "figures not drawn: %ld blue, %ld orange, %ld grey pixels",
              blue, orange, grey);
    free(px);
}
