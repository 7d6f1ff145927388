/* explain_html.c - `ccnn explain --html`: a self-contained page (inline SVG,
 * no scripts) with the three figures a learner wants to look at, and the
 * text explanation. The same SVG code draws docs/figures/ (--svg,
 * scripts/make-figures.sh), so the docs' pictures are the tool's. */
#include "explain.h"
#include <stdlib.h>
#include <string.h>

#define FIG_WIDTH 560    /* a figure's grid area, pixels */
#define MIN_WIDTH 720    /* room for the titles */
#define MAX_CELL 30
#define MIN_TEXT_CELL 14 /* smaller cells carry no numbers */
#define MAX_GRID 48      /* padded rows or columns drawn */
#define COLOR_A "#1f77b4"
#define COLOR_B "#e6550d"
#define COLOR_PAD "#d9d9d9"
#define COLOR_ZERO "#fff3b0"
#define COLOR_UNREAD "#c62828"

#define AT(t, d1, d2, d3, a, b, c, d) (t)[((((int64_t)(a) * (d1) + (b)) * (d2) + (c)) * (d3)) + (d)]

static void svg_open(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Arial, sans-serif\">\n<title>%s</title>\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h, w, h, title, w, h);
}

static void cell(FILE *f, double x, double y, double s, const char *fill)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" stroke=\"#999\" "
            "stroke-width=\"0.5\"/>\n", x, y, s, s, fill);
}

static void text(FILE *f, double x, double y, double size, const char *color, const char *anchor, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" fill=\"%s\" text-anchor=\"%s\">%s</text>\n", x, y,
            size, color, anchor, s);
}

static void number(FILE *f, double x, double y, double s, float v, const char *color)
{
    char b[32];
    snprintf(b, sizeof b, "%g", (double)v);
    text(f, x + s / 2, y + s * 0.68, s * 0.45, color, "middle", b);
}

static double cell_size(int rows, int cols, int width)
{
    double s = (double)width / (cols > rows ? cols : rows);
    return s > MAX_CELL ? MAX_CELL : s;
}

static void too_large(FILE *f, const char *title, const char *what)
{
    svg_open(f, MIN_WIDTH, 60, title);
    text(f, 10, 35, 14, "#333", "start", what);
    fprintf(f, "</svg>\n");
}

/* ---- figure 1: the padded input and two windows ------------------------------ */

/* Fills the taps of output (p, q)'s window; outlines its extent. */
static void window(FILE *f, const explain_t *e, int p, int q, double x0, double y0, double s, const char *color)
{
    const ccnn_conv2d_params *c = &e->p;
    for (int r = 0; r < c->r; r++)
        for (int t = 0; t < c->s; t++) {
            double x = x0 + (q * c->stride_w + t * c->dilation_w) * s, y = y0 + (p * c->stride_h + r * c->dilation_h) * s;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.35\"/>\n",
                    x, y, s, s, color);
        }
    double w = ((c->s - 1) * c->dilation_w + 1) * s, h = ((c->r - 1) * c->dilation_h + 1) * s;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"%s\" "
            "stroke-width=\"2.5\"/>\n", x0 + q * c->stride_w * s, y0 + p * c->stride_h * s, w, h, color);
}

