/* test_conv_params.c - output size and the rejection of bad parameters.
 * Every rejected call must return the code and write nothing. */
#include "conv_cases.h"
#include <limits.h>
#include <math.h>
#include <string.h>

static const ccnn_conv2d_params good = {2, 4, 9, 8, 6, 3, 3, 2, 1, 1, 0, 2, 1, 1, 2, 2};

CCNN_TEST(conv_output_size_formula)
{
    int P = -1, Q = -1;
    CHECK_RC(ccnn_conv2d_output_size(&good, &P, &Q), 0);
    /* (9+1+0-1*2-1)/2+1 = 4, (8+2+1-2*2-1)/1+1 = 7 */
    CHECK(P == 4 && Q == 7);
    ccnn_conv2d_params p = {1, 1, 28, 28, 1, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_RC(ccnn_conv2d_output_size(&p, &P, &Q), 0);
    CHECK(P == 24 && Q == 24);
    test_rng rng = {99};
    for (int i = 0; i < 200; i++) {
        ccnn_conv2d_params r = conv_case_random(&rng, 20, 4, 3);
        CHECK_RC(ccnn_conv2d_output_size(&r, &P, &Q), 0);
        CHECK(conv_y_count(&r) == (size_t)r.n * r.k * P * Q);
    }
}

/* Calls all four entry points (and the reference ones) with p and checks each
 * returns `want` and leaves the outputs untouched. */
static void expect_rejected(const ccnn_conv2d_params *p, int want, const char *what)
{
    enum { BIG = 4096 };
    static float in[BIG], out[BIG], out2[BIG];
    for (int i = 0; i < BIG; i++) { in[i] = 1; out[i] = 42; out2[i] = 43; }
    int P = 7, Q = 7;
    int rc = ccnn_conv2d_output_size(p, &P, &Q);
    CHECK_MSG(rc == want && P == 7 && Q == 7, "%s: output_size rc %d", what, rc);
    for (int ref = 0; ref < 2; ref++) {
        int r1 = ref ? ccnn_conv2d_forward_ref(p, in, in, in, out) : ccnn_conv2d_forward(p, in, in, in, out);
        int r2 = ref ? ccnn_conv2d_backward_data_ref(p, in, in, out) : ccnn_conv2d_backward_data(p, in, in, out);
        int r3 = ref ? ccnn_conv2d_backward_weights_ref(p, in, in, out, out2)
                     : ccnn_conv2d_backward_weights(p, in, in, out, out2);
        CHECK_MSG(r1 == want && r2 == want && r3 == want, "%s (ref=%d): rc %d %d %d, want %d",
                  what, ref, r1, r2, r3, want);
    }
    int untouched = 1;
    for (int i = 0; i < BIG; i++) untouched &= out[i] == 42 && out2[i] == 43;
    CHECK_MSG(untouched, "%s: an output was written", what);
}

CCNN_TEST(conv_rejects_bad_params)
{
    struct { const char *what; int field; int value; } bad[] = {
        {"n = 0", 0, 0}, {"c < 0", 1, -1}, {"h = 0", 2, 0}, {"w < 0", 3, -5}, {"k = 0", 4, 0},
        {"r < 0", 5, -3}, {"s = 0", 6, 0}, {"stride_h < 0", 7, -1}, {"stride_w < 0", 8, -2},
        {"pad_top < 0", 9, -1}, {"pad_bottom < 0", 10, -1}, {"pad_left < 0", 11, -1},
        {"pad_right < 0", 12, -1}, {"dilation_h < 0", 13, -1}, {"dilation_w < 0", 14, -1},
        {"groups < 0", 15, -2}, {"groups not dividing C", 15, 3}, {"groups not dividing K", 15, 4},
        {"kernel taller than padded input", 5, 12}, {"kernel wider than padded input", 6, 13},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccnn_conv2d_params p = good;
        int *f = &p.n;
        f[bad[i].field] = bad[i].value;
        if (i == 17) p.c = 8; /* 4 divides C = 8 but not K = 6 */
        expect_rejected(&p, CCNN_EINVAL, bad[i].what);
    }
    /* dilation makes the kernel span 2*(3-1)+1 = 5 > 3 + 1 padded columns */
    ccnn_conv2d_params p = {1, 1, 8, 3, 1, 3, 3, 1, 1, 0, 0, 1, 0, 1, 2, 1};
    expect_rejected(&p, CCNN_EINVAL, "dilated kernel wider than padded input");
    expect_rejected(NULL, CCNN_EINVAL, "NULL params");
}

CCNN_TEST(conv_rejects_overflow)
{
    /* 2^31-1 x 2^31-1 x ... element counts do not fit */
    ccnn_conv2d_params p = {INT_MAX, INT_MAX, 4, 4, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_rejected(&p, CCNN_EOVERFLOW, "N*C*H*W overflows");
    ccnn_conv2d_params q = {1, 1, 1, 1, 1, 1, 1, 0, 0, INT_MAX, INT_MAX, INT_MAX, INT_MAX, 0, 0, 0};
    /* padding alone makes P*Q huge: 2^32 x 2^32 positions */
    expect_rejected(&q, CCNN_EOVERFLOW, "padding makes P*Q overflow");
    ccnn_conv2d_params s = {1, 1, INT_MAX, 1, 1, INT_MAX, 1, 0, 0, 0, 0, 0, 0, INT_MAX, 0, 0};
    expect_rejected(&s, CCNN_EINVAL, "dilation*(R-1) beyond int range");
}

CCNN_TEST(conv_rejects_null_pointers)
{
    float a[4096], y[4096];
    for (int i = 0; i < 4096; i++) { a[i] = 1; y[i] = 42; }
    for (int ref = 0; ref < 2; ref++) {
        ccnn_conv_impl keep = ccnn_conv2d_get_impl();
        ccnn_conv2d_set_impl(ref ? CCNN_CONV_REF : CCNN_CONV_FAST);
        CHECK_RC(ccnn_conv2d_forward(&good, NULL, a, NULL, y), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_forward(&good, a, NULL, NULL, y), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_forward(&good, a, a, NULL, NULL), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_data(&good, NULL, a, y), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_data(&good, a, NULL, y), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_data(&good, a, a, NULL), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_weights(&good, NULL, a, y, NULL), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_weights(&good, a, NULL, y, NULL), CCNN_EINVAL);
        CHECK_RC(ccnn_conv2d_backward_weights(&good, a, a, NULL, y), CCNN_EINVAL);
        ccnn_conv2d_set_impl(keep);
    }
    int untouched = 1;
    for (int i = 0; i < 4096; i++) untouched &= y[i] == 42;
    CHECK(untouched);
    int P;
    CHECK_RC(ccnn_conv2d_output_size(&good, &P, NULL), CCNN_EINVAL);
}

CCNN_TEST(strerror_covers_codes)
{
    for (int c = CCNN_ELIMIT; c <= 0; c++) {
        const char *m = ccnn_strerror(c);
        CHECK(m && strlen(m) > 3 && strcmp(m, "unknown error code") != 0);
    }
    CHECK(strcmp(ccnn_strerror(-1000), "unknown error code") == 0);
}
