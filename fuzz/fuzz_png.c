/* fuzz_png.c - image decoding as ccnn predict does it, from a corpus of
 * png files (fuzz_image.h). */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_image(data, size); }
