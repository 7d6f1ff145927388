/* isa.c - run-time choice of the SIMD level. The kernels are compiled for
 * every level of the build's CPU family (core/arch.h) with target
 * attributes; this picks the best the CPU runs, or another it runs forced
 * by CCNN_ISA (core/settings.c) or ccnn_set_isa(). */
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
#elif CCNN_ARM64
    return CCNN_ISA_NEON; /* Advanced SIMD is part of every ARMv8-A CPU */
#endif
    return CCNN_ISA_SCALAR;
}

int ccnn_isa_runs(ccnn_isa isa)
{
    switch (isa) {
    case CCNN_ISA_SCALAR: return 1;
    case CCNN_ISA_AVX2: /* the x86 levels are ordered: AVX-512 CPUs run AVX2 */
    case CCNN_ISA_AVX512: return CCNN_X86 && cpu_best() != CCNN_ISA_SCALAR && isa <= cpu_best();
    case CCNN_ISA_NEON: return CCNN_ARM64;
    case CCNN_ISA_COUNT: break;
    }
    return 0;
}

int ccnn_set_isa(ccnn_isa isa)
{
    if (!ccnn_isa_runs(isa)) return CCNN_EINVAL;
    g_isa = (int)isa;
    return CCNN_OK;
}

ccnn_isa ccnn_get_isa(void)
{
    int isa = atomic_load(&g_isa);
    if (isa < 0) {
        int want = ccnn_env()->isa;
        isa = want >= 0 && ccnn_isa_runs((ccnn_isa)want) ? want : (int)cpu_best();
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
    case CCNN_ISA_NEON: return "neon";
    case CCNN_ISA_COUNT: break;
    }
    return "unknown";
}