void explain_svg_windows(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *c = &e->p;
    int rows = c->h + c->pad_top + c->pad_bottom, cols = c->w + c->pad_left + c->pad_right;
    const char *title = "The padded input x[0,0] and the windows of two outputs";
    if (rows > MAX_GRID || cols > MAX_GRID) {
        too_large(f, title, "(the padded input is too large to draw)");
        return;
    }
    double s = cell_size(rows, cols, FIG_WIDTH - 120), x0 = 50, y0 = 50;
    int W = (int)(x0 + cols * s + 130), H = (int)(y0 + rows * s + 60);
    if (W < MIN_WIDTH) W = MIN_WIDTH;
    svg_open(f, W, H, title);
    text(f, x0, 20, 14, "#222", "start", title);
    int p1 = e->P > 1 ? 1 : 0, q1 = e->Q > 1 ? 1 : 0;
    char b[160];
    snprintf(b, sizeof b, "y[0,k,0,0] reads the blue taps, y[0,k,%d,%d] the orange ones; grey: padding", p1, q1);
    text(f, x0, 38, 11, "#444", "start", b);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            int h = i - c->pad_top, w = j - c->pad_left, real = h >= 0 && h < c->h && w >= 0 && w < c->w;
            cell(f, x0 + j * s, y0 + i * s, s, real ? "#ffffff" : COLOR_PAD);
            if (real && e->numbers && s >= MIN_TEXT_CELL) number(f, x0 + j * s, y0 + i * s, s, explain_x_at(e, 0, 0, h, w), "#222");
        }
    window(f, e, 0, 0, x0, y0, s, COLOR_A);
    if (p1 || q1) window(f, e, p1, q1, x0, y0, s, COLOR_B);
    /* row and column notes: input index, how many windows read it */
    for (int i = 0; i < rows; i++) {
        int h = i - c->pad_top;
        double y = y0 + i * s + s * 0.68;
        if (h < 0 || h >= c->h) continue;
        snprintf(b, sizeof b, "%d", h);
        text(f, x0 - 6, y, 10, "#555", "end", b);
        int n = explain_windows_reading(e, 1, h);
        if (n == 0) text(f, x0 + cols * s + 6, y, 10, COLOR_UNREAD, "start", "never read: dx = 0");
        else if (n > 1) {
            snprintf(b, sizeof b, "read by %d windows", n);
            text(f, x0 + cols * s + 6, y, 10, "#555", "start", b);
        }
    }
    for (int j = 0; j < cols; j++) {
        int w = j - c->pad_left;
        if (w < 0 || w >= c->w) continue;
        snprintf(b, sizeof b, "%d", w);
        text(f, x0 + j * s + s / 2, y0 - 3, 10, "#555", "middle", b);
        if (!explain_windows_reading(e, 0, w)) text(f, x0 + j * s + s / 2, y0 + rows * s + 14, 12, COLOR_UNREAD, "middle", "x");
    }
    int unread_col = 0;
    for (int w = 0; w < c->w; w++) unread_col |= !explain_windows_reading(e, 0, w);
    if (unread_col) text(f, x0, y0 + rows * s + 32, 11, COLOR_UNREAD, "start", "x: column never read, dx = 0");
    fprintf(f, "</svg>\n");
}

/* ---- figure 2: the zero-inserted, padded delta and the flipped kernel ---------- */

void explain_svg_delta(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *c = &e->p;
    int pads[4], idx[4];
    explain_delta_pads(e, pads);
    int hd = (e->P - 1) * c->stride_h + 1, wd = (e->Q - 1) * c->stride_w + 1;
    int rows = hd + pads[0] + pads[1], cols = wd + pads[2] + pads[3];
    const char *title = "dx as a full correlation: zero-inserted, padded delta and the flipped kernel";
    if (rows > MAX_GRID || cols > MAX_GRID) {
        too_large(f, title, "(the padded delta is too large to draw)");
        return;
    }
    explain_pick_dx(e, idx);
    int n = idx[0], ch = idx[1], h = idx[2], w = idx[3], g = ch / e->cg, cc = ch - g * e->cg, k = g * e->kg;
    double s = cell_size(rows, cols, FIG_WIDTH - 60), x0 = 40, y0 = 64;
    int W = (int)(x0 + cols * s + 40), H = (int)(y0 + rows * s + 40);
    if (W < MIN_WIDTH) W = MIN_WIDTH;
    svg_open(f, W, H, title);
    text(f, x0, 20, 14, "#222", "start", title);
    char b[200];
    snprintf(b, sizeof b, "D: dy[%d,%d] with %d zero rows / %d zero columns inserted (yellow), padded %d,%d,%d,%d "
             "(grey; negative: cropped)", n, k, c->stride_h - 1, c->stride_w - 1, pads[0], pads[1], pads[2], pads[3]);
    text(f, x0, 38, 11, "#444", "start", b);
    snprintf(b, sizeof b, "blue: w[%d,%d] flipped 180 degrees, at the window of dx[%d,%d,%d,%d] (stride 1, dilation %dx%d)",
             k, cc, n, ch, h, w, c->dilation_h, c->dilation_w);
    text(f, x0, 54, 11, COLOR_A, "start", b);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            int di = i - pads[0], dj = j - pads[2]; /* index in D */
            int in = di >= 0 && di < hd && dj >= 0 && dj < wd;
            int on_grid = in && di % c->stride_h == 0 && dj % c->stride_w == 0;
            cell(f, x0 + j * s, y0 + i * s, s, !in ? COLOR_PAD : on_grid ? "#ffffff" : COLOR_ZERO);
            if (!e->numbers || s < MIN_TEXT_CELL) continue;
            float v = on_grid ? AT(e->dy, c->k, e->P, e->Q, n, k, di / c->stride_h, dj / c->stride_w) : 0;
            number(f, x0 + j * s, y0 + i * s, s, v, on_grid ? "#000" : "#999");
        }
    /* the flipped kernel over the window of dx[n,ch,h,w]: tap (r,s) at (h + r*dh, w + s*dw) */
    for (int r = 0; r < c->r; r++)
        for (int t = 0; t < c->s; t++) {
            double x = x0 + (w + t * c->dilation_w) * s, y = y0 + (h + r * c->dilation_h) * s;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.25\" "
                    "stroke=\"%s\" stroke-width=\"2\"/>\n", x, y, s, s, COLOR_A, COLOR_A);
            if (e->numbers && s >= MIN_TEXT_CELL) {
                char v[32];
                snprintf(v, sizeof v, "%g", (double)AT(e->w, e->cg, c->r, c->s, k, cc, c->r - 1 - r, c->s - 1 - t));
                text(f, x + s - 2, y + s * 0.3, s * 0.3, COLOR_A, "end", v);
            }
        }
    fprintf(f, "</svg>\n");
}

