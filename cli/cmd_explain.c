/* cmd_explain.c - `ccnn explain`: the backward pass of one convolution,
 * worked out for the options given (docs/backprop.md instantiated), with a
 * small integer example computed by the library's reference convolution.
 * A bad option gets exactly the message a net file's conv layer would. */
#include "cli.h"
#include "explain.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: ccnn explain --input NxCxHxW --filters K --size R[xS] [--stride S] [--pad P]\n"
    "                    [--dilation D] [--groups G] [--no-bias] [--seed S]\n"
    "                    [--json] [--html FILE] [--svg PREFIX]\n"
    "\n"
    "Works out backpropagation through one convolution (docs/backprop.md for this\n"
    "layer): the shapes and the output-size formula with its numbers, which input\n"
    "rows and columns get a zero gradient and why, the four equations instantiated,\n"
    "the zero-inserted padded delta and the flipped, transposed kernel, a small\n"
    "example with integer values computed by the reference implementation (one\n"
    "entry of dx, dw and db worked out term by term) and the multiply-add counts.\n"
    "\n"
    "  --input NxCxHxW   input shape (CxHxW: N = 1)\n"
    "  --filters K       output channels\n"
    "  --size, --stride, --dilation   N or HxW, as in a net file (stride, dilation: 1)\n"
    "  --pad             P, PHxPW or TOP,BOTTOM,LEFT,RIGHT (default 0)\n"
    "  --groups G        must divide C and K (default 1)\n"
    "  --no-bias         the layer has no bias\n"
    "  --seed S          seed of the example's values (default 1)\n"
    "  --json            print the configuration and every tensor (x, w, b, y, dy,\n"
    "                    dx, dw, db; NCHW / KCRS, row-major) as JSON instead of text\n"
    "  --html FILE       also write a self-contained page with the figures\n"
    "  --svg PREFIX      also write the figures as PREFIX-windows.svg,\n"
    "                    PREFIX-delta.svg and PREFIX-kernels.svg\n"
    "\n"
    "Layers too large to print get shapes, equations and counts, and a note.\n";

/* Above these the example is not computed (the reference is plain loops)... */
#define MAX_ELEMENTS (1 << 22)
#define MAX_MACS 1e8
/* ...and above these not printed. */
#define PRINT_HW 12
#define PRINT_MAPS 8
#define PRINT_KERNELS 16
#define PRINT_RS 7

/* ---- options ---------------------------------------------------------------- */

typedef struct opts {
    const char *filters, *size, *stride, *pad, *dilation, *groups;
} opts;

/* A value that would change the meaning of the net-file line it goes into. */
static int unsafe(const char *v)
{
    for (; *v; v++)
        if (isspace((unsigned char)*v) || *v == '#' || *v == '=') return 1;
    return 0;
}

/* The syntax of the options, checked by the network-file parser itself as
 * the conv layer of "input 1x1x1 / conv ... / softmax": a bad value gets
 * exactly a net file's message (without "FILE:LINE: "). The shape checks
 * that need the real input come after (shape_error): parsing the real layer
 * would allocate and zero its weights, gigabytes for a large one. */
static int check_syntax(const opts *o, int bias, char *msg, size_t len)
{
    const char *keys[] = {"filters", "size", "stride", "pad", "dilation", "groups"};
    const char *vals[] = {o->filters, o->size, o->stride, o->pad, o->dilation, o->groups};
    char text[1024];
    int n = snprintf(text, sizeof text, "input 1x1x1\nconv");
    for (int i = 0; i < 6; i++) {
        if (!vals[i]) continue;
        if (unsafe(vals[i]) || strlen(vals[i]) > 100) {
            snprintf(msg, len, "conv: bad value '%s' for %s", vals[i], keys[i]);
            return CCNN_EINVAL;
        }
        n += snprintf(text + n, sizeof text - (size_t)n, " %s=%s", keys[i], vals[i]);
    }
    snprintf(text + n, sizeof text - (size_t)n, " bias=%d\nsoftmax\n", bias);
    ccnn_net *net = NULL;
    char err[512] = "";
    int rc = ccnn_net_parse(text, "explain", &net, err, sizeof err);
    ccnn_net_free(net);
    /* ESHAPE: the stand-in input's business; other lines: the softmax's */
    if (!rc || rc == CCNN_ESHAPE || strncmp(err, "explain:2: ", 11)) return CCNN_OK;
    snprintf(msg, len, "%s", err + 11);
    return rc;
}

/* The conv layer's shape checks and words (ccnn_conv2d_check, which
 * src/layers/conv.c calls too), prefixed as a net file's are. */
