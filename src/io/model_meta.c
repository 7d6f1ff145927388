/* model_meta.c - reading one metadata string of a model file. */
#include "io/safetensors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ccnn_model_read_meta(const char *path, const char *key, char **value, char *err, size_t errlen)
{
    if (!path || !key || !value) return CCNN_EINVAL;
    ccnn_st_file f;
    int rc = ccnn_st_read_file(path, &f, err, errlen);
    if (rc) return rc;
    const char *v = ccnn_st_meta(&f, key);
    if (!v) {
        if (err && errlen) snprintf(err, errlen, "%s: no metadata '%s'", path, key);
        rc = CCNN_ENOTFOUND;
    } else if (!(*value = strdup(v))) {
        rc = CCNN_ENOMEM;
    }
    ccnn_st_free(&f);
    return rc;
}
