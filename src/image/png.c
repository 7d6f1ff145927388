/* png.c - PNG by libpng. libpng reports errors by longjmp: every buffer of
 * the decode lives in a struct outside the function that calls setjmp, so
 * nothing it needs after the jump is an automatic variable changed since. */
#include "image_internal.h"
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_job {
    FILE *f;
    img_sink *s;
    char *err;
    size_t errlen;
    char msg[200];
    png_structp png;
    png_infop info;
    uint8_t *row;           /* one row, or the whole image when interlaced */
    png_bytepp rows;        /* row pointers into it (interlaced) */
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png; (void)msg; /* benign (e.g. an unknown ancillary chunk): ignored */
}

static int run(png_job *j)
{
    if (setjmp(png_jmpbuf(j->png)))
        return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "PNG: %s", j->msg);
    png_init_io(j->png, j->f);
    /* Ancillary chunks may not make libpng hold much: text, ICC profiles... */
    png_set_chunk_cache_max(j->png, 256);
    png_set_chunk_malloc_max(j->png, 8u << 20);
    png_set_user_limits(j->png, 0x7fffffff, 0x7fffffff); /* the pixel limit below decides */
    /* Only the chunks that make pixels are read: text, ICC profiles and the
     * rest are skipped unread (fuzzing: a 200-byte file's zTXt chunk made
     * libpng ask for 2 GB). tRNS is kept: it is the alpha of some images. */
    static const png_byte trns[5] = {'t', 'R', 'N', 'S', 0};
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_AS_DEFAULT, trns, 1);
    png_read_info(j->png, j->info);
    png_uint_32 w = png_get_image_width(j->png, j->info), h = png_get_image_height(j->png, j->info);
    /* palette and low bit depths to 8 bits, tRNS to alpha, 16 bits to 8 */
    png_set_expand(j->png);
    png_set_strip_16(j->png);
    int passes = png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    int ch = png_get_channels(j->png, j->info);
    int rc = img_begin(j->s, (int)(w > 0x7fffffff ? 0x7fffffff : w), (int)(h > 0x7fffffff ? 0x7fffffff : h), ch,
                       "PNG", j->err, j->errlen);
    if (rc) return rc;
    size_t rowbytes = png_get_rowbytes(j->png, j->info);
    if (rowbytes != (size_t)w * ch) return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "PNG: unexpected row size");
    if (passes == 1) {
        if (!(j->row = malloc(rowbytes)))
            return ccnn_errf(j->err, j->errlen, CCNN_ENOMEM, "PNG: out of memory allocating a row (%zu bytes)", rowbytes);
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(j->png, j->row, NULL);
            img_row(j->s, j->row);
        }
    } else { /* interlaced: the passes fill the whole image before any row is final */
        j->row = malloc(rowbytes * h);
        j->rows = malloc(h * sizeof *j->rows);
        if (!j->row || !j->rows)
            return ccnn_errf(j->err, j->errlen, CCNN_ENOMEM,
                             "PNG: out of memory allocating an interlaced image (%zu bytes)", rowbytes * h);
        for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->row + rowbytes * y;
        png_read_image(j->png, j->rows);
        for (png_uint_32 y = 0; y < h; y++) img_row(j->s, j->rows[y]);
    }
    return 0;
}

int img_decode_png(FILE *f, img_sink *s, char *err, size_t errlen)
{
    png_job j;
    memset(&j, 0, sizeof j);
    j.f = f; j.s = s; j.err = err; j.errlen = errlen;
    j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, on_error, on_warning);
    if (!j.png || !(j.info = png_create_info_struct(j.png))) {
        png_destroy_read_struct(j.png ? &j.png : NULL, NULL, NULL);
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "PNG: out of memory creating the decoder");
    }
    int rc = run(&j);
    png_destroy_read_struct(&j.png, &j.info, NULL);
    free(j.row);
    free(j.rows);
    return rc;
}