/* ---- figure 3: the K x Cg kernels and their transpose --------------------------- */

/* One R x S kernel at (x, y); flip: rotated 180 degrees. */
static void kernel(FILE *f, const explain_t *e, int k, int cc, int flip, double x, double y, double s)
{
    const ccnn_conv2d_params *c = &e->p;
    for (int r = 0; r < c->r; r++)
        for (int t = 0; t < c->s; t++) {
            int rr = flip ? c->r - 1 - r : r, tt = flip ? c->s - 1 - t : t;
            cell(f, x + t * s, y + r * s, s, flip ? "#e8f1fa" : "#ffffff");
            if (e->numbers && s >= MIN_TEXT_CELL) number(f, x + t * s, y + r * s, s, AT(e->w, e->cg, c->r, c->s, k, cc, rr, tt), "#222");
        }
}

void explain_svg_kernels(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *c = &e->p;
    const char *title = "The K x Cg kernels of w and the C x Kg flipped kernels that dx uses";
    if (c->k * e->cg > 64 || c->c * e->kg > 64 || c->r > 7 || c->s > 7) {
        too_large(f, title, "(too many kernels to draw)");
        return;
    }
    int cols_l = e->cg, rows_l = c->k, cols_r = e->kg, rows_r = c->c;
    double s = cell_size(1, (cols_l + cols_r) * (c->s + 1), FIG_WIDTH - 80);
    if (s > 22) s = 22;
    double kw = (c->s + 1) * s, kh = (c->r + 1) * s, x0 = 60, y0 = 70;
    double xr = x0 + cols_l * kw + 90;
    int rows = rows_l > rows_r ? rows_l : rows_r;
    int W = (int)(xr + cols_r * kw + 30), H = (int)(y0 + rows * kh + 30);
    if (W < MIN_WIDTH) W = MIN_WIDTH;
    svg_open(f, W, H, title);
    text(f, 10, 20, 14, "#222", "start", title);
    text(f, x0, 44, 12, "#222", "start", "forward: w[k, c']");
    text(f, xr, 44, 12, "#222", "start", "backward data: w'[c, k'] = flip(w[gKg+k', c'])");
    char b[64];
    for (int i = 0; i < cols_l; i++) {
        snprintf(b, sizeof b, "c'=%d", i);
        text(f, x0 + i * kw + c->s * s / 2, y0 - 6, 10, "#555", "middle", b);
    }
    for (int k = 0; k < c->k; k++) {
        snprintf(b, sizeof b, "k=%d", k);
        text(f, x0 - 6, y0 + k * kh + c->r * s / 2 + 4, 10, "#555", "end", b);
        for (int i = 0; i < cols_l; i++) kernel(f, e, k, i, 0, x0 + i * kw, y0 + k * kh, s);
    }
    for (int i = 0; i < cols_r; i++) {
        snprintf(b, sizeof b, "k'=%d", i);
        text(f, xr + i * kw + c->s * s / 2, y0 - 6, 10, "#555", "middle", b);
    }
    for (int ch = 0; ch < c->c; ch++) {
        int g = ch / e->cg;
        snprintf(b, sizeof b, "c=%d", ch);
        text(f, xr - 6, y0 + ch * kh + c->r * s / 2 + 4, 10, "#555", "end", b);
        for (int i = 0; i < cols_r; i++) kernel(f, e, g * e->kg + i, ch - g * e->cg, 1, xr + i * kw, y0 + ch * kh, s);
    }
    double ya = y0 + (rows * kh) / 2;
    fprintf(f, "<path d=\"M %.1f %.1f L %.1f %.1f\" stroke=\"#555\" stroke-width=\"2\"/>\n"
            "<path d=\"M %.1f %.1f l -8 -5 l 0 10 z\" fill=\"#555\"/>\n", x0 + cols_l * kw + 10, ya, xr - 40, ya,
            xr - 32, ya);
    text(f, (x0 + cols_l * kw + xr - 30) / 2, ya - 8, 10, "#555", "middle", "swap axes");
    text(f, (x0 + cols_l * kw + xr - 30) / 2, ya + 16, 10, "#555", "middle", "flip 180");
    fprintf(f, "</svg>\n");
}

