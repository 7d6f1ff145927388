/* augment.c - random crop after zero padding, and random horizontal flip,
 * in place on a normalised batch.
 *
 * Every image draws from its own counter-based hash (core/rng.h) of (seed,
 * step, image index in the batch) - no generator state - so the result
 * depends on nothing else: not on the thread count, nor on earlier calls,
 * nor on which process of a data-parallel run holds the image (its index
 * counts from the step's first image: `first` in ccnn_augment_at).
 *
 * Crop: the image is padded by `pad` zeros on every side (zero in the
 * normalised space, i.e. the value 0.0f) and an H x W window is taken at
 * offsets (oy, ox), each uniform in 0..2*pad; the same window for every
 * channel. So out[y][x] = in[y + oy - pad][x + ox - pad], or 0 outside.
 * Flip (if `flip`): with probability 1/2 the cropped image is mirrored,
 * out[y][x] = out[y][W-1-x]. pad <= 0 means no crop.
 */
#include "data_internal.h"
#include "core/rng.h"
#include <string.h>

#define AUGMENT_STREAM 0xa06e47u /* separates these draws from other users of the hash */
#define GOLDEN 0x9e3779b97f4a7c15ULL

/* Shifts one h x w plane in place: out[y][x] = in[y+sy][x+sx], 0 outside.
 * Rows are visited in the order that reads every source row before it is
 * overwritten; memmove handles the overlap within a row. */
static void shift_plane(float *p, int64_t h, int64_t w, int64_t sy, int64_t sx)
{
    int64_t xlo = sx < 0 ? -sx : 0, xhi = sx > 0 ? w - sx : w;
    if (xlo > w) xlo = w;
    if (xhi < xlo) xhi = xlo;
    for (int64_t k = 0; k < h; k++) {
        int64_t y = sy > 0 ? k : h - 1 - k;
        int64_t ys = y + sy;
        float *dst = p + y * w;
        if (ys < 0 || ys >= h || xhi == xlo) {
            memset(dst, 0, (size_t)w * sizeof *dst);
            continue;
        }
        memmove(dst + xlo, p + ys * w + xlo + sx, (size_t)(xhi - xlo) * sizeof *dst);
        memset(dst, 0, (size_t)xlo * sizeof *dst);
        memset(dst + xhi, 0, (size_t)(w - xhi) * sizeof *dst);
    }
}

static void flip_plane(float *p, int64_t h, int64_t w)
{
    for (int64_t y = 0; y < h; y++) {
        float *r = p + y * w;
        for (int64_t a = 0, b = w - 1; a < b; a++, b--) {
            float t = r[a];
            r[a] = r[b];
            r[b] = t;
        }
    }
}

int ccnn_augment(float *x, int count, int c, int h, int w, int pad, int flip,
                 uint64_t seed, uint64_t step)
{
    return ccnn_augment_at(x, count, c, h, w, pad, flip, seed, step, 0);
}

int ccnn_augment_at(float *x, int count, int c, int h, int w, int pad, int flip,
                    uint64_t seed, uint64_t step, int first)
{
    if (!x || count < 0 || c <= 0 || h <= 0 || w <= 0 || pad < 0 || first < 0) return CCNN_EINVAL;
    if (pad == 0 && !flip) return CCNN_OK;
    const uint64_t span = 2 * (uint64_t)pad + 1;
    const size_t hw = (size_t)h * (size_t)w, chw = (size_t)c * hw;
    const int par = (size_t)count * chw >= ((size_t)1 << 16);
    #pragma omp parallel for if (par) num_threads(ccnn_threads()) schedule(static)
    for (int i = 0; i < count; i++) {
        const uint64_t key = ccnn_hash3(seed, step, ((uint64_t)AUGMENT_STREAM << 32) ^ (uint64_t)(first + i));
        const int64_t sy = (int64_t)(ccnn_mix64(key + GOLDEN) % span) - pad;
        const int64_t sx = (int64_t)(ccnn_mix64(key + 2 * GOLDEN) % span) - pad;
        const int mirror = flip && (ccnn_mix64(key + 3 * GOLDEN) >> 63);
        float *img = x + (size_t)i * chw;
        for (int ch = 0; ch < c; ch++) {
            float *p = img + (size_t)ch * hw;
            if (sy != 0 || sx != 0) shift_plane(p, h, w, sy, sx);
            if (mirror) flip_plane(p, h, w);
        }
    }
    return CCNN_OK;
}
