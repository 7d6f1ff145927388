/* safetensors.c - reading and writing safetensors files (F32 tensors), and
 * replacing a file atomically. See safetensors.h for the layout. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EXACT 9007199254740992.0 /* 2^53: integers a JSON double holds exactly */

#define ERRF(code, ...) ccnn_errf(err, errlen, code, __VA_ARGS__)

static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

char *ccnn_st_shape_str(const int64_t *dims, int ndim, char *buf, size_t len)
{
    size_t used = 0;
    if (!len) return buf;
    buf[0] = 0;
    if (ndim == 0) snprintf(buf, len, "scalar");
    for (int i = 0; i < ndim && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%lld", i ? "x" : "", (long long)dims[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

/* count = product of dims, bytes = 4 * count, both without overflow. */
static int count_elems(const int64_t *dims, int ndim, uint64_t *count)
{
    uint64_t c = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)dims[i];
        if (d && c > UINT64_MAX / 4 / d) return -1;
        c *= d;
    }
    *count = c;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice in names[n] (sorted in place), or NULL. */
static const char *find_duplicate(const char **names, int n)
{
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i])) return names[i];
    return NULL;
}

/* ======================================================================== */
/* Writing                                                                   */
/* ======================================================================== */

/* Attaches item to obj (under key, or appended to an array if key is NULL);
 * on failure deletes item. Returns 1 on success. */
static int add(cJSON *obj, const char *key, cJSON *item)
{
    if (obj && item && (key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item)))
        return 1;
    cJSON_Delete(item);
    return 0;
}

/* The JSON header for the given tensors (validated by the caller). */
static char *build_header(const ccnn_st_out *t, int nt, const uint64_t *bytes,
                          const ccnn_st_kv *meta, int n_meta)
{
    cJSON *root = cJSON_CreateObject(), *m = NULL, *o = NULL, *shape = NULL, *offs = NULL;
    char *json = NULL;
    uint64_t off = 0;
    int ok = root != NULL;
    if (ok && n_meta > 0) ok = add(root, "__metadata__", m = cJSON_CreateObject());
    for (int i = 0; ok && i < n_meta; i++)
        ok = add(m, meta[i].key, cJSON_CreateString(meta[i].value));
    for (int i = 0; ok && i < nt; i++) {
        ok = add(root, t[i].name, o = cJSON_CreateObject()) &&
             add(o, "dtype", cJSON_CreateString("F32")) &&
             add(o, "shape", shape = cJSON_CreateArray());
        for (int d = 0; ok && d < t[i].ndim; d++)
            ok = add(shape, NULL, cJSON_CreateNumber((double)t[i].dims[d]));
        ok = ok && add(o, "data_offsets", offs = cJSON_CreateArray()) &&
             add(offs, NULL, cJSON_CreateNumber((double)off)) &&
             add(offs, NULL, cJSON_CreateNumber((double)(off + bytes[i])));
        off += bytes[i];
    }
    if (ok) json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return json;
}

static int write_floats(FILE *f, const float *data, uint64_t count)
{
    if (!count) return 0;
    if (host_is_le()) return fwrite(data, sizeof(float), (size_t)count, f) == (size_t)count ? 0 : -1;
    uint32_t chunk[1024];
    for (uint64_t i = 0; i < count;) {
        size_t n = count - i < 1024 ? (size_t)(count - i) : 1024;
        memcpy(chunk, data + i, n * sizeof(float));
        for (size_t j = 0; j < n; j++) chunk[j] = bswap32(chunk[j]);
        if (fwrite(chunk, sizeof(float), n, f) != n) return -1;
        i += n;
    }
    return 0;
}

