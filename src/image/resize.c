/* resize.c - channel conversion and bilinear resize of rows as a decoder
 * produces them. Output row y reads source rows y0 and y1 = y0 + 1 (or the
 * last row); both grow with y, so each output row can be made the moment
 * its y1 arrives, from the last two source rows. */
#include "image_internal.h"
#include <stdlib.h>
#include <string.h>

/* Source coordinate of output pixel i's centre, pixel centres aligned. */
static void src_pos(int i, int dn, int sn, int *p0, int *p1, float *wt)
{
    double f = (i + 0.5) * sn / dn - 0.5;
    int a = f < 0 ? 0 : (int)f;
    if (a > sn - 1) a = sn - 1;
    *p0 = a;
    *p1 = a + 1 < sn ? a + 1 : sn - 1;
    *wt = f - a < 0 ? 0.0f : (float)(f - a);
}

int img_begin(img_sink *s, int w, int h, int channels, const char *format, char *err, size_t errlen)
{
    if (w <= 0 || h <= 0)
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s image of %d x %d pixels (a zero size)", format, w, h);
    uint64_t limit = s->max_pixels ? s->max_pixels : CCNN_IMAGE_MAX_PIXELS;
    if ((uint64_t)w * (uint64_t)h > limit)
        return ccnn_errf(err, errlen, CCNN_ELIMIT,
                         "%s image of %d x %d = %llu pixels, over the limit of %llu pixels", format, w, h,
                         (unsigned long long)w * (unsigned long long)h, (unsigned long long)limit);
    if (channels < 1 || channels > 4)
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s image with %d channels", format, channels);
    if (s->dc < 1 || s->dc > 4)
        return ccnn_errf(err, errlen, CCNN_ESHAPE,
                         "the network takes %d channels; images give 1 (gray), 2 (gray+alpha), "
                         "3 (RGB) or 4 (RGBA)", s->dc);
    s->sw = w; s->sh = h; s->sc = channels;
    if (s->info) { s->info->w = w; s->info->h = h; s->info->channels = channels; s->info->format = format; }
    size_t row = (size_t)w * (size_t)s->dc, out = (size_t)s->dc * s->dh * s->dw;
    s->out = malloc(out);
    s->rows[0] = malloc(row);
    s->rows[1] = malloc(row);
    s->x0 = malloc((size_t)s->dw * sizeof(int));
    s->x1 = malloc((size_t)s->dw * sizeof(int));
    s->wx = malloc((size_t)s->dw * sizeof(float));
    if (!s->out || !s->rows[0] || !s->rows[1] || !s->x0 || !s->x1 || !s->wx)
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "out of memory allocating two image rows (%zu bytes each)", row);
    for (int x = 0; x < s->dw; x++) src_pos(x, s->dw, w, &s->x0[x], &s->x1[x], &s->wx[x]);
    return 0;
}

/* One source row into dc channels: gray from colour by the luma weights
 * 0.299/0.587/0.114 (in 1/256ths), colour from gray by repeating it. */
static void convert(const uint8_t *in, int sc, uint8_t *o, int dc, int w)
{
    for (int x = 0; x < w; x++, in += sc, o += dc) {
        int gray = sc >= 3 ? (77 * in[0] + 150 * in[1] + 29 * in[2] + 128) >> 8 : in[0];
        int alpha = sc == 2 ? in[1] : sc == 4 ? in[3] : 255;
        switch (dc) {
        case 1: o[0] = (uint8_t)gray; break;
        case 2: o[0] = (uint8_t)gray; o[1] = (uint8_t)alpha; break;
        default:
            if (sc >= 3) { o[0] = in[0]; o[1] = in[1]; o[2] = in[2]; }
            else o[0] = o[1] = o[2] = in[0];
            if (dc == 4) o[3] = (uint8_t)alpha;
        }
    }
}

void img_row(img_sink *s, const uint8_t *row)
{
    if (s->got >= s->sh) return;
    int y_src = s->got++;
    convert(row, s->sc, s->rows[y_src & 1], s->dc, s->sw);
    const int plane = s->dh * s->dw;
    for (; s->next_y < s->dh; s->next_y++) {
        int y0, y1;
        float wy;
        src_pos(s->next_y, s->dh, s->sh, &y0, &y1, &wy);
        if (y1 != y_src) break;
        const uint8_t *r0 = s->rows[y0 & 1], *r1 = s->rows[y1 & 1];
        uint8_t *o = s->out + (size_t)s->next_y * s->dw;
        for (int x = 0; x < s->dw; x++) {
            size_t a = (size_t)s->x0[x] * s->dc, b = (size_t)s->x1[x] * s->dc;
            float wx = s->wx[x];
            for (int c = 0; c < s->dc; c++) {
                float top = (1 - wx) * r0[a + c] + wx * r0[b + c];
                float bot = (1 - wx) * r1[a + c] + wx * r1[b + c];
                o[(size_t)c * plane + x] = (uint8_t)((1 - wy) * top + wy * bot + 0.5f);
            }
        }
    }
}

int img_done(const img_sink *s)
{
    return s->got == s->sh && s->next_y == s->dh ? 0 : -1;
}

void img_sink_free(img_sink *s)
{
    free(s->out); free(s->rows[0]); free(s->rows[1]);
    free(s->x0); free(s->x1); free(s->wx);
    memset(s, 0, sizeof *s);
}
