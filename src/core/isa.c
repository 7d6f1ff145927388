/* isa.c - run-time choice of the SIMD level. The kernels are compiled for
 * every level with target attributes; this picks the best the CPU runs,
 * or a lower one forced by CCNN_ISA or ccnn_set_isa(). */
#include "ccnn.h"
#include <stdlib.h>
#include <string.h>

static int g_isa = -1; /* -1: not chosen yet */

static ccnn_isa cpu_best(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return CCNN_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CCNN_ISA_AVX2;
#endif
    return CCNN_ISA_SCALAR;
}

int ccnn_set_isa(ccnn_isa isa)
{
    if ((int)isa < CCNN_ISA_SCALAR || isa > cpu_best())
        return CCNN_EINVAL;
    g_isa = (int)isa;
    return CCNN_OK;
}

ccnn_isa ccnn_get_isa(void)
{
    if (g_isa < 0) {
        ccnn_isa best = cpu_best(), want = best;
        const char *env = getenv("CCNN_ISA");
        if (env && strcmp(env, "scalar") == 0) want = CCNN_ISA_SCALAR;
        else if (env && strcmp(env, "avx2") == 0) want = CCNN_ISA_AVX2;
        else if (env && strcmp(env, "avx512") == 0) want = CCNN_ISA_AVX512;
        g_isa = (int)(want <= best ? want : best);
    }
    return (ccnn_isa)g_isa;
}

const char *ccnn_isa_name(ccnn_isa isa)
{
    switch (isa) {
    case CCNN_ISA_SCALAR: return "scalar";
    case CCNN_ISA_AVX2: return "avx2";
    case CCNN_ISA_AVX512: return "avx512";
    }
    return "unknown";
}
