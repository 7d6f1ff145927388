/* explain_text.c - `ccnn explain`'s text: the layer's shapes, output size,
 * unread rows, the four equations of docs/backprop.md with this layer's
 * numbers in them, the example as grids, three entries term by term, and the
 * multiply-add counts. */
#include "explain.h"
#include <stdlib.h>
#include <string.h>

#define PAGE_WIDTH 100
#define MAX_TERMS 24 /* terms listed in a worked entry before "..." */

static void shape4(char *buf, size_t len, int a, int b, int c, int d)
{
    snprintf(buf, len, "%d x %d x %d x %d", a, b, c, d);
}

/* ---- grids ------------------------------------------------------------------- */

typedef struct grid {
    const char *name, *rn, *cn;  /* "x", row and column index names */
    const float *data;
    int d1, rows, cols;          /* maps are indexed (i / d1, i % d1) */
} grid;

static int cell_width(const float *a, int64_t n)
{
    int w = 2;
    char b[32];
    for (int64_t i = 0; i < n; i++) {
        int l = snprintf(b, sizeof b, "%g", (double)a[i]);
        if (l > w) w = l;
    }
    return w + 1;
}

/* Line `line` of map i: title, header, rule, then the rows. */
static void map_line(char *buf, size_t len, const grid *g, int i, int line, int cw)
{
    int n = 0;
    if (line == 0) {
        snprintf(buf, len, "%s[%d,%d,%s,%s]", g->name, i / g->d1, i % g->d1, g->rn, g->cn);
    } else if (line == 1) {
        n = snprintf(buf, len, " %s\\%s |", g->rn, g->cn);
        for (int c = 0; c < g->cols && (size_t)n < len; c++) n += snprintf(buf + n, len - (size_t)n, "%*d", cw, c);
    } else if (line == 2) {
        n = snprintf(buf, len, "-----+");
        for (int c = 0; c < g->cols * cw && (size_t)n + 1 < len; c++) buf[n++] = '-';
        buf[n] = 0;
    } else {
        int r = line - 3;
        const float *row = g->data + ((int64_t)i * g->rows + r) * g->cols;
        n = snprintf(buf, len, "%4d |", r);
        for (int c = 0; c < g->cols && (size_t)n < len; c++) n += snprintf(buf + n, len - (size_t)n, "%*g", cw, (double)row[c]);
    }
}

static void print_grids(FILE *f, const grid *g, int count)
{
    int cw = cell_width(g->data, (int64_t)count * g->rows * g->cols);
    int bw = 6 + g->cols * cw, gap = 4;
    if (bw < 14) bw = 14;
    int per_line = (PAGE_WIDTH + gap) / (bw + gap);
    if (per_line < 1) per_line = 1;
    char buf[512];
    for (int i0 = 0; i0 < count; i0 += per_line) {
        int i1 = i0 + per_line < count ? i0 + per_line : count;
        for (int line = 0; line < g->rows + 3; line++) {
            int n = 0;
            char out[2048] = "";
            for (int i = i0; i < i1; i++) {
                map_line(buf, sizeof buf, g, i, line, cw);
                n += snprintf(out + n, sizeof out - (size_t)n, "%-*s", i + 1 < i1 ? bw + gap : 0, buf);
            }
            fprintf(f, "  %s\n", out);
        }
        fputc('\n', f);
    }
}

static void print_vector(FILE *f, const char *name, const float *v, int n)
{
    fprintf(f, "  %s = [", name);
    for (int i = 0; i < n; i++) fprintf(f, "%s%g", i ? ", " : "", (double)v[i]);
    fprintf(f, "]\n\n");
}

/* ---- sections ----------------------------------------------------------------- */

static void header(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    fprintf(f, "Convolution of x (N=%d, C=%d, H=%d, W=%d) with K=%d filters of %d x %d x %d\n", p->n, p->c,
            p->h, p->w, p->k, e->cg, p->r, p->s);
    fprintf(f, "  stride %dx%d, padding top %d bottom %d left %d right %d, dilation %dx%d, groups %d, %s\n\n",
            p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right, p->dilation_h,
            p->dilation_w, p->groups, e->bias ? "bias" : "no bias");
}

