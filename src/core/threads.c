/* threads.c - the library-wide thread count used by every OpenMP region. */
#include "ccnn_internal.h"
#include <omp.h>

static int g_threads; /* 0: not set, use all cores */

void ccnn_set_num_threads(int n)
{
    g_threads = n > 0 ? n : 0;
}

int ccnn_threads(void)
{
    int n = g_threads > 0 ? g_threads : omp_get_num_procs();
    return n > 0 ? n : 1;
}

int ccnn_get_num_threads(void)
{
    return ccnn_threads();
}
