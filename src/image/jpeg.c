/* jpeg.c - JPEG by libjpeg-turbo. Its default error handler exits the
 * process: ours longjmps back instead (buffers in a struct outside the
 * function that calls setjmp, as in png.c). A truncated file is an error,
 * not an image padded with gray; more than 1000 scans is refused (a known
 * way to make a tiny progressive file decode for minutes). */
#include "image_internal.h"
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCANS 1000

typedef struct jpeg_job {
    struct jpeg_error_mgr pub; /* first: libjpeg's err pointer is cast back to the job */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    FILE *f;
    img_sink *s;
    char *err;
    size_t errlen;
    uint8_t *row;
} jpeg_job;

static void on_error(j_common_ptr c)
{
    jpeg_job *j = (jpeg_job *)c->err;
    c->err->format_message(c, j->msg);
    longjmp(j->jb, 1);
}

static void on_message(j_common_ptr c, int level)
{
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_error(c); /* truncated */
    /* other warnings (e.g. extraneous bytes before a marker) are survivable */
}

static void on_progress(j_common_ptr c)
{
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_job *j = (jpeg_job *)c->err;
        snprintf(j->msg, sizeof j->msg, "more than %d scans", MAX_SCANS);
        longjmp(j->jb, 1);
    }
}

static int run(jpeg_job *j)
{
    j_decompress_ptr d = &j->cinfo;
    if (setjmp(j->jb)) return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "JPEG: %s", j->msg);
    jpeg_create_decompress(d);
    d->progress = &j->progress;
    jpeg_stdio_src(d, j->f);
    jpeg_read_header(d, TRUE);
    int ch;
    switch (d->jpeg_color_space) {
    case JCS_GRAYSCALE: d->out_color_space = JCS_GRAYSCALE; ch = 1; break;
    case JCS_YCbCr: case JCS_RGB: d->out_color_space = JCS_RGB; ch = 3; break;
    default:
        return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "JPEG: CMYK/YCCK colour (not supported)");
    }
    int rc = img_begin(j->s, (int)d->image_width, (int)d->image_height, ch, "JPEG", j->err, j->errlen);
    if (rc) return rc;
    jpeg_start_decompress(d);
    if ((int)d->output_width != j->s->sw || (int)d->output_height != j->s->sh || d->output_components != ch)
        return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "JPEG: unexpected output size");
    size_t rowbytes = (size_t)d->output_width * ch;
    if (!(j->row = malloc(rowbytes)))
        return ccnn_errf(j->err, j->errlen, CCNN_ENOMEM, "JPEG: out of memory allocating a row (%zu bytes)", rowbytes);
    while (d->output_scanline < d->output_height) {
        JSAMPROW r = j->row;
        if (jpeg_read_scanlines(d, &r, 1) != 1)
            return ccnn_errf(j->err, j->errlen, CCNN_EFORMAT, "JPEG: truncated");
        img_row(j->s, j->row);
    }
    return 0;
}

int img_decode_jpeg(FILE *f, img_sink *s, char *err, size_t errlen)
{
    jpeg_job *j = calloc(1, sizeof *j);
    if (!j) return ccnn_errf(err, errlen, CCNN_ENOMEM, "JPEG: out of memory creating the decoder");
    j->f = f; j->s = s; j->err = err; j->errlen = errlen;
    j->cinfo.err = jpeg_std_error(&j->pub);
    j->pub.error_exit = on_error;
    j->pub.emit_message = on_message;
    j->progress.progress_monitor = on_progress;
    int rc = run(j);
    jpeg_destroy_decompress(&j->cinfo);
    free(j->row);
    free(j);
    return rc;
}