static void shapes(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    char x[64], w[64], y[64], b[32];
    shape4(x, sizeof x, p->n, p->c, p->h, p->w);
    shape4(w, sizeof w, p->k, e->cg, p->r, p->s);
    shape4(y, sizeof y, p->n, p->k, e->P, e->Q);
    snprintf(b, sizeof b, "%d", p->k);
    fprintf(f, "1. Shapes\n\n");
    fprintf(f, "  x   %-20s input, N x C x H x W\n", x);
    fprintf(f, "  w   %-20s weights, K x C/G x R x S\n", w);
    if (e->bias) fprintf(f, "  b   %-20s bias, one per filter\n", b);
    fprintf(f, "  y   %-20s output, N x K x P x Q\n", y);
    fprintf(f, "  dy  %-20s dL/dy, given by the layer above (the shape of y)\n", y);
    fprintf(f, "  dx  %-20s dL/dx (the shape of x)\n", x);
    fprintf(f, "  dw  %-20s dL/dw (the shape of w)\n", w);
    if (e->bias) fprintf(f, "  db  %-20s dL/db (the shape of b)\n", b);
    fputc('\n', f);
}

/* One direction of the output size; vertical or horizontal. */
static void output_size(FILE *f, const explain_t *e, int vertical)
{
    const ccnn_conv2d_params *p = &e->p;
    int in = vertical ? p->h : p->w, pa = vertical ? p->pad_top : p->pad_left;
    int pb = vertical ? p->pad_bottom : p->pad_right, dil = vertical ? p->dilation_h : p->dilation_w;
    int taps = vertical ? p->r : p->s, st = vertical ? p->stride_h : p->stride_w;
    int out = vertical ? e->P : e->Q, rem = vertical ? e->rem_h : e->rem_w;
    const char *O = vertical ? "P" : "Q", *I = vertical ? "H" : "W", *a = vertical ? "pt" : "pl";
    const char *b = vertical ? "pb" : "pr", *d = vertical ? "dil_h" : "dil_w", *T = vertical ? "R" : "S";
    const char *s = vertical ? "sh" : "sw", *row = vertical ? "row" : "column";
    int num = in + pa + pb - dil * (taps - 1) - 1;
    fprintf(f, "  %s = floor((%s + %s + %s - %s*(%s-1) - 1) / %s) + 1\n", O, I, a, b, d, T, s);
    fprintf(f, "    = floor((%d + %d + %d - %d*%d - 1) / %d) + 1 = floor(%d/%d) + 1 = %d\n", in, pa, pb, dil,
            taps - 1, st, num, st, out);
    int padded = in + pa + pb, last = (out - 1) * st + dil * (taps - 1); /* padded index of the last tap */
    char shift[64] = " (no padding before it: padded index = input index)";
    if (pa) snprintf(shift, sizeof shift, " (padded %s i is input %s i - %d)", row, row, pa);
    fprintf(f, "  The padded input has %d %ss%s.\n  The last window (output %s %d) starts at padded %s %d;"
            " its last tap is padded %s %d.\n ", padded, row, shift, row, out - 1, row, (out - 1) * st, row, last);
    if (!rem) {
        fprintf(f, " %d is a multiple of %s = %d: the last window ends exactly at the end of the\n"
                "  padded input (rem = 0).\n\n", num, s, st);
        return;
    }
    int first_real = last + 1 - pa, last_real = padded - 1 - pa;
    if (last_real > in - 1) last_real = in - 1;
    fprintf(f, " %d is not a multiple of %s = %d: rem = %d mod %d = %d padded %s(s) lie past\n"
            "  the last window; a next window would need padded %s %d, past the padded input, so\n"
            "  the output has %d %ss, not more.", num, s, st, num, st, rem, row, row, last + st, out, row);
    if (first_real == last_real)
        fprintf(f, " Input %s %d is in that remainder:\n"
                "  it is lost (no output reads it).\n\n", row, first_real);
    else if (first_real < last_real)
        fprintf(f, " Input %ss %d..%d are in that remainder:\n"
                "  they are lost (no output reads them).\n\n", row, first_real, last_real);
    else
        fprintf(f, " They are all padding: every input %s is\n  still read.\n\n", row);
}

/* Rows (columns) by how many windows read them, runs of equal counts and
 * reasons written as ranges. */
