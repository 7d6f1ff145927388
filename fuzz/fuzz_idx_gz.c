/* fuzz_idx_gz.c - IDX files gzip-compressed: see fuzz_idx.c. */
#define FUZZ_GZ 1
#include "fuzz_idx.c"