/* ---- the page -------------------------------------------------------------------- */

static void escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

int explain_write_html(FILE *f, const explain_t *e)
{
    char *txt = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&txt, &len);
    if (!m) return -1;
    int rc = explain_write_text(m, e);
    if (fclose(m) || rc) { free(txt); return -1; }
    const ccnn_conv2d_params *c = &e->p;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>ccnn explain: %dx%dx%dx%d, %d filters of %dx%d</title>\n<style>\n"
            "body { font-family: DejaVu Sans, Arial, sans-serif; margin: 24px; color: #222; background: #fff; }\n"
            "figure { margin: 16px 0 28px 0; } figcaption { font-size: 13px; color: #444; max-width: 760px; }\n"
            "pre { font-size: 12px; background: #f6f6f6; padding: 12px; overflow-x: auto; }\n"
            "</style>\n</head>\n<body>\n", c->n, c->c, c->h, c->w, c->k, c->r, c->s);
    fprintf(f, "<h1>Backpropagation through this convolution</h1>\n<p>x: %d x %d x %d x %d, %d filters of %d x %d x %d, "
            "stride %dx%d, padding %d,%d,%d,%d (top, bottom, left, right), dilation %dx%d, groups %d, %s. "
            "The equations are those of <code>docs/backprop.md</code>; the numbers come from the library's "
            "reference convolution.</p>\n", c->n, c->c, c->h, c->w, c->k, e->cg, c->r, c->s, c->stride_h,
            c->stride_w, c->pad_top, c->pad_bottom, c->pad_left, c->pad_right, c->dilation_h, c->dilation_w,
            c->groups, e->bias ? "with a bias" : "no bias");
    fprintf(f, "<figure>\n");
    explain_svg_windows(f, e);
    fprintf(f, "<figcaption>Forward (1): each output reads the taps of its window; where the windows overlap, "
            "that input's gradient adds both outputs' contributions; an input no window reads gets dx = 0."
            "</figcaption>\n</figure>\n<figure>\n");
    explain_svg_delta(f, e);
    fprintf(f, "<figcaption>Input gradient (2) as a full correlation: dy with the stride's zeros inserted, "
            "padded so that the result is H x W, correlated at stride 1 with the kernel rotated 180 degrees. "
            "The blue taps sum to one dx entry (over the filters of its group).</figcaption>\n</figure>\n<figure>\n");
    explain_svg_kernels(f, e);
    fprintf(f, "<figcaption>Forward uses the K x Cg grid of kernels; dx uses its transpose, C x Kg, each kernel "
            "flipped: filters and channels swap places.</figcaption>\n</figure>\n<h2>The numbers</h2>\n<pre>");
    escaped(f, txt);
    fprintf(f, "</pre>\n</body>\n</html>\n");
    free(txt);
    return ferror(f) ? -1 : 0;
}