int ccnn_st_write(FILE *f, const char *label, const ccnn_st_out *t, int nt,
                  const ccnn_st_kv *meta, int n_meta, char *err, size_t errlen)
{
    if (!label) label = "safetensors";
    if (!f || nt < 0 || n_meta < 0 || (nt && !t) || (n_meta && !meta))
        return ERRF(CCNN_EINVAL, "%s: invalid arguments to the safetensors writer", label);
    int rc = 0;
    uint64_t total = 0;
    uint64_t *bytes = calloc((size_t)nt + 1, sizeof *bytes);
    const char **names = calloc((size_t)(nt > n_meta ? nt : n_meta) + 1, sizeof *names);
    char *json = NULL;
    if (!bytes || !names) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", label); goto out; }

    for (int i = 0; i < nt; i++) {
        int64_t d64[CCNN_ST_MAX_DIMS];
        uint64_t count;
        if (!t[i].name || !t[i].name[0] || !strcmp(t[i].name, "__metadata__")) {
            rc = ERRF(CCNN_EINVAL, "%s: tensor %d has an invalid name", label, i);
            goto out;
        }
        if (t[i].ndim < 0 || t[i].ndim > CCNN_ST_MAX_DIMS || (t[i].ndim && !t[i].dims)) {
            rc = ERRF(CCNN_EINVAL, "%s: tensor %s has %d dimensions", label, t[i].name, t[i].ndim);
            goto out;
        }
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].dims[d] < 0) {
                rc = ERRF(CCNN_EINVAL, "%s: tensor %s has a negative dimension", label, t[i].name);
                goto out;
            }
            d64[d] = t[i].dims[d];
        }
        if (count_elems(d64, t[i].ndim, &count) || count * 4 > (uint64_t)MAX_EXACT - total) {
            rc = ERRF(CCNN_EOVERFLOW, "%s: tensor %s is too large", label, t[i].name);
            goto out;
        }
        if (count && !t[i].data) {
            rc = ERRF(CCNN_EINVAL, "%s: tensor %s has no data", label, t[i].name);
            goto out;
        }
        bytes[i] = count * 4;
        total += bytes[i];
        names[i] = t[i].name;
    }
    const char *dup = find_duplicate(names, nt);
    if (dup) { rc = ERRF(CCNN_EINVAL, "%s: two tensors are called %s", label, dup); goto out; }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value) {
            rc = ERRF(CCNN_EINVAL, "%s: metadata entry %d is NULL", label, i);
            goto out;
        }
        names[i] = meta[i].key;
    }
    dup = find_duplicate(names, n_meta);
    if (dup) { rc = ERRF(CCNN_EINVAL, "%s: metadata key %s given twice", label, dup); goto out; }

    json = build_header(t, nt, bytes, meta, n_meta);
    if (!json) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory building the header", label); goto out; }
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    int bad = fwrite(lenbuf, 1, 8, f) != 8 || fwrite(json, 1, len, f) != len ||
              fwrite(spaces, 1, padded - len, f) != padded - len;
    for (int i = 0; !bad && i < nt; i++) bad = write_floats(f, t[i].data, bytes[i] / 4) != 0;
    if (bad) rc = ERRF(CCNN_EIO, "%s: cannot write: %s", label, strerror(errno));
out:
    free(json);
    free(names);
    free(bytes);
    return rc;
}

/* ======================================================================== */
/* Reading                                                                   */
/* ======================================================================== */

void ccnn_st_free(ccnn_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* A JSON number that is an integer in 0..2^53. */
static int json_uint(const cJSON *j, uint64_t *v)
{
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT) || (double)(uint64_t)d != d) return -1;
    *v = (uint64_t)d;
    return 0;
}

/* Sort keys (qsort has no context argument, so each entry carries its own). */
typedef struct sort_key {
    const char *name;
    uint64_t begin, end;
    int index;
} sort_key;

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const sort_key *)a)->name, ((const sort_key *)b)->name);
}
static int cmp_by_offset(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The tensors of f as sort keys, sorted by cmp (NULL if out of memory). */
static sort_key *sorted_keys(const ccnn_st_file *f, int (*cmp)(const void *, const void *))
{
    sort_key *k = malloc(((size_t)f->n_tensors + 1) * sizeof *k);
    if (!k) return NULL;
    for (int i = 0; i < f->n_tensors; i++)
        k[i] = (sort_key){f->tensors[i].name, f->tensors[i].begin, f->tensors[i].end, i};
    qsort(k, (size_t)f->n_tensors, sizeof *k, cmp);
    return k;
}

static int parse_metadata(const cJSON *m, ccnn_st_file *f, const char *label, char *err, size_t errlen)
{
    if (!cJSON_IsObject(m)) return ERRF(CCNN_EFORMAT, "%s: __metadata__ is not a JSON object", label);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    f->meta_values = calloc((size_t)n + 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) return ERRF(CCNN_ENOMEM, "%s: out of memory", label);
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return ERRF(CCNN_EFORMAT, "%s: metadata %s is not a string", label, e->string);
        if (ccnn_st_meta(f, e->string))
            return ERRF(CCNN_EFORMAT, "%s: metadata %s appears twice", label, e->string);
        f->meta_keys[f->n_meta] = dupstr(e->string);
        f->meta_values[f->n_meta] = dupstr(e->valuestring);
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return ERRF(CCNN_ENOMEM, "%s: out of memory", label);
    }
    return 0;
}

