/* fuzz_image.h - the body of the image harnesses (fuzz_png.c, fuzz_jpeg.c,
 * fuzz_pnm.c): image decoding as ccnn predict does it. The harnesses differ
 * only in their corpus (the decoder is chosen by the first bytes, so
 * mutations may reach the other decoders too). Two channel counts, two
 * sizes. */
#ifndef CCNN_FUZZ_IMAGE_H
#define CCNN_FUZZ_IMAGE_H
#include "fuzz.h"
#include "image/image_internal.h"

static int fuzz_image(const uint8_t *data, size_t size)
{
    fuzz_limits();
    static uint8_t out[4 * 40 * 40];
    char err[512];
    for (int k = 0; k < 2; k++) {
        FILE *f = fmemopen((void *)data, size ? size : 1, "rb");
        if (!f) return 0;
        if (!size) fseek(f, 1, SEEK_SET); /* fmemopen refuses size 0: an empty stream */
        ccnn_image_load_stream(f, "fuzz", k ? 4 : 1, k ? 40 : 28, k ? 17 : 28, (uint64_t)1 << 20, out, NULL, err,
                               sizeof err);
        fclose(f);
    }
    return 0;
}
#endif
