/* threads.c - the library-wide thread count used by every OpenMP region. */
#include "ccnn_internal.h"
#include <omp.h>
#include <stdatomic.h>

static _Atomic int g_threads; /* 0: not set: CCNN_THREADS, else all cores */

void ccnn_set_num_threads(int n)
{
    atomic_store(&g_threads, n > 0 ? n : 0);
}

int ccnn_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n <= 0) n = ccnn_env()->threads;
    if (n <= 0) n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

int ccnn_get_num_threads(void)
{
    return ccnn_threads();
}