static int parse_tensor(const cJSON *o, ccnn_st_tensor *t, const char *label, char *err, size_t errlen)
{
    const char *name = o->string;
    char shape_s[160];
    if (!cJSON_IsObject(o)) return ERRF(CCNN_EFORMAT, "%s: entry %s is not a JSON object", label, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return ERRF(CCNN_EFORMAT, "%s: tensor %s lacks a dtype string, a shape or data_offsets",
                    label, name);
    if (strcmp(dtype->valuestring, "F32"))
        return ERRF(CCNN_EFORMAT, "%s: tensor %s has dtype %s; ccnn reads only F32", label, name,
                    dtype->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > CCNN_ST_MAX_DIMS)
        return ERRF(CCNN_EFORMAT, "%s: tensor %s has %d dimensions (at most %d)", label, name, nd,
                    CCNN_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        uint64_t v;
        if (json_uint(d, &v))
            return ERRF(CCNN_EFORMAT, "%s: tensor %s: shape holds something other than a size",
                        label, name);
        t->dims[t->ndim++] = (int64_t)v;
    }
    if (cJSON_GetArraySize(offs) != 2 || json_uint(offs->child, &t->begin) ||
        json_uint(offs->child->next, &t->end) || t->end < t->begin)
        return ERRF(CCNN_EFORMAT, "%s: tensor %s: data_offsets is not [begin, end] with begin <= end",
                    label, name);
    if (count_elems(t->dims, t->ndim, &t->count) || t->count * 4 != t->end - t->begin)
        return ERRF(CCNN_EFORMAT,
                    "%s: tensor %s: shape %s does not match data_offsets [%llu, %llu] (%llu bytes)",
                    label, name, ccnn_st_shape_str(t->dims, t->ndim, shape_s, sizeof shape_s),
                    (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)(t->end - t->begin));
    t->name = dupstr(name);
    return t->name ? 0 : ERRF(CCNN_ENOMEM, "%s: out of memory", label);
}

/* Checks that the tensors, in the order of their offsets, tile [0, data_len). */
static int check_layout(const ccnn_st_file *f, uint64_t data_len, const char *label, char *err,
                        size_t errlen)
{
    int rc = 0;
    sort_key *k = sorted_keys(f, cmp_by_offset);
    if (!k) return ERRF(CCNN_ENOMEM, "%s: out of memory", label);
    uint64_t expect = 0;
    for (int i = 0; i < f->n_tensors && !rc; i++) {
        if (k[i].begin < expect)
            rc = ERRF(CCNN_EFORMAT, "%s: tensors %s and %s overlap (bytes %llu..%llu)", label,
                      k[i - 1].name, k[i].name, (unsigned long long)k[i].begin,
                      (unsigned long long)expect);
        else if (k[i].begin > expect)
            rc = ERRF(CCNN_EFORMAT, "%s: bytes %llu..%llu of the data belong to no tensor (gap before %s)",
                      label, (unsigned long long)expect, (unsigned long long)k[i].begin, k[i].name);
        expect = k[i].end;
    }
    if (!rc && expect > data_len)
        rc = ERRF(CCNN_EFORMAT, "%s: truncated: header says %llu bytes of tensor data but the file has %llu",
                  label, (unsigned long long)expect, (unsigned long long)data_len);
    else if (!rc && expect < data_len)
        rc = ERRF(CCNN_EFORMAT,
                  "%s: the file has %llu bytes of tensor data but the tensors cover only %llu",
                  label, (unsigned long long)data_len, (unsigned long long)expect);
    free(k);
    return rc;
}

/* Parses buf[size] (malloc'ed; taken over: stored in out or freed). */
static int parse_take(unsigned char *buf, size_t size, const char *label, ccnn_st_file *out,
                      char *err, size_t errlen)
{
    ccnn_st_file f;
    cJSON *root = NULL;
    int rc = 0;
    memset(&f, 0, sizeof f);
    f.buf = buf;
    f.size = size;
    if (!label) label = "safetensors";
    if (size < 8) {
        rc = ERRF(CCNN_EFORMAT, "%s: truncated: the file has %zu bytes, fewer than the 8-byte header length",
                  label, size);
        goto out;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    if (n == 0 || n > CCNN_ST_MAX_HEADER) {
        rc = ERRF(CCNN_EFORMAT, "%s: not a safetensors file (header length %llu)", label,
                  (unsigned long long)n);
        goto out;
    }
    if (n > size - 8) {
        rc = ERRF(CCNN_EFORMAT, "%s: truncated: header length is %llu bytes but only %zu follow",
                  label, (unsigned long long)n, size - 8);
        goto out;
    }
    const char *hdr = (const char *)buf + 8, *end = NULL;
    if (hdr[0] != '{') {
        rc = ERRF(CCNN_EFORMAT, "%s: not a safetensors file (the header is not a JSON object)", label);
        goto out;
    }
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        rc = ERRF(CCNN_EFORMAT, "%s: the header is not valid JSON (error near byte %lld of %llu)",
                  label, end ? (long long)(end - hdr) : -1LL, (unsigned long long)n);
        goto out;
    }
    for (; end < hdr + n; end++)
        if (!strchr(" \t\r\n", *end) || !*end) {
            rc = ERRF(CCNN_EFORMAT, "%s: the header has something after its JSON (byte %lld)",
                      label, (long long)(end - hdr));
            goto out;
        }

    int count = cJSON_GetArraySize(root), seen_meta = 0;
    f.tensors = calloc((size_t)count + 1, sizeof *f.tensors);
    f.by_name = calloc((size_t)count + 1, sizeof *f.by_name);
    if (!f.tensors || !f.by_name) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", label); goto out; }
    for (const cJSON *e = root->child; e && !rc; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            rc = seen_meta++ ? ERRF(CCNN_EFORMAT, "%s: __metadata__ appears twice", label)
                             : parse_metadata(e, &f, label, err, errlen);
        } else {
            rc = parse_tensor(e, &f.tensors[f.n_tensors], label, err, errlen);
            if (!rc) f.n_tensors++;
        }
    }
    if (rc) goto out;

    sort_key *k = sorted_keys(&f, cmp_by_name);
    if (!k) { rc = ERRF(CCNN_ENOMEM, "%s: out of memory", label); goto out; }
    for (int i = 0; i < f.n_tensors; i++) {
        f.by_name[i] = k[i].index;
        if (i && !strcmp(k[i].name, k[i - 1].name) && !rc)
            rc = ERRF(CCNN_EFORMAT, "%s: tensor %s appears twice in the header", label, k[i].name);
    }
    free(k);
    if (rc) goto out;
    f.data_start = 8 + n;
    rc = check_layout(&f, (uint64_t)(size - f.data_start), label, err, errlen);
    if (rc) goto out;
    for (int i = 0; i < f.n_tensors; i++) f.tensors[i].bytes = buf + f.data_start + f.tensors[i].begin;
out:
    cJSON_Delete(root);
    if (rc) ccnn_st_free(&f);
    else *out = f;
    return rc;
}