static void unread(FILE *f, const explain_t *e, int vertical)
{
    int in = vertical ? e->p.h : e->p.w;
    const char *rows = vertical ? "rows" : "columns";
    int any = 0, twice = 0;
    for (int h = 0; h < in;) {
        int end = h;
        const char *why = explain_windows_reading(e, vertical, h) ? NULL : explain_unread_reason(e, vertical, h);
        while (why && end + 1 < in && !explain_windows_reading(e, vertical, end + 1) &&
               !strcmp(why, explain_unread_reason(e, vertical, end + 1)))
            end++;
        if (why && any == 12) {
            fprintf(f, "    ... (--json lists them all)\n");
            any++;
        } else if (why && any < 12) {
            if (!any++) fprintf(f, "  Input %s with a zero gradient (no window reads them):\n", rows);
            if (end > h) fprintf(f, "    %d..%d: %s\n", h, end, why);
            else fprintf(f, "    %d: %s\n", h, why);
        }
        h = end + 1;
    }
    if (!any) fprintf(f, "  Every input %s is read by at least one window: none gets a zero gradient.\n",
                      vertical ? "row" : "column");
    for (int h = 0; h < in;) {
        int n = explain_windows_reading(e, vertical, h), end = h;
        while (end + 1 < in && explain_windows_reading(e, vertical, end + 1) == n) end++;
        if (n > 1 && twice == 12) {
            fprintf(f, ", ...");
            twice++;
        } else if (n > 1 && twice < 12) {
            if (twice++) fputc(',', f);
            else fprintf(f, "  Input %s read by more than one window (their gradients add up):", rows);
            if (end > h) fprintf(f, " %d..%d (%dx)", h, end, n);
            else fprintf(f, " %d (%dx)", h, n);
        }
        h = end + 1;
    }
    if (twice) fputc('\n', f);
}

/* "2g", or "g" for a coefficient of 1. */
static void scaled(char *buf, size_t len, int coeff, const char *var)
{
    if (coeff == 1) snprintf(buf, len, "%s", var);
    else snprintf(buf, len, "%d%s", coeff, var);
}

/* "3" or "2..5". */
static void range(FILE *f, int a, int b)
{
    if (a == b) fprintf(f, "%d", a);
    else fprintf(f, "%d..%d", a, b);
}

static void groups(FILE *f, const explain_t *e)
{
    int G = e->p.groups;
    if (G == 1) {
        fprintf(f, "  groups = 1: every filter reads all %d channels; channel c' of a filter is channel c.\n", e->p.c);
        return;
    }
    char gc[32];
    scaled(gc, sizeof gc, e->cg, "g");
    fprintf(f, "  groups = %d: Cg = C/G = %d channel(s) and Kg = K/G = %d filter(s) per group; filter k is\n"
            "  in group g = k div %d and reads ", G, e->cg, e->kg, e->kg);
    if (e->cg == 1) fprintf(f, "channel %s:\n", gc);
    else fprintf(f, "channels %s .. %s + %d:\n", gc, gc, e->cg - 1);
    for (int g = 0; g < G && g < 8; g++) {
        fprintf(f, "    group %d: filter%s ", g, e->kg > 1 ? "s" : "");
        range(f, g * e->kg, (g + 1) * e->kg - 1);
        fprintf(f, " read%s channel%s ", e->kg > 1 ? "" : "s", e->cg > 1 ? "s" : "");
        range(f, g * e->cg, (g + 1) * e->cg - 1);
        fputc('\n', f);
    }
    if (G > 8) fprintf(f, "    ... (%d groups in all)\n", G);
}

