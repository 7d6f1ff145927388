/* image.c - ccnn_image_load: tells the format by the first bytes and runs
 * its decoder (png.c, jpeg.c, pnm.c) into the resizing sink (resize.c). */
#include "image_internal.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int ccnn_image_load_stream(FILE *f, const char *name, int c, int h, int w, uint64_t max_pixels,
                           uint8_t *out, ccnn_image_info *info, char *err, size_t errlen)
{
    if (!f || !name || !out || h <= 0 || w <= 0 || (uint64_t)c * h * w > ((uint64_t)1 << 31))
        return ccnn_errf(err, errlen, CCNN_EINVAL, "%s: invalid arguments", name ? name : "(image)");
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    if (fseek(f, 0, SEEK_SET))
        return ccnn_errf(err, errlen, CCNN_EIO, "%s: cannot seek in the file: %s", name, strerror(errno));
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int (*decode)(FILE *, img_sink *, char *, size_t) = NULL;
    if (n == 8 && !memcmp(sig, png_sig, 8)) decode = img_decode_png;
    else if (n >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) decode = img_decode_jpeg;
    else if (n >= 2 && sig[0] == 'P' && sig[1] >= '1' && sig[1] <= '6') decode = img_decode_pnm;
    else
        return ccnn_errf(err, errlen, CCNN_EFORMAT, "%s: not a PNG, JPEG or PBM/PGM/PPM file%s", name,
                         n < 2 ? " (empty or too short)" : "");
    img_sink s;
    memset(&s, 0, sizeof s);
    s.dc = c; s.dh = h; s.dw = w; s.max_pixels = max_pixels;
    ccnn_image_info local;
    s.info = info ? info : &local;
    char msg[256] = "";
    int rc = decode(f, &s, msg, sizeof msg);
    if (!rc && img_done(&s)) rc = ccnn_errf(msg, sizeof msg, CCNN_EFORMAT, "truncated image data");
    if (rc) ccnn_errf(err, errlen, rc, "%s: %s", name, msg);
    else memcpy(out, s.out, (size_t)c * h * w);
    img_sink_free(&s);
    return rc;
}

int ccnn_image_load(const char *path, int c, int h, int w, uint64_t max_pixels, uint8_t *out,
                    ccnn_image_info *info, char *err, size_t errlen)
{
    if (!path) return ccnn_errf(err, errlen, CCNN_EINVAL, "no image path");
    FILE *f = fopen(path, "rb");
    if (!f) return ccnn_errf(err, errlen, CCNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ccnn_errf(err, errlen, CCNN_EIO, "%s: is a directory, not an image", path);
    }
    int rc = ccnn_image_load_stream(f, path, c, h, w, max_pixels, out, info, err, errlen);
    fclose(f);
    return rc;
}
