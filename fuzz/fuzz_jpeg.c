/* fuzz_jpeg.c - image decoding as ccnn predict does it, on jpeg input (the
 * corpus is of that format; the decoder is chosen by the first bytes, so
 * mutations may reach the others too). Two channel counts, two sizes. */
#include "fuzz.h"
#include "image/image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