static void equations(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    char ih[64], iw[64], qh[64], qw[64], ch[64];
    explain_index(ih, sizeof ih, p->stride_h, "p", p->dilation_h, "r", p->pad_top);
    explain_index(iw, sizeof iw, p->stride_w, "q", p->dilation_w, "s", p->pad_left);
    explain_quotient(qh, sizeof qh, "i", p->pad_top, p->dilation_h, "r", p->stride_h);
    explain_quotient(qw, sizeof qw, "j", p->pad_left, p->dilation_w, "s", p->stride_w);
    char gc[32], gk[64] = "", kg[32];
    scaled(gc, sizeof gc, e->cg, "g");
    scaled(kg, sizeof kg, e->kg, "g");
    if (p->groups == 1) snprintf(ch, sizeof ch, "c'");
    else snprintf(ch, sizeof ch, "%s + c'", gc);
    if (p->groups > 1) snprintf(gk, sizeof gk, ", g = k div %d", e->kg);
    fprintf(f, "3. The equations of docs/backprop.md for this layer\n\n");
    fprintf(f, "(1) forward\n  y[n,k,p,q] = %ssum_{c'<%d} sum_{r<%d} sum_{s<%d} w[k,c',r,s] * x[n, %s, %s, %s]%s\n",
            e->bias ? "b[k] + " : "", e->cg, p->r, p->s, ch, ih, iw, gk);
    fprintf(f, "  with x = 0 outside 0 <= i < %d, 0 <= j < %d (the padding).\n", p->h, p->w);
    groups(f, e);

    fprintf(f, "\n(2) input gradient (gather form)\n");
    if (p->groups == 1)
        fprintf(f, "  dx[n,c,i,j] = sum_{k<%d} sum_{r<%d} sum_{s<%d} w[k,c,r,s] * dy[n, k, %s, %s]\n", p->k, p->r,
                p->s, qh, qw);
    else
        fprintf(f, "  dx[n,c,i,j] = sum_{k=%s}^{%s+%d} sum_{r<%d} sum_{s<%d} w[k,c',r,s] * dy[n, k, %s, %s]\n"
                "  with g = c div %d, c' = c - %s: only the %d filter(s) of c's group read channel c\n",
                kg, kg, e->kg - 1, p->r, p->s, qh, qw, e->cg, gc, e->kg);
    fprintf(f, "  over the taps (r,s) whose dy row %s and column %s are whole numbers\n"
            "  with 0 <= p < %d and 0 <= q < %d.\n", qh, qw, e->P, e->Q);
    int pads[4];
    explain_delta_pads(e, pads);
    int hd = (e->P - 1) * p->stride_h + 1, wd = (e->Q - 1) * p->stride_w + 1;
    fprintf(f, "  The same as a full correlation:\n");
    if (p->stride_h > 1 || p->stride_w > 1)
        fprintf(f, "  - zero insertion: %d zero rows between dy's rows and %d zero columns between its columns\n"
                "    turn each %d x %d map of dy into a %d x %d map D (the stride's divisibility test);\n",
                p->stride_h - 1, p->stride_w - 1, e->P, e->Q, hd, wd);
    else fprintf(f, "  - stride 1: no zeros to insert, D = dy (%d x %d);\n", hd, wd);
    fprintf(f, "  - D padded by top (R-1)*dil_h - pt = %d, bottom (R-1)*dil_h - pb + rem_h = %d,\n"
            "    left (S-1)*dil_w - pl = %d, right (S-1)*dil_w - pr + rem_w = %d (negative: cropped): %d x %d;\n",
            pads[0], pads[1], pads[2], pads[3], hd + pads[0] + pads[1], wd + pads[2] + pads[3]);
    fprintf(f, "  - correlated at stride 1, dilation %dx%d, with the kernel flipped 180 degrees and its\n"
            "    filter and channel axes swapped: w'[c,k',r,s] = w[%sk', %s, %d-r, %d-s],\n"
            "    C x Kg = %d x %d kernels of %d x %d; the result is H x W = %d x %d.\n",
            p->dilation_h, p->dilation_w, p->groups == 1 ? "" : "g*Kg + ", p->groups == 1 ? "c" : "c'",
            p->r - 1, p->s - 1, p->c, e->kg, p->r, p->s, p->h, p->w);
    unread(f, e, 1);
    unread(f, e, 0);
    fprintf(f, "  dx is written everywhere, zeros included (overwritten, not accumulated).\n");

    fprintf(f, "\n(3) weight gradient\n  dw[k,c',r,s] = sum_{n<%d} sum_{p<%d} sum_{q<%d} dy[n,k,p,q] * x[n, %s, %s, %s]\n",
            p->n, e->P, e->Q, ch, ih, iw);
    fprintf(f, "  N*P*Q = %lld terms for each of the K*Cg*R*S = %lld weights (terms in the padding are 0):\n"
            "  summed over what the weight is shared by (samples, positions), not over channels.\n",
            (long long)p->n * e->P * e->Q, (long long)explain_count_w(e));
    if (e->bias)
        fprintf(f, "\n(4) bias gradient\n  db[k] = sum_{n<%d} sum_{p<%d} sum_{q<%d} dy[n,k,p,q]   (%lld terms each)\n",
                p->n, e->P, e->Q, (long long)p->n * e->P * e->Q);
    else fprintf(f, "\n(4) no bias: no db.\n");
    fputc('\n', f);
}