static int shape_error(const ccnn_conv2d_params *p, char *msg, size_t len)
{
    char why[400];
    int rc = ccnn_conv2d_check(p, why, sizeof why);
    if (rc) snprintf(msg, len, "conv: %s", why);
    return rc;
}

/* Reads a value the parser has accepted: "A", "AxB" or "A,B". */
static void read_pair(const char *v, int dflt, int *a, int *b)
{
    *a = *b = dflt;
    if (!v) return;
    char *end;
    *a = *b = (int)strtol(v, &end, 10);
    if (*end == 'x' || *end == ',') *b = (int)strtol(end + 1, NULL, 10);
}

static void read_pad(const char *v, ccnn_conv2d_params *p)
{
    int t[4] = {0, 0, 0, 0};
    if (v && strchr(v, 'x')) {
        read_pair(v, 0, &t[0], &t[2]);
        t[1] = t[0];
        t[3] = t[2];
    } else if (v) {
        const char *s = v;
        int n = 0;
        for (; n < 4 && *s; n++) {
            char *end;
            t[n] = (int)strtol(s, &end, 10);
            s = *end == ',' ? end + 1 : end;
        }
        if (n == 1) t[1] = t[2] = t[3] = t[0];
    }
    p->pad_top = t[0];
    p->pad_bottom = t[1];
    p->pad_left = t[2];
    p->pad_right = t[3];
}

/* NxCxHxW or CxHxW, each positive. */
static int read_input(const char *v, ccnn_conv2d_params *p)
{
    long d[4];
    int n = 0;
    const char *s = v;
    while (n < 4) {
        char *end;
        if (!isdigit((unsigned char)*s)) return -1;
        d[n++] = strtol(s, &end, 10);
        if (d[n - 1] < 1 || d[n - 1] > (1L << 24)) return -1;
        if (!*end) break;
        if (*end != 'x') return -1;
        s = end + 1;
    }
    if (*s && strchr(s, 'x')) return -1; /* a fifth number */
    if (n == 3) { d[3] = d[2]; d[2] = d[1]; d[1] = d[0]; d[0] = 1; }
    else if (n != 4) return -1;
    if (d[2] * d[3] > (1L << 26)) return -1;
    p->n = (int)d[0];
    p->c = (int)d[1];
    p->h = (int)d[2];
    p->w = (int)d[3];
    return 0;
}

/* ---- the example ------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Small integers: every product and sum is exact in float, so a learner's
 * hand computation matches to the digit. */
static void fill_ints(uint64_t *s, float *a, int64_t n, int lo, int hi)
{
    for (int64_t i = 0; i < n; i++) a[i] = (float)(lo + (int)(splitmix(s) % (uint64_t)(hi - lo + 1)));
}

static void free_tensors(explain_t *e)
{
    free(e->x); free(e->w); free(e->b); free(e->y);
    free(e->dy); free(e->dx); free(e->dw); free(e->db);
}

static int compute(explain_t *e)
{
    int64_t nx = explain_count_x(e), nw = explain_count_w(e), ny = explain_count_y(e);
    e->x = malloc((size_t)nx * sizeof(float));
    e->dx = malloc((size_t)nx * sizeof(float));
    e->w = malloc((size_t)nw * sizeof(float));
    e->dw = malloc((size_t)nw * sizeof(float));
    e->y = malloc((size_t)ny * sizeof(float));
    e->dy = malloc((size_t)ny * sizeof(float));
    if (e->bias) {
        e->b = malloc((size_t)e->p.k * sizeof(float));
        e->db = malloc((size_t)e->p.k * sizeof(float));
    }
    if (!e->x || !e->dx || !e->w || !e->dw || !e->y || !e->dy || (e->bias && (!e->b || !e->db)))
        return CCNN_ENOMEM;
    uint64_t s = e->seed;
    fill_ints(&s, e->x, nx, -2, 2);
    fill_ints(&s, e->w, nw, -1, 1);
    if (e->bias) fill_ints(&s, e->b, e->p.k, -2, 2);
    fill_ints(&s, e->dy, ny, -2, 2);
    int rc = ccnn_conv2d_forward_ref(&e->p, e->x, e->w, e->b, e->y);
    if (!rc) rc = ccnn_conv2d_backward_data_ref(&e->p, e->dy, e->w, e->dx);
    if (!rc) rc = ccnn_conv2d_backward_weights_ref(&e->p, e->x, e->dy, e->dw, e->db);
    return rc;
}

static int write_file(const char *path, int (*fn)(FILE *, const explain_t *),
                      void (*svg)(FILE *, const explain_t *), const explain_t *e)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("explain", "cannot write %s", path);
    int rc = 0;
    if (fn) rc = fn(f, e);
    else svg(f, e);
    rc |= ferror(f);
    if (fclose(f) || rc) return cli_error("explain", "error writing %s", path);
    return 0;
}

