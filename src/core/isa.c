/* isa.c - run-time choice of the SIMD level. The kernels are compiled for
 * every level with target attributes; this picks the best the CPU runs,
 * or a lower one forced by CCNN_ISA (core/settings.c) or ccnn_set_isa(). */
#include "ccnn_internal.h"
#include "core/arch.h"
#include <stdatomic.h>

static _Atomic int g_isa = -1; /* -1: not chosen yet */

static ccnn_isa cpu_best(void)
{
#if CCNN_X86
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
    int isa = atomic_load(&g_isa);
    if (isa < 0) {
        int best = (int)cpu_best(), want = ccnn_env()->isa;
        isa = want >= 0 && want <= best ? want : best;
        int unset = -1; /* a concurrent ccnn_set_isa wins */
        if (!atomic_compare_exchange_strong(&g_isa, &unset, isa)) isa = atomic_load(&g_isa);
    }
    return (ccnn_isa)isa;
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
