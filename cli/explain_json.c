/* explain_json.c - `ccnn explain --json`: the configuration, the derived
 * sizes and counts, and every tensor as a flat row-major array (NCHW for
 * x, y, dy, dx; KCRS for w, dw). tensors is null, with a note, when the
 * layer is too large to compute by the reference's plain loops. */
#include "explain.h"

static void array(FILE *f, const char *name, const float *a, int64_t n, int last)
{
    fprintf(f, "    \"%s\": ", name);
    if (!a) fprintf(f, "null");
    else {
        fputc('[', f);
        /* %.9g: any float read back is the same float */
        for (int64_t i = 0; i < n; i++) fprintf(f, "%s%.9g", i ? "," : "", (double)a[i]);
        fputc(']', f);
    }
    fprintf(f, "%s\n", last ? "" : ",");
}

static void ints(FILE *f, const int *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fputc(']', f);
}

/* Rows (vertical) or columns no window reads: their gradient is 0. */
static void unread(FILE *f, const explain_t *e, int vertical)
{
    int in = vertical ? e->p.h : e->p.w, first = 1;
    fputc('[', f);
    for (int h = 0; h < in; h++)
        if (!explain_windows_reading(e, vertical, h)) {
            fprintf(f, "%s%d", first ? "" : ", ", h);
            first = 0;
        }
    fputc(']', f);
}

int explain_write_json(FILE *f, const explain_t *e)
{
    const ccnn_conv2d_params *p = &e->p;
    int st[2] = {p->stride_h, p->stride_w}, pad[4] = {p->pad_top, p->pad_bottom, p->pad_left, p->pad_right};
    int dil[2] = {p->dilation_h, p->dilation_w}, dpad[4];
    explain_delta_pads(e, dpad);
    fprintf(f, "{\n  \"config\": {\"n\": %d, \"c\": %d, \"h\": %d, \"w\": %d, \"k\": %d, \"r\": %d, \"s\": %d,\n",
            p->n, p->c, p->h, p->w, p->k, p->r, p->s);
    fprintf(f, "    \"stride\": ");
    ints(f, st, 2);
    fprintf(f, ", \"pad\": ");
    ints(f, pad, 4);
    fprintf(f, ", \"dilation\": ");
    ints(f, dil, 2);
    fprintf(f, ", \"groups\": %d, \"bias\": %s, \"seed\": %llu},\n", p->groups, e->bias ? "true" : "false", e->seed);
    fprintf(f, "  \"shapes\": {\"x\": [%d, %d, %d, %d], \"w\": [%d, %d, %d, %d], \"b\": ", p->n, p->c, p->h, p->w,
            p->k, e->cg, p->r, p->s);
    if (e->bias) fprintf(f, "[%d]", p->k);
    else fprintf(f, "null");
    fprintf(f, ", \"y\": [%d, %d, %d, %d]},\n", p->n, p->k, e->P, e->Q);
    fprintf(f, "  \"output\": {\"p\": %d, \"q\": %d, \"rem_h\": %d, \"rem_w\": %d},\n", e->P, e->Q, e->rem_h, e->rem_w);
    fprintf(f, "  \"zero_gradient\": {\"rows\": ");
    unread(f, e, 1);
    fprintf(f, ", \"columns\": ");
    unread(f, e, 0);
    fprintf(f, "},\n  \"delta\": {\"zero_inserted\": [%d, %d], \"pad\": ", (e->P - 1) * p->stride_h + 1,
            (e->Q - 1) * p->stride_w + 1);
    ints(f, dpad, 4);
    explain_macs m = explain_count_macs(e);
    fprintf(f, "},\n  \"macs\": {\"forward\": %.0f, \"backward_data\": %.0f, \"backward_weights\": %.0f, "
            "\"bias_adds\": %.0f, \"real_products\": %.0f, \"dx_full_correlation\": %.0f},\n",
            m.forward, m.backward_data, m.backward_weights, m.bias_adds, m.real_products, m.dx_full_correlation);
    if (!e->numbers) {
        fprintf(f, "  \"tensors\": null,\n  \"note\": \"too large to compute with the reference's plain loops\"\n}\n");
        return ferror(f) ? -1 : 0;
    }
    fprintf(f, "  \"tensors\": {\n");
    array(f, "x", e->x, explain_count_x(e), 0);
    array(f, "w", e->w, explain_count_w(e), 0);
    array(f, "b", e->b, p->k, 0);
    array(f, "y", e->y, explain_count_y(e), 0);
    array(f, "dy", e->dy, explain_count_y(e), 0);
    array(f, "dx", e->dx, explain_count_x(e), 0);
    array(f, "dw", e->dw, explain_count_w(e), 0);
    array(f, "db", e->db, p->k, 1);
    fprintf(f, "  }\n}\n");
    return ferror(f) ? -1 : 0;
}
