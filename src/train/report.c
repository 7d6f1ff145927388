/* report.c - training reports: the metrics of every epoch as CSV, and a
 * self-contained HTML page (inline SVG, no scripts, no external files) with
 * plots of loss and accuracy per epoch and the confusion matrix. Both files
 * are written atomically. */
#include "io/atomic.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

int ccnn_report_write_csv(const char *path, const ccnn_epoch_stats *epochs, int n_epochs, char *err,
                          size_t errlen)
{
    if (!path || n_epochs < 0 || (n_epochs && !epochs))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_report_write_csv: invalid arguments");
    ccnn_atomic_file af;
    int rc = ccnn_atomic_open(&af, path, err, errlen);
    if (rc) return rc;
    fputs("epoch,loss,train_acc,test_acc,seconds,images_per_s,lr\n", af.f);
    for (int i = 0; i < n_epochs; i++) {
        const ccnn_epoch_stats *e = &epochs[i];
        fprintf(af.f, "%d,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g\n", e->epoch, e->loss, e->train_acc,
                e->test_acc, e->seconds, e->images_per_s, e->lr);
    }
    return ccnn_atomic_commit(&af, err, errlen);
}

/* ---- HTML ----------------------------------------------------------------- */

static void put_escaped(FILE *f, const char *s, size_t max)
{
    for (size_t i = 0; i < max && s[i]; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(s[i], f);
        }
    }
}

static void put_class(FILE *f, const char (*names)[CCNN_NAME_MAX], int i)
{
    if (names && names[i][0]) put_escaped(f, names[i], CCNN_NAME_MAX);
    else fprintf(f, "%d", i);
}

/* A 1/2/5 x 10^k step giving about `ticks` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int ticks)
{
    double raw = (hi - lo) / ticks, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

typedef struct series {
    const char *name, *color;
    size_t offset;                 /* of the double in ccnn_epoch_stats */
} series;

static double value(const ccnn_epoch_stats *e, size_t offset)
{
    double v;
    memcpy(&v, (const char *)e + offset, sizeof v);
    return v;
}

enum { PW = 640, PH = 310, ML = 64, MR = 16, MT = 28, MB = 44 };

/* An SVG line plot of the given series against the epoch number. */
static void plot(FILE *f, const char *ylabel, const ccnn_epoch_stats *e, int n, const series *s, int ns)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        xlo = fmin(xlo, e[i].epoch);
        xhi = fmax(xhi, e[i].epoch);
        for (int k = 0; k < ns; k++) {
            double v = value(&e[i], s[k].offset);
            if (isfinite(v)) {
                ylo = fmin(ylo, v);
                yhi = fmax(yhi, v);
            }
        }
    }
    if (!isfinite(ylo)) ylo = 0, yhi = 1;
    if (!(yhi > ylo)) { /* a flat line: some room around it */
        double d = fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 1;
        ylo -= d;
        yhi += d;
    }
    if (!(xhi > xlo)) xlo -= 1, xhi += 1;
    /* y: limits rounded out to the ticks; x: the epochs, ticks at whole numbers */
    double ys = nice_step(ylo, yhi, 5), y0 = floor(ylo / ys) * ys, y1 = ceil(yhi / ys) * ys;
    double xs = fmax(1, nice_step(xlo, xhi, 8)), pad = (xhi - xlo) * 0.02;
    double x0 = xlo - pad, x1 = xhi + pad;
    const double w = PW - ML - MR, h = PH - MT - MB;
#define X(v) (ML + ((v) - x0) / (x1 - x0) * w)
#define Y(v) (MT + h - ((v) - y0) / (y1 - y0) * h)
    int dec = ys >= 1 ? 0 : (int)ceil(-log10(ys) - 1e-9);

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s per epoch\">\n",
            PW, PH, PW, PH, ylabel);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" fill=\"#fff\" stroke=\"#888\"/>\n",
            ML, MT, w, h);
    for (int k = 0, nk = (int)lround((y1 - y0) / ys); k <= nk; k++) {
        double v = y0 + k * ys;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.*f</text>\n",
                ML, Y(v), ML + w, Y(v), ML - 6, Y(v) + 4, dec, fabs(v) < ys * 1e-6 ? 0.0 : v);
    }
    for (double v = ceil(xlo / xs) * xs; v <= xhi + 1e-9; v += xs) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#888\"/>"
                   "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\" font-size=\"11\">%.0f</text>\n",
                X(v), MT + h, X(v), MT + h + 5, X(v), MT + h + 18, v);
    }
    fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n",
            ML + w / 2, PH - 6);
    fprintf(f, "<text transform=\"translate(14 %g) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"12\">%s</text>\n", MT + h / 2, ylabel);
    for (int k = 0; k < ns; k++) {
        /* one polyline per run of finite values; a dot at every point */
        int open = 0;
        for (int i = 0; i < n; i++) {
            double v = value(&e[i], s[k].offset);
            if (!isfinite(v)) {
                if (open) fputs("\"/>\n", f);
                open = 0;
                continue;
            }
            if (!open)
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s[k].color);
            fprintf(f, "%s%.1f,%.1f", open ? " " : "", X(e[i].epoch), Y(v));
            open = 1;
        }
        if (open) fputs("\"/>\n", f);
        for (int i = 0; i < n; i++) {
            double v = value(&e[i], s[k].offset);
            if (isfinite(v))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        X(e[i].epoch), Y(v), s[k].color);
        }
        /* legend, above the plot area on the right */
        double ly = MT - 10, lx = ML + w - 80 * (ns - k);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"3\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n",
                lx, ly - 4, s[k].color, lx + 22, ly, s[k].name);
    }
