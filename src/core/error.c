/* error.c - messages for the CCNN_E* return codes. */
#include "ccnn_internal.h"
#include <stdarg.h>
#include <stdio.h>

const char *ccnn_strerror(int code)
{
    switch (code) {
    case CCNN_OK: return "success";
    case CCNN_EINVAL: return "invalid argument";
    case CCNN_ENOMEM: return "out of memory";
    case CCNN_EOVERFLOW: return "sizes too large (element count overflows)";
    case CCNN_EIO: return "input/output error";
    case CCNN_EFORMAT: return "corrupt, truncated or unrecognised file";
    case CCNN_ESHAPE: return "shapes do not fit together";
    case CCNN_ENONFINITE: return "a value became NaN or infinite";
    case CCNN_ENOTFOUND: return "not found";
    case CCNN_EDIST: return "data-parallel training failed (a process failed or the processes disagree)";
    case CCNN_EINTR: return "stopped on request";
    case CCNN_ELIMIT: return "over a size or memory limit";
    default: return "unknown error code";
    }
}

int ccnn_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
