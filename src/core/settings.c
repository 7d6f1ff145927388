/* settings.c - the environment variables the library reads (CCNN_ISA,
 * CCNN_CONV, CCNN_IM2COL, CCNN_THREADS), read once, in one place, the
 * first time any of them is asked for (pthread_once: safe from any thread).
 * The setters of the public API (ccnn_set_isa, ...) override them; their
 * values live in the modules that use them, as atomics. */
#include "ccnn_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static ccnn_env_settings g_env;

/* The index of `value` in the NULL-terminated `names`, or `fallback`. */
static int pick(const char *value, const char *const *names, int fallback)
{
    if (!value) return fallback;
    for (int i = 0; names[i]; i++)
        if (strcmp(value, names[i]) == 0) return i;
    return fallback;
}

static void read_env(void)
{
    static const char *const isa[] = {"scalar", "avx2", "avx512", "neon", NULL}; /* ccnn_isa order */
    static const char *const conv[] = {"fast", "ref", NULL};
    static const char *const im2col[] = {"auto", "rows", "wide", "direct", "none", "winograd", NULL};
    g_env.isa = pick(getenv("CCNN_ISA"), isa, -1);
    g_env.conv = pick(getenv("CCNN_CONV"), conv, CCNN_CONV_FAST) == 1 ? CCNN_CONV_REF : CCNN_CONV_FAST;
    g_env.im2col = pick(getenv("CCNN_IM2COL"), im2col, 0);
    const char *t = getenv("CCNN_THREADS");
    char *end = NULL;
    long n = t ? strtol(t, &end, 10) : 0;
    g_env.threads = (t && end != t && *end == '\0' && n > 0 && n <= 4096) ? (int)n : 0;
}

const ccnn_env_settings *ccnn_env(void)
{
    pthread_once(&g_once, read_env);
    return &g_env;
}
