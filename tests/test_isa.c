/* test_isa.c - the SIMD level choice: which levels run where, that only
 * those can be forced, and that the tests' list of levels (test_isas) is
 * exactly the levels the CPU runs, so no kernel goes untested. */
#include "test.h"
#include "core/arch.h"
#include <string.h>

CCNN_TEST(isa_runs_per_family)
{
    CHECK(ccnn_isa_runs(CCNN_ISA_SCALAR));
    CHECK(!ccnn_isa_runs(CCNN_ISA_COUNT));
    CHECK(!ccnn_isa_runs((ccnn_isa)-1));
#if CCNN_ARM64
    CHECK(ccnn_isa_runs(CCNN_ISA_NEON)); /* every ARMv8-A CPU */
    CHECK(!ccnn_isa_runs(CCNN_ISA_AVX2) && !ccnn_isa_runs(CCNN_ISA_AVX512));
#elif CCNN_X86
    CHECK(!ccnn_isa_runs(CCNN_ISA_NEON));
    /* an AVX-512 CPU runs the AVX2 kernels too */
    CHECK(!ccnn_isa_runs(CCNN_ISA_AVX512) || ccnn_isa_runs(CCNN_ISA_AVX2));
#else
    CHECK(!ccnn_isa_runs(CCNN_ISA_NEON) && !ccnn_isa_runs(CCNN_ISA_AVX2));
#endif
}

CCNN_TEST(isa_set_only_what_runs)
{
    ccnn_isa cur = ccnn_get_isa();
    CHECK(ccnn_isa_runs(cur));
    for (int i = CCNN_ISA_SCALAR; i < CCNN_ISA_COUNT; i++) {
        ccnn_isa isa = (ccnn_isa)i;
        if (ccnn_isa_runs(isa)) {
            CHECK_RC(ccnn_set_isa(isa), CCNN_OK);
            CHECK_MSG(ccnn_get_isa() == isa, "%s set, %s in use", ccnn_isa_name(isa),
                      ccnn_isa_name(ccnn_get_isa()));
        } else {
            CHECK_RC(ccnn_set_isa(isa), CCNN_EINVAL);
        }
    }
    /* a refused level leaves the current one alone */
    CHECK_RC(ccnn_set_isa(CCNN_ISA_SCALAR), CCNN_OK);
    CHECK_RC(ccnn_set_isa(CCNN_ISA_COUNT), CCNN_EINVAL);
    CHECK_RC(ccnn_set_isa((ccnn_isa)-1), CCNN_EINVAL);
    CHECK(ccnn_get_isa() == CCNN_ISA_SCALAR);
    ccnn_set_isa(cur);
}

CCNN_TEST(isa_names_match_the_environment_names)
{
    /* CCNN_ISA takes these names (core/settings.c), in enum order */
    static const char *const want[CCNN_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};
    for (int i = 0; i < CCNN_ISA_COUNT; i++)
        CHECK_MSG(strcmp(ccnn_isa_name((ccnn_isa)i), want[i]) == 0, "level %d is named %s", i,
                  ccnn_isa_name((ccnn_isa)i));
    CHECK(strcmp(ccnn_isa_name(CCNN_ISA_COUNT), "unknown") == 0);
}

CCNN_TEST(isa_tests_cover_every_level_that_runs)
{
    ccnn_isa list[3], cur = ccnn_get_isa();
    int n = test_isas(list), runs = 0;
    for (int i = 0; i < CCNN_ISA_COUNT; i++) runs += ccnn_isa_runs((ccnn_isa)i);
    CHECK_MSG(n == runs, "test_isas lists %d levels, %d run", n, runs);
    for (int i = 0; i < n; i++) CHECK(ccnn_isa_runs(list[i]));
    for (int i = 1; i < n; i++) CHECK(list[i] > list[i - 1]);
    CHECK(ccnn_get_isa() == cur);
#if CCNN_ARM64
    CHECK(n == 2 && list[1] == CCNN_ISA_NEON);
#endif
}