#undef X
#undef Y
    fputs("</svg>\n", f);
}

static void confusion_table(FILE *f, const int *cm, int n, const char (*names)[CCNN_NAME_MAX])
{
#define CM(i, j) cm[(size_t)(i) * (size_t)n + (size_t)(j)]
    fputs("<table class=\"cm\">\n<tr><th>true \\ predicted</th>", f);
    for (int j = 0; j < n; j++) {
        fputs("<th>", f);
        put_class(f, names, j);
        fputs("</th>", f);
    }
    fputs("<th>correct</th></tr>\n", f);
    for (int i = 0; i < n; i++) {
        double total = 0;
        for (int j = 0; j < n; j++) total += CM(i, j);
        fputs("<tr><th>", f);
        put_class(f, names, i);
        fputs("</th>", f);
        for (int j = 0; j < n; j++) {
            int c = CM(i, j);
            double frac = total > 0 && c > 0 ? c / total : 0, shade = sqrt(frac);
            /* shade by the share of the true class (square root, so that small
             * confusions show): blue on the diagonal, red off it */
            fprintf(f, "<td class=\"cell\" style=\"background:rgba(%s,%.3f);color:%s\" title=\"",
                    i == j ? "31,119,180" : "214,39,40", shade, shade > 0.6 ? "#fff" : "#000");
            put_class(f, names, i);
            fputs(" predicted as ", f);
            put_class(f, names, j);
            fprintf(f, ": %.1f%%\">%d</td>", 100 * frac, c);
        }
        if (total > 0) fprintf(f, "<td>%.1f%%</td></tr>\n", 100 * CM(i, i) / total);
        else fputs("<td>-</td></tr>\n", f);
    }
    fputs("</table>\n", f);
#undef CM
}

int ccnn_report_write_html(const char *path, const char *title, const ccnn_epoch_stats *epochs,
                           int n_epochs, const int *confusion, int n_classes,
                           const char (*class_names)[CCNN_NAME_MAX], char *err, size_t errlen)
{
    if (!path || n_epochs < 0 || (n_epochs && !epochs) || n_classes < 0)
        return ccnn_errf(err, errlen, CCNN_EINVAL, "ccnn_report_write_html: invalid arguments");
    if (!title) title = "ccnn training report";
    ccnn_atomic_file af;
    int rc = ccnn_atomic_open(&af, path, err, errlen);
    if (rc) return rc;
    FILE *f = af.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    put_escaped(f, title, (size_t)-1);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
          "table.cm td{min-width:3em;text-align:center}\n"
          "svg{display:block;margin:1em 0}\n"
          "</style>\n</head>\n<body>\n<h1>", f);
    put_escaped(f, title, (size_t)-1);
    fputs("</h1>\n", f);

    if (n_epochs > 0) {
        static const series loss[] = {{"loss", "#1f77b4", offsetof(ccnn_epoch_stats, loss)}};
        static const series acc[] = {{"train", "#1f77b4", offsetof(ccnn_epoch_stats, train_acc)},
                                     {"test", "#ff7f0e", offsetof(ccnn_epoch_stats, test_acc)}};
        const ccnn_epoch_stats *last = &epochs[n_epochs - 1];
        fprintf(f, "<p>%d epochs; last: loss %.4f, train accuracy %.4f, test accuracy %.4f.</p>\n",
                n_epochs, last->loss, last->train_acc, last->test_acc);
        fputs("<h2>Loss</h2>\n", f);
        plot(f, "loss", epochs, n_epochs, loss, 1);
        fputs("<h2>Accuracy</h2>\n", f);
        plot(f, "accuracy", epochs, n_epochs, acc, 2);
        fputs("<h2>Epochs</h2>\n<table>\n<tr><th>epoch</th><th>loss</th><th>train acc</th>"
              "<th>test acc</th><th>seconds</th><th>images/s</th><th>lr</th></tr>\n", f);
        for (int i = 0; i < n_epochs; i++) {
            const ccnn_epoch_stats *e = &epochs[i];
            fprintf(f, "<tr><td>%d</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.1f</td>"
                       "<td>%.0f</td><td>%.3g</td></tr>\n", e->epoch, e->loss, e->train_acc,
                    e->test_acc, e->seconds, e->images_per_s, e->lr);
        }
        fputs("</table>\n", f);
    } else {
        fputs("<p>No epochs recorded.</p>\n", f);
    }
    if (confusion && n_classes > 0) {
        fputs("<h2>Confusion matrix</h2>\n", f);
        confusion_table(f, confusion, n_classes, class_names);
    }
    fputs("</body>\n</html>\n", f);
    return ccnn_atomic_commit(&af, err, errlen);
}
