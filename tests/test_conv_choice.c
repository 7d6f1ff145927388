/* test_conv_choice.c - the automatic choice of the direct convolution
 * (conv_fast.c, kvec_pays) follows each ISA's tile table (direct.h,
 * pays_from_k): on a 3x3 stride-2 layer (Winograd does not apply) with many
 * taps, the direct tiles are chosen from pays_from_k filters on, never below
 * and never for a table that says 0. Named ISAs are checked by name too, so
 * a table that loses its field fails here: AVX-512 from 32 filters, AVX2
 * from 16, NEON from 8 (make test-aarch64 runs the NEON case), the portable
 * tiles never. */
#include "test.h"
#include "ccnn_internal.h"
#include "kernels/direct.h"
#include "ops/conv_internal.h"

static int algo_for(int k)
{
    ccnn_conv2d_params p = {.n = 2, .c = 32, .h = 14, .w = 14, .k = k, .r = 3, .s = 3,
                            .stride_h = 2, .stride_w = 2,
                            .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
    ccnn_conv_dims d;
    if (ccnn_conv_dims_init(&p, &d)) return -1;
    return ccnn_conv_forward_algo(&d);
}

/* The filter count from which each named ISA's tiles must be chosen. */
static int expected_from(ccnn_isa isa)
{
    switch (isa) {
    case CCNN_ISA_AVX512: return 32;
    case CCNN_ISA_AVX2: return 16;
    case CCNN_ISA_NEON: return 8;
    default: return 0;
    }
}

CCNN_TEST(conv_choice_direct_by_table)
{
    ccnn_isa isas[3];
    int n = test_isas(isas);
    ccnn_isa was = ccnn_get_isa();
    ccnn_im2col_mode mode = ccnn_conv_fast_get_im2col();
    ccnn_conv_fast_set_im2col(CCNN_IM2COL_AUTO);
    for (int i = 0; i < n; i++) {
        REQUIRE(ccnn_set_isa(isas[i]) == 0);
        const char *name = ccnn_isa_name(isas[i]);
        const int from = ccnn_direct_kernel_for(isas[i])->pays_from_k;
        CHECK_MSG(from == expected_from(isas[i]), "%s: pays_from_k %d, expected %d", name, from,
                  expected_from(isas[i]));
        for (int k = 4; k <= 64; k += 4) {
            const int want = from > 0 && k >= from;
            const int got = algo_for(k) == FWD_KVEC;
            CHECK_MSG(got == want, "%s, 32->%d 3x3 stride 2: direct tiles %s", name, k,
                      got ? "chosen below pays_from_k" : "not chosen");
        }
    }
    ccnn_conv_fast_set_im2col(mode);
    ccnn_set_isa(was);
}