static void numbers(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    fprintf(f, "4. Example (seed %llu): small integers, computed by the reference implementation\n\n", e->seed);
    grid gx = {"x", "i", "j", e->x, p->c, p->h, p->w};
    print_grids(f, &gx, p->n * p->c);
    grid gw = {"w", "r", "s", e->w, e->cg, p->r, p->s};
    print_grids(f, &gw, p->k * e->cg);
    if (e->bias) print_vector(f, "b", e->b, p->k);
    grid gy = {"y", "p", "q", e->y, p->k, e->P, e->Q};
    print_grids(f, &gy, p->n * p->k);
    fprintf(f, "  dy, chosen for the example:\n\n");
    grid gdy = {"dy", "p", "q", e->dy, p->k, e->P, e->Q};
    print_grids(f, &gdy, p->n * p->k);
    grid gdx = {"dx", "i", "j", e->dx, p->c, p->h, p->w};
    print_grids(f, &gdx, p->n * p->c);
    grid gdw = {"dw", "r", "s", e->dw, e->cg, p->r, p->s};
    print_grids(f, &gdw, p->k * e->cg);
    if (e->bias) print_vector(f, "db", e->db, p->k);
}

#define AT(t, d1, d2, d3, a, b, c, d) (t)[((((int64_t)(a) * (d1) + (b)) * (d2) + (c)) * (d3)) + (d)]

/* "2p - 1": stride times the output index plus a constant. */
static void offset_index(char *buf, size_t len, int stride, const char *out, int off)
{
    int n = stride == 1 ? snprintf(buf, len, "%s", out) : snprintf(buf, len, "%d%s", stride, out);
    if (off && n >= 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, " %c %d", off < 0 ? '-' : '+', abs(off));
}

static void worked(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    int i[4];
    explain_pick_dx(e, i);
    int n = i[0], c = i[1], h = i[2], w = i[3], g = c / e->cg, cc = c - g * e->cg;
    fprintf(f, "5. Entries worked out term by term\n\n");
    char hs[16], ws[16], qh[64], qw[64];
    snprintf(hs, sizeof hs, "%d", h);
    snprintf(ws, sizeof ws, "%d", w);
    explain_quotient(qh, sizeof qh, hs, p->pad_top, p->dilation_h, "r", p->stride_h);
    explain_quotient(qw, sizeof qw, ws, p->pad_left, p->dilation_w, "s", p->stride_w);
    fprintf(f, "  dx[%d,%d,%d,%d] (2): filters %d..%d; the taps (r,s) with p = %s and q = %s\n"
            "  whole and in range:\n", n, c, h, w, g * e->kg, (g + 1) * e->kg - 1, qh, qw);
    double total = 0;
    int listed = 0;
    for (int k = g * e->kg; k < (g + 1) * e->kg; k++) {
        double sum = 0;
        int terms = 0;
        char line[4096] = "", vals[2048] = "";
        int len = 0, vlen = 0;
        for (int r = 0; r < p->r; r++)
            for (int s = 0; s < p->s; s++) {
                int ph = h + p->pad_top - r * p->dilation_h, qw = w + p->pad_left - s * p->dilation_w;
                if (ph < 0 || qw < 0 || ph % p->stride_h || qw % p->stride_w) continue;
                int pp = ph / p->stride_h, q = qw / p->stride_w;
                if (pp >= e->P || q >= e->Q) continue;
                float a = AT(e->w, e->cg, p->r, p->s, k, cc, r, s), b = AT(e->dy, p->k, e->P, e->Q, n, k, pp, q);
                sum += (double)a * b;
                if (terms++ < 12) {
                    len += snprintf(line + len, sizeof line - (size_t)len, "%s w[%d,%d,%d,%d]dy[%d,%d,%d,%d]",
                                    terms > 1 ? " +" : "", k, cc, r, s, n, k, pp, q);
                    vlen += snprintf(vals + vlen, sizeof vals - (size_t)vlen, "%s(%g)(%g)", terms > 1 ? " + " : "",
                                     (double)a, (double)b);
                }
            }
        total += sum;
        if (listed++ < 8)
        {
            if (!terms) fprintf(f, "    k=%d: no tap reaches it: 0\n", k);
            else fprintf(f, "    k=%d:%s%s\n         = %s%s = %g\n", k, line, terms > 12 ? " + ..." : "", vals,
                         terms > 12 ? " + ..." : "", sum);
        }
    }
    if (listed > 8) fprintf(f, "    ... (%d filters in all)\n", listed);
    fprintf(f, "    dx[%d,%d,%d,%d] = %g (the reference: %g)\n\n", n, c, h, w, total,
            (double)AT(e->dx, p->c, p->h, p->w, n, c, h, w));

    explain_pick_dw(e, i);
    int k = i[0], r = i[2], s = i[3];
    cc = i[1];
    g = k / e->kg;
    c = g * e->cg + cc;
    char xh[64], xw[64];
    offset_index(xh, sizeof xh, p->stride_h, "p", r * p->dilation_h - p->pad_top);
    offset_index(xw, sizeof xw, p->stride_w, "q", s * p->dilation_w - p->pad_left);
    fprintf(f, "  dw[%d,%d,%d,%d] (3): dy[n,%d,p,q] * x[n,%d,%s,%s] over n, p, q (x in the padding is 0):\n   ",
            k, cc, r, s, k, c, xh, xw);
    total = 0;
    int terms = 0, padded = 0;
    for (n = 0; n < p->n; n++)
        for (int pp = 0; pp < e->P; pp++)
            for (int q = 0; q < e->Q; q++) {
                int hh = pp * p->stride_h + r * p->dilation_h - p->pad_top;
                int ww = q * p->stride_w + s * p->dilation_w - p->pad_left;
                if (hh < 0 || hh >= p->h || ww < 0 || ww >= p->w) { padded++; continue; }
                float a = AT(e->dy, p->k, e->P, e->Q, n, k, pp, q), b = explain_x_at(e, n, c, hh, ww);
                total += (double)a * b;
                if (terms++ < MAX_TERMS) fprintf(f, "%s (%g)(%g)", terms > 1 ? " +" : "", (double)a, (double)b);
            }
    if (terms > MAX_TERMS) fprintf(f, " + ... (%d terms)", terms);
    if (!terms) fprintf(f, " no term");
    fprintf(f, "\n    = %g (the reference: %g)", total, (double)AT(e->dw, e->cg, p->r, p->s, k, cc, r, s));
    if (padded) fprintf(f, "; %d of the %d terms read padding and add 0", padded, p->n * e->P * e->Q);
    fprintf(f, "\n\n");

    if (e->bias) {
        fprintf(f, "  db[0] (4): the sum of dy[n,0,p,q] over n, p, q:\n   ");
        total = 0;
        terms = 0;
        for (n = 0; n < p->n; n++)
            for (int j = 0; j < e->P * e->Q; j++) {
                float a = e->dy[((int64_t)n * p->k) * e->P * e->Q + j];
                total += a;
                if (terms++ < MAX_TERMS) fprintf(f, "%s %g", terms > 1 ? " +" : "", (double)a);
            }
        if (terms > MAX_TERMS) fprintf(f, " + ... (%d terms)", terms);
        fprintf(f, " = %g (the reference: %g)\n\n", total, (double)e->db[0]);
    }
}