int ccnn_st_parse(const void *data, size_t size, const char *label, ccnn_st_file *out,
                  char *err, size_t errlen)
{
    if (!out || (size && !data)) return ERRF(CCNN_EINVAL, "invalid arguments to ccnn_st_parse");
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return ERRF(CCNN_ENOMEM, "%s: out of memory", label ? label : "safetensors");
    if (size) memcpy(buf, data, size);
    return parse_take(buf, size, label, out, err, errlen);
}

int ccnn_st_read_file(const char *path, ccnn_st_file *out, char *err, size_t errlen)
{
    if (!path || !out) return ERRF(CCNN_EINVAL, "invalid arguments to ccnn_st_read_file");
    FILE *fp = fopen(path, "rb");
    if (!fp) return ERRF(CCNN_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t size = 0, cap = 1 << 16;
    unsigned char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (size == cap) {
            unsigned char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + size, 1, cap - size, fp);
        size += got;
        if (got == 0) break;
    }
    if (!buf || size == cap)
        rc = ERRF(CCNN_ENOMEM, "%s: out of memory reading the file", path);
    else if (ferror(fp))
        rc = ERRF(CCNN_EIO, "%s: cannot read: %s", path, strerror(errno));
    fclose(fp);
    if (rc) {
        free(buf);
        return rc;
    }
    return parse_take(buf, size, path, out, err, errlen);
}

const char *ccnn_st_meta(const ccnn_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

const ccnn_st_tensor *ccnn_st_find(const ccnn_st_file *f, const char *name)
{
    int lo = 0, hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const ccnn_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

void ccnn_st_copy(const ccnn_st_tensor *t, float *dst)
{
    if (!t->count) return;
    memcpy(dst, t->bytes, (size_t)t->count * sizeof(float));
    if (!host_is_le()) {
        uint32_t v;
        for (uint64_t i = 0; i < t->count; i++) {
            memcpy(&v, dst + i, 4);
            v = bswap32(v);
            memcpy(dst + i, &v, 4);
        }
    }
}
