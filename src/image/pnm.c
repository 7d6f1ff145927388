/* pnm.c - PBM/PGM/PPM (P1-P6), read row by row. Header numbers are parsed
 * digit by digit with a bound, sample values checked against maxval. */
#include "image_internal.h"
#include <stdlib.h>
#include <string.h>

/* Skips whitespace and # comments; returns the next byte (EOF at the end). */
static int next_token_char(FILE *f)
{
    int ch;
    for (;;) {
        ch = getc(f);
        if (ch == '#') {
            while ((ch = getc(f)) != EOF && ch != '\n' && ch != '\r') {}
            if (ch == EOF) return EOF;
        } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\v' && ch != '\f') {
            return ch;
        }
    }
}

/* A decimal number 0..max; the byte after it is consumed (a separator).
 * Returns 0, or -1 for no digits or a number over max. */
static int read_uint(FILE *f, long max, long *out)
{
    int ch = next_token_char(f);
    if (ch < '0' || ch > '9') return -1;
    long v = 0;
    for (; ch >= '0' && ch <= '9'; ch = getc(f)) {
        v = v * 10 + (ch - '0');
        if (v > max) return -1;
    }
    if (ch != EOF && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\v' && ch != '\f' && ch != '#')
        return -1;
    if (ch == '#') ungetc(ch, f);
    *out = v;
    return 0;
}

int img_decode_pnm(FILE *f, img_sink *s, char *err, size_t errlen)
{
    char magic[2];
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] < '1' || magic[1] > '6')
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "PNM: bad magic number");
    int kind = magic[1] - '0';               /* 1,4 bitmap; 2,5 gray; 3,6 RGB */
    int ascii = kind <= 3, ch = (kind == 3 || kind == 6) ? 3 : 1, bitmap = kind == 1 || kind == 4;
    long w, h, maxval = 1;
    if (read_uint(f, 0x7fffffff, &w) || read_uint(f, 0x7fffffff, &h) ||
        (!bitmap && read_uint(f, 65535, &maxval)))
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "PNM: bad header (width, height, maxval up to 65535)");
    if (maxval < 1) return ccnn_errf(err, errlen, CCNN_EFORMAT, "PNM: maxval 0");
    int rc = img_begin(s, (int)w, (int)h, ch, "PNM", err, errlen);
    if (rc) return rc;
    int bytes = maxval > 255 ? 2 : 1;
    size_t raw_len = bitmap ? ((size_t)w + 7) / 8 : (size_t)w * ch * bytes;
    uint8_t *raw = ascii ? NULL : malloc(raw_len), *row = malloc((size_t)w * ch);
    if ((!ascii && !raw) || !row) {
        free(raw); free(row);
        return ccnn_errf(err, errlen, CCNN_ENOMEM, "PNM: out of memory allocating a row (%zu bytes)", raw_len);
    }
    size_t n = (size_t)w * ch;
    for (long y = 0; y < h && !rc; y++) {
        if (!ascii && fread(raw, 1, raw_len, f) != raw_len) {
            rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "PNM: truncated at row %ld of %ld", y, h);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            long v;
            if (kind == 4) v = !((raw[i / 8] >> (7 - i % 8)) & 1);      /* 1 is black */
            else if (kind == 1) {
                int c = next_token_char(f);                              /* digits need no spaces */
                if (c != '0' && c != '1') { rc = -1; break; }
                v = c == '0';
            } else if (ascii) {
                if (read_uint(f, maxval, &v)) { rc = -1; break; }
            } else {
                v = bytes == 2 ? (raw[2 * i] << 8 | raw[2 * i + 1]) : raw[i];
                if (v > maxval) { rc = -1; break; }
            }
            row[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
        }
        if (rc) {
            rc = ccnn_errf(err, errlen, CCNN_EFORMAT, "PNM: bad or missing sample in row %ld (values 0..%ld)", y, maxval);
            break;
        }
        img_row(s, row);
    }
    free(raw);
    free(row);
    return rc;
}