static void macs(FILE *f, const explain_t *e)
{
    explain_macs m = explain_count_macs(e);
    fprintf(f, "6. Multiply-adds (N*K*P*Q*Cg*R*S for each pass, as im2col + GEMM computes them)\n\n");
    fprintf(f, "  forward (1)             %.0f\n", m.forward);
    fprintf(f, "  input gradient (2)      %.0f   (as the zero-inserted full correlation: %.0f)\n",
            m.backward_data, m.dx_full_correlation);
    fprintf(f, "  weight gradient (3)     %.0f\n", m.backward_weights);
    if (e->bias) fprintf(f, "  bias: additions         %.0f in (1), %.0f in (4)\n", m.bias_adds, m.bias_adds);
    fprintf(f, "  products with a real (not padded) input: %.0f in each of (1), (2), (3)\n", m.real_products);
}

int explain_write_text(FILE *f, const explain_t *e)
{
    header(f, e);
    shapes(f, e);
    fprintf(f, "2. Output size\n\n");
    output_size(f, e, 1);
    output_size(f, e, 0);
    equations(f, e);
    if (e->printable) {
        numbers(f, e);
        worked(f, e);
    } else {
        fprintf(f, "4. Example: not printed: this layer is too large to show as grids (at most %s).\n"
                "  --json writes every tensor%s.\n\n", "N*C and N*K 8 maps of 12 x 12, 16 kernels of 7 x 7",
                e->numbers ? "" : " for smaller layers (this one is too large to compute by the plain loops)");
    }
    macs(f, e);
    return ferror(f) ? -1 : 0;
}
