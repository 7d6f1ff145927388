/* image_internal.h - the image decoders' common parts: each decoder reads
 * its header, calls img_begin (which checks the size against the limit and
 * the channels against the network's before anything large is allocated),
 * then hands decoded rows one by one to img_row, which converts channels
 * and resizes as the rows stream past (two source rows kept, never the
 * whole image). */
#ifndef CCNN_IMAGE_INTERNAL_H
#define CCNN_IMAGE_INTERNAL_H
#include "ccnn_internal.h"
#include <stdio.h>

typedef struct img_sink {
    /* the caller's request */
    int dc, dh, dw;
    uint64_t max_pixels;
    ccnn_image_info *info;
    /* set by img_begin */
    int sw, sh, sc;
    uint8_t *out;          /* dc x dh x dw, planar; copied to the caller's at the end */
    uint8_t *rows[2];      /* the last two source rows, converted to dc channels */
    int *x0, *x1;          /* per output column: the two source columns */
    float *wx;             /*   and the weight of x1 */
    int got, next_y;       /* source rows received, next output row */
} img_sink;

/* Checks w x h x channels against the limit and the network's channels,
 * fills the caller's info and allocates the row buffers (sizes in
 * the message on failure). */
int img_begin(img_sink *s, int w, int h, int channels, const char *format, char *err, size_t errlen);
/* One decoded row: sw x sc bytes, interleaved. */
void img_row(img_sink *s, const uint8_t *row);
/* 0 when every output row was produced. */
int img_done(const img_sink *s);
void img_sink_free(img_sink *s);

/* Decoders: f positioned at the start of the file. Messages do not name
 * the file (the caller prefixes it). */
int img_decode_png(FILE *f, img_sink *s, char *err, size_t errlen);
int img_decode_jpeg(FILE *f, img_sink *s, char *err, size_t errlen);
int img_decode_pnm(FILE *f, img_sink *s, char *err, size_t errlen);

/* The whole decode from an open stream (the fuzz harnesses call this on
 * fmemopen'ed bytes); `name` labels messages. Same contract as
 * ccnn_image_load. */
int ccnn_image_load_stream(FILE *f, const char *name, int c, int h, int w, uint64_t max_pixels,
                           uint8_t *out, ccnn_image_info *info, char *err, size_t errlen);
#endif
