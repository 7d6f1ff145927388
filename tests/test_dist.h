/* test_dist.h - what the data-parallel and stop tests share. */
#ifndef CCNN_TEST_DIST_H
#define CCNN_TEST_DIST_H
#include <stdint.h>

/* DIR/PREFIX-images-idx3-ubyte.gz and -labels-: n 28x28 images of 10
 * classes (a bright block whose place is the class, over noise);
 * `truncate`: the image file is cut short (a corrupt file). */
void test_dist_write_idx(const char *dir, const char *prefix, int n, uint64_t seed, int truncate);
#endif
