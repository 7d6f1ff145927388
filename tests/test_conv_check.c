/* test_conv_check.c - ccnn_conv2d_check: its verdict and message for
 * hand-worked shapes (valid, each invalid kind, the edges), its agreement
 * with ccnn_conv2d_output_size on random parameters, and the conv layer
 * and the network-file parser reporting its words. */
#include "test.h"
#include <string.h>

typedef struct {
    ccnn_conv2d_params p;
    int rc;
    const char *msg; /* exact; NULL: any, not checked */
} check_case;

CCNN_TEST(conv_check_hand_cases)
{
    static const check_case cases[] = {
        /* 8x8, 3x3, pad 1: P = Q = (8+2-3)/1+1 = 8 */
        {{.n = 2, .c = 3, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
          .pad_right = 1}, CCNN_OK, ""},
        /* the kernel exactly as large as the padded input: span 2*(3-1)+1 = 5 = 4+1 rows, 3*(2-1)+1 = 4 cols */
        {{.n = 1, .c = 1, .h = 4, .w = 4, .k = 1, .r = 3, .s = 2, .dilation_h = 2, .dilation_w = 3, .pad_bottom = 1},
         CCNN_OK, ""},
        /* groups 2 divides C = 4 and K = 6 */
        {{.n = 1, .c = 4, .h = 5, .w = 5, .k = 6, .r = 1, .s = 1, .groups = 2}, CCNN_OK, ""},
        /* groups 2 and C = 3 */
        {{.n = 1, .c = 3, .h = 5, .w = 5, .k = 4, .r = 1, .s = 1, .groups = 2}, CCNN_ESHAPE,
         "groups=2 must divide the 3 input channels and the 4 filters"},
        /* groups 4 and K = 6 */
        {{.n = 1, .c = 8, .h = 5, .w = 5, .k = 6, .r = 1, .s = 1, .groups = 4}, CCNN_ESHAPE,
         "groups=4 must divide the 8 input channels and the 6 filters"},
        /* 9 rows of kernel on 8 rows (dilation 0 means 1, and says 1) */
        {{.n = 1, .c = 1, .h = 8, .w = 8, .k = 1, .r = 9, .s = 9}, CCNN_ESHAPE,
         "a 9x9 kernel (dilation 1,1) does not fit the 8x8 input with padding 0,0,0,0"},
        /* span 4*(3-1)+1 = 9 > 8+0 rows; the columns fit with padding 1,0 */
        {{.n = 1, .c = 1, .h = 8, .w = 8, .k = 1, .r = 3, .s = 3, .dilation_h = 4, .dilation_w = 1, .pad_left = 1},
         CCNN_ESHAPE, "a 3x3 kernel (dilation 4,1) does not fit the 8x8 input with padding 0,0,1,0"},
        /* one column short: span 5 > 3 + 1 */
        {{.n = 1, .c = 1, .h = 4, .w = 3, .k = 1, .r = 3, .s = 3, .dilation_w = 2, .pad_right = 1}, CCNN_ESHAPE,
         "a 3x3 kernel (dilation 1,2) does not fit the 4x3 input with padding 0,0,0,1"},
        {{.n = 0, .c = 1, .h = 4, .w = 4, .k = 1, .r = 1, .s = 1}, CCNN_EINVAL, NULL},
        {{.n = 1, .c = 1, .h = 4, .w = 4, .k = 0, .r = 1, .s = 1}, CCNN_EINVAL, NULL},
        {{.n = 1, .c = 1, .h = 4, .w = -4, .k = 1, .r = 1, .s = 1}, CCNN_EINVAL, NULL},
        {{.n = 1, .c = 1, .h = 4, .w = 4, .k = 1, .r = 1, .s = 1, .stride_w = -1}, CCNN_EINVAL, NULL},
        {{.n = 1, .c = 1, .h = 4, .w = 4, .k = 1, .r = 1, .s = 1, .pad_bottom = -1}, CCNN_EINVAL, NULL},
        {{.n = 1, .c = 1, .h = 4, .w = 4, .k = 1, .r = 1, .s = 1, .groups = -2}, CCNN_EINVAL, NULL},
        /* x alone: 2^20 * 2^20 * 2^22 * 1 = 2^62 elements, over PTRDIFF_MAX / 4 (just under 2^61) */
        {{.n = 1 << 20, .c = 1 << 20, .h = 1 << 22, .w = 1, .k = 1, .r = 1, .s = 1}, CCNN_EOVERFLOW, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const check_case *c = &cases[i];
        char err[256];
        memset(err, 'z', sizeof err);
        err[sizeof err - 1] = 0;
        int rc = ccnn_conv2d_check(&c->p, err, sizeof err);
        CHECK_MSG(rc == c->rc, "case %zu: %d, expected %d (%s)", i, rc, c->rc, err);
        if (c->rc == CCNN_OK) CHECK_MSG(err[0] == 'z', "case %zu: a message for a valid shape: %s", i, err);
        else if (c->msg) CHECK_MSG(!strcmp(err, c->msg), "case %zu:\n  got      %s\n  expected %s", i, err, c->msg);
        else CHECK_MSG(err[0] && err[0] != 'z', "case %zu: no message", i);
        if (c->rc == CCNN_EOVERFLOW) CHECK(!strcmp(err, ccnn_strerror(CCNN_EOVERFLOW)));
        CHECK_RC(ccnn_conv2d_check(&c->p, NULL, 0), c->rc); /* no buffer: only the verdict */
    }
    /* a short buffer: cut, terminated */
    char small[8];
    CHECK_RC(ccnn_conv2d_check(&cases[3].p, small, sizeof small), CCNN_ESHAPE);
    CHECK(!strcmp(small, "groups="));
    CHECK_RC(ccnn_conv2d_check(NULL, small, sizeof small), CCNN_EINVAL);
}

/* The verdict is the conv calls' own: the same as ccnn_conv2d_output_size
 * for random, often invalid, parameters. */
CCNN_TEST(conv_check_agrees_with_output_size)
{
    test_rng r = {20261207};
    int valid = 0, n = 20000;
    for (int i = 0; i < n; i++) {
        ccnn_conv2d_params p = {
            .n = test_rand_int(&r, 0, 3), .c = test_rand_int(&r, 0, 8), .h = test_rand_int(&r, -1, 9),
            .w = test_rand_int(&r, 0, 9), .k = test_rand_int(&r, 0, 8), .r = test_rand_int(&r, 0, 6),
            .s = test_rand_int(&r, 0, 6), .stride_h = test_rand_int(&r, -1, 3), .stride_w = test_rand_int(&r, 0, 3),
            .pad_top = test_rand_int(&r, -1, 2), .pad_bottom = test_rand_int(&r, 0, 2),
            .pad_left = test_rand_int(&r, 0, 2), .pad_right = test_rand_int(&r, 0, 2),
            .dilation_h = test_rand_int(&r, 0, 3), .dilation_w = test_rand_int(&r, -1, 3),
            .groups = test_rand_int(&r, -1, 4)};
        int P, Q;
        char err[256] = "";
        int a = ccnn_conv2d_check(&p, err, sizeof err), b = ccnn_conv2d_output_size(&p, &P, &Q);
        if (b != (a == CCNN_ESHAPE ? CCNN_EINVAL : a) || (a && !err[0])) { /* the calls' code for shapes */
            CHECK_MSG(0, "check %d vs output_size %d for %dx%dx%dx%d k%d %dx%d: '%s'", a, b, p.n, p.c, p.h, p.w,
                      p.k, p.r, p.s, err);
            break;
        }
        valid += !a;
    }
    CHECK_MSG(valid > n / 100 && valid < n - n / 100, "%d valid of %d", valid, n); /* both verdicts seen */
}

/* The conv layer (src/layers/conv.c) reports the check's words. */
CCNN_TEST(conv_check_words_in_net_files)
{
    static const struct { const char *net; const ccnn_conv2d_params p; } cases[] = {
        {"input 3x8x8\nconv filters=4 size=1 groups=2\nflatten\nsoftmax\n",
         {.n = 1, .c = 3, .h = 8, .w = 8, .k = 4, .r = 1, .s = 1, .groups = 2}},
        {"input 1x8x6\nconv filters=2 size=3x4 dilation=4x2 pad=1,0,0,0\nflatten\nsoftmax\n",
         {.n = 1, .c = 1, .h = 8, .w = 6, .k = 2, .r = 3, .s = 4, .dilation_h = 4, .dilation_w = 2, .pad_top = 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "", why[256] = "", want[600];
        ccnn_net *net = NULL;
        CHECK_RC(ccnn_net_parse(cases[i].net, "c.net", &net, err, sizeof err), CCNN_ESHAPE);
        ccnn_net_free(net);
        CHECK_RC(ccnn_conv2d_check(&cases[i].p, why, sizeof why), CCNN_ESHAPE);
        snprintf(want, sizeof want, "c.net:2: conv: %s", why);
        CHECK_MSG(!strcmp(err, want), "\n  got      %s\n  expected %s", err, want);
    }
}