int cmd_explain(int argc, char **argv)
{
    opts o = {0};
    const char *input = NULL, *html = NULL, *svg = NULL, *v;
    int json = 0, bias = 1;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--no-bias")) { bias = 0; continue; }
        if (strncmp(a, "--", 2)) { cli_error("explain", "unexpected argument '%s' (see --help)", a); return 2; }
        const char **slot = !strcmp(a, "--input") ? &input : !strcmp(a, "--filters") ? &o.filters
                          : !strcmp(a, "--size") ? &o.size : !strcmp(a, "--stride") ? &o.stride
                          : !strcmp(a, "--pad") ? &o.pad : !strcmp(a, "--dilation") ? &o.dilation
                          : !strcmp(a, "--groups") ? &o.groups : !strcmp(a, "--html") ? &html
                          : !strcmp(a, "--svg") ? &svg : NULL;
        if (!slot && strcmp(a, "--seed")) { cli_error("explain", "unknown option '%s' (see --help)", a); return 2; }
        if (!(v = cli_value("explain", argc, argv, &i))) return 2;
        if (slot) *slot = v;
        else if (cli_u64("explain", "--seed", v, &seed)) return 2;
    }
    explain_t e;
    memset(&e, 0, sizeof e);
    if (!input || !o.filters || !o.size) {
        cli_error("explain", "--input, --filters and --size are required (see --help)");
        return 2;
    }
    if (read_input(input, &e.p)) {
        cli_error("explain", "--input: expected NxCxHxW or CxHxW, positive, H*W at most 2^26, got '%s'", input);
        return 2;
    }
    char msg[512];
    if (check_syntax(&o, bias, msg, sizeof msg)) {
        cli_error("explain", "%s", msg);
        return 2;
    }
    e.p.k = atoi(o.filters);
    read_pair(o.size, 1, &e.p.r, &e.p.s);
    read_pair(o.stride, 1, &e.p.stride_h, &e.p.stride_w);
    read_pair(o.dilation, 1, &e.p.dilation_h, &e.p.dilation_w);
    read_pad(o.pad, &e.p);
    e.p.groups = o.groups ? atoi(o.groups) : 1;
    e.bias = bias;
    e.seed = seed;
    if (shape_error(&e.p, msg, sizeof msg)) {
        cli_error("explain", "%s", msg);
        return 2;
    }
    int rc = ccnn_conv2d_output_size(&e.p, &e.P, &e.Q);
    if (rc) { cli_error("explain", "%s", ccnn_strerror(rc)); return 1; }
    e.cg = e.p.c / e.p.groups;
    e.kg = e.p.k / e.p.groups;
    e.rem_h = (e.p.h + e.p.pad_top + e.p.pad_bottom - e.p.dilation_h * (e.p.r - 1) - 1) % e.p.stride_h;
    e.rem_w = (e.p.w + e.p.pad_left + e.p.pad_right - e.p.dilation_w * (e.p.s - 1) - 1) % e.p.stride_w;
    explain_macs m = explain_count_macs(&e);
    e.numbers = explain_count_x(&e) <= MAX_ELEMENTS && explain_count_w(&e) <= MAX_ELEMENTS &&
                explain_count_y(&e) <= MAX_ELEMENTS && m.forward <= MAX_MACS && m.dx_full_correlation <= MAX_MACS;
    e.printable = e.numbers && e.p.h <= PRINT_HW && e.p.w <= PRINT_HW && e.p.n * e.p.c <= PRINT_MAPS &&
                  e.p.n * e.p.k <= PRINT_MAPS && e.p.k * e.cg <= PRINT_KERNELS && e.p.r <= PRINT_RS &&
                  e.p.s <= PRINT_RS;
    if (e.numbers && (rc = compute(&e))) {
        cli_error("explain", "%s", ccnn_strerror(rc));
        free_tensors(&e);
        return 1;
    }
    rc = json ? explain_write_json(stdout, &e) : explain_write_text(stdout, &e);
    if (!rc && html) rc = write_file(html, explain_write_html, NULL, &e);
    if (!rc && svg) {
        static const char *names[] = {"windows", "delta", "kernels"};
        void (*fns[])(FILE *, const explain_t *) = {explain_svg_windows, explain_svg_delta, explain_svg_kernels};
        for (int i = 0; i < 3 && !rc; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s-%s.svg", svg, names[i]);
            rc = write_file(path, NULL, fns[i], &e);
        }
    }
    free_tensors(&e);
    return rc ? 1 : 0;
}
