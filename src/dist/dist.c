/* dist.c - the data-parallel trainer's communication over MPI (dist.h).
 *
 * The gradient sum must not depend on the number of processes, and
 * MPI_Allreduce fixes no order, so the sum is a chain: process 0 adds its
 * chunk gradients in chunk order and sends the running sum to process 1,
 * which adds its chunks to it in order, and so on; the last process holds
 * the sum of all chunks in chunk order - what one process computes alone -
 * and broadcasts it (a copy: no arithmetic). One exchange per layer, started
 * as soon as the layer's backward is done, so the chain of one layer runs
 * while the next layers' backward computes. Built only with -DCCNN_MPI;
 * without it the stubs below say there is no MPI. */
#include "dist/dist.h"
#include <stdlib.h>
#include <string.h>

int ccnn_dist_share(int batch, int rank, int size, int *first, int *count)
{
    if (batch <= 0 || size <= 0 || rank < 0 || rank >= size) return CCNN_EINVAL;
    int chunks = (batch + CCNN_CHUNK - 1) / CCNN_CHUNK;
    if (chunks < size) return CCNN_EINVAL;
    int c0 = (int)((int64_t)chunks * rank / size), c1 = (int)((int64_t)chunks * (rank + 1) / size);
    int a = c0 * CCNN_CHUNK, b = c1 * CCNN_CHUNK < batch ? c1 * CCNN_CHUNK : batch;
    *first = a;
    *count = b - a;
    return CCNN_OK;
}

#ifdef CCNN_MPI
#include <mpi.h>

/* A layer's chain on a later process: mean seconds from begin_chunks to
 * the end of reduce_chunks with its chunks kept apart (mode 0) and with the
 * sum received first (mode 1). */
typedef struct chain_stat {
    double t[2];
    int n[2];
    unsigned visits;
} chain_stat;

struct ccnn_dist {
    MPI_Comm comm;
    int rank, size;
    int *first, *count;        /* per process, in images, of the step */
    int *rcounts, *displs;     /* allgather scratch, in floats */
    MPI_Request *reqs;
    int n_reqs, cap_reqs;
    double *dsum;              /* size * n doubles for ccnn_dist_sum */
    int dsum_cap;
    chain_stat *stat;          /* per tag (layer), begin_chunks' choice */
    int n_stat;
    int cur_tag, cur_mode;     /* the layer begun; its mode, -1: none */
    int force;                 /* CCNN_DIST_CHAIN's mode; -1 by size, -3 timed */
    double cur_t0;
    ccnn_dist_step step;
};

int ccnn_dist_create(ccnn_dist **out, const void *comm)
{
    int init = 0;
    if (!out || !comm || MPI_Initialized(&init) != MPI_SUCCESS || !init) return CCNN_EINVAL;
    ccnn_dist *d = calloc(1, sizeof *d);
    if (!d) return CCNN_ENOMEM;
    if (MPI_Comm_dup(*(const MPI_Comm *)comm, &d->comm) != MPI_SUCCESS) {
        free(d);
        return CCNN_EDIST;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->cur_mode = -1;
    /* CCNN_DIST_CHAIN=apart, =first or =timed sets begin_chunks' way
     * (tests, comparisons); anything else is refused, on every process alike */
    const char *force = getenv("CCNN_DIST_CHAIN");
    d->force = !force || !*force ? -1 : !strcmp(force, "apart") ? 0 : !strcmp(force, "first") ? 1
             : !strcmp(force, "timed") ? -3 : -2;
    if (d->force == -2) {
        ccnn_dist_free(d);
        return CCNN_EINVAL;
    }
    size_t n = (size_t)d->size;
    d->first = calloc(n, sizeof(int));
    d->count = calloc(n, sizeof(int));
    d->rcounts = calloc(n, sizeof(int));
    d->displs = calloc(n, sizeof(int));
    if (!d->first || !d->count || !d->rcounts || !d->displs) {
        ccnn_dist_free(d);
        return CCNN_ENOMEM;
    }
    *out = d;
    return CCNN_OK;
}

void ccnn_dist_free(ccnn_dist *d)
{
    if (!d) return;
    if (d->n_reqs) MPI_Waitall(d->n_reqs, d->reqs, MPI_STATUSES_IGNORE);
    MPI_Comm_free(&d->comm);
    free(d->first); free(d->count); free(d->rcounts); free(d->displs);
    free(d->reqs); free(d->dsum); free(d->stat);
    free(d);
}

int ccnn_dist_rank(const ccnn_dist *d) { return d->rank; }
int ccnn_dist_size(const ccnn_dist *d) { return d->size; }
const ccnn_dist_step *ccnn_dist_get_step(const ccnn_dist *d) { return &d->step; }

int ccnn_dist_set_step(ccnn_dist *d, int batch)
{
    for (int r = 0; r < d->size; r++)
        if (ccnn_dist_share(batch, r, d->size, &d->first[r], &d->count[r])) return CCNN_EINVAL;
    d->step = (ccnn_dist_step){batch, d->first[d->rank], d->count[d->rank]};
    return CCNN_OK;
}

int ccnn_dist_allgather(ccnn_dist *d, const float *local, size_t per_image, float *global)
{
    for (int r = 0; r < d->size; r++) {
        d->rcounts[r] = (int)((size_t)d->count[r] * per_image);
        d->displs[r] = (int)((size_t)d->first[r] * per_image);
    }
    return MPI_Allgatherv(local, d->rcounts[d->rank], MPI_FLOAT, global, d->rcounts, d->displs,
                          MPI_FLOAT, d->comm) == MPI_SUCCESS ? CCNN_OK : CCNN_EDIST;
}

static MPI_Request *new_req(ccnn_dist *d)
{
    if (d->n_reqs == d->cap_reqs) {
        int cap = d->cap_reqs ? 2 * d->cap_reqs : 64;
        MPI_Request *r = realloc(d->reqs, (size_t)cap * sizeof *r);
        if (!r) return NULL;
        d->reqs = r;
        d->cap_reqs = cap;
    }
    return &d->reqs[d->n_reqs++];
}

/* dst[i] = ((first[i] + c[0][i]) + c[1][i]) + ... over n chunks (stride
 * apart), in that order: the chain's order. One pass over blocks that stay
 * in L1, so every chunk is read once and dst written once (adding chunk by
 * chunk over the whole range streamed the running sum through memory once
 * per chunk, and that was most of the chain's cost for the large layers).
 * dst may be first or c. */
static void add_chunks(float *dst, const float *first, const float *c, size_t stride, int n, size_t len)
{
    enum { BLOCK = 1024 };
    for (size_t b = 0; b < len; b += BLOCK) {
        const size_t e = len - b < BLOCK ? len - b : BLOCK;
        float *restrict t = dst + b;
        const float *f = first + b, *c0 = c + b;
        if (f == t || c0 == t) { /* in place: same values, same order */
            const float *o = f == t ? c0 : f;
            for (size_t i = 0; i < e; i++) t[i] = o[i] + t[i];
        } else {
            for (size_t i = 0; i < e; i++) t[i] = f[i] + c0[i];
        }
        for (int k = 1; k < n; k++) {
            const float *restrict ck = c + (size_t)k * stride + b;
            for (size_t i = 0; i < e; i++) t[i] += ck[i];
        }
    }
}

/* By default a layer waits for the sum first when its gradient is larger
 * than a core's L2 (its kept-apart chunks then stream through memory: the
 * default net's 3136 x 128 dense, 1.6 MB, cost 2.5 ms per 2x1 step kept
 * apart against 1.8 ms waiting); smaller ones, whose backward is mostly
 * compute (convolutions), keep apart: waiting would idle the process for
 * the whole layer. CCNN_DIST_CHAIN=timed times both per layer instead; on
 * this 2-core machine its choice was unsteady (0.95 in one run, 0.77 in
 * another), so it is not the default. */
#define FIRST_FLOATS ((size_t)1 << 18)

/* Either mode until both were timed; then the faster, but the other every
 * 16th time, since the times move as the processes drift. */
static int pick_mode(const chain_stat *st)
{
    if (!st->n[0] || !st->n[1]) return st->n[0] ? 1 : 0;
    const int best = st->t[1] < st->t[0];
    return st->visits % 16 == 15 ? !best : best;
}

int ccnn_dist_begin_chunks(ccnn_dist *d, float *chunks, float *out, size_t len, int tag, float **sum)
{
    *sum = NULL;
    if (d->rank == 0 || tag < 0) return CCNN_EINVAL;
    if (tag >= d->n_stat) {
        chain_stat *p = realloc(d->stat, (size_t)(tag + 1) * sizeof *p);
        if (!p) return CCNN_ENOMEM;
        memset(p + d->n_stat, 0, (size_t)(tag + 1 - d->n_stat) * sizeof *p);
        d->stat = p;
        d->n_stat = tag + 1;
    }
    const int mode = d->force >= 0 ? d->force : d->force == -3 ? pick_mode(&d->stat[tag]) : len >= FIRST_FLOATS;
    d->cur_tag = tag;
    d->cur_mode = mode;
    d->cur_t0 = MPI_Wtime();
    if (mode == 0) return CCNN_OK;
    /* the last process adds onto out, which it then broadcasts */
    float *s = d->rank == d->size - 1 ? out : chunks;
    if (MPI_Recv(s, (int)len, MPI_FLOAT, d->rank - 1, tag, d->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return CCNN_EDIST;
    *sum = s;
    return CCNN_OK;
}

int ccnn_dist_reduce_chunks(ccnn_dist *d, float *chunks, size_t stride, int n_local, float *out,
                            size_t len, int tag)
{
    const int last = d->rank == d->size - 1;
    const int mode = d->cur_mode;
    d->cur_mode = -1;
    if (mode >= 0 && d->cur_tag != tag) return CCNN_EINVAL;
    MPI_Request *rq;
    if (mode == 1) {
        /* begin_chunks received the sum before ours; the layer added ours */
    } else if (d->rank > 0) { /* the sum of the chunks before ours, then ours in order */
        if (MPI_Recv(out, (int)len, MPI_FLOAT, d->rank - 1, tag, d->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return CCNN_EDIST;
        /* the last process sums straight into out, which it broadcasts */
        add_chunks(last ? out : chunks, out, chunks, stride, n_local, len);
    } else {
        if (n_local > 1) add_chunks(chunks, chunks, chunks + stride, stride, n_local - 1, len);
        if (last) memcpy(out, chunks, len * sizeof(float));
    }
    if (!last) {
        if (!(rq = new_req(d))) return CCNN_ENOMEM;
        if (MPI_Isend(chunks, (int)len, MPI_FLOAT, d->rank + 1, tag, d->comm, rq) != MPI_SUCCESS)
            return CCNN_EDIST;
    }
    if (mode >= 0) {
        chain_stat *st = &d->stat[tag];
        double t = MPI_Wtime() - d->cur_t0;
        st->t[mode] = st->n[mode] ? 0.75 * st->t[mode] + 0.25 * t : t;
        st->n[mode]++;
        st->visits++;
    }
    if (!(rq = new_req(d))) return CCNN_ENOMEM;
    if (MPI_Ibcast(out, (int)len, MPI_FLOAT, d->size - 1, d->comm, rq) != MPI_SUCCESS) return CCNN_EDIST;
    int flag; /* lets the transfers move on while backward goes on */
    MPI_Testall(d->n_reqs, d->reqs, &flag, MPI_STATUSES_IGNORE);
    return CCNN_OK;
}

int ccnn_dist_wait(ccnn_dist *d)
{
    int rc = d->n_reqs ? MPI_Waitall(d->n_reqs, d->reqs, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    d->n_reqs = 0;
    return rc == MPI_SUCCESS ? CCNN_OK : CCNN_EDIST;
}

int ccnn_dist_sum(ccnn_dist *d, double *v, int n)
{
    if (d->size * n > d->dsum_cap) {
        double *p = realloc(d->dsum, (size_t)(d->size * n) * sizeof *p);
        if (!p) return CCNN_ENOMEM;
        d->dsum = p;
        d->dsum_cap = d->size * n;
    }
    if (MPI_Allgather(v, n, MPI_DOUBLE, d->dsum, n, MPI_DOUBLE, d->comm) != MPI_SUCCESS) return CCNN_EDIST;
    for (int i = 0; i < n; i++) {
        double s = d->dsum[i];
        for (int r = 1; r < d->size; r++) s += d->dsum[r * n + i];
        v[i] = s;
    }
    return CCNN_OK;
}

int ccnn_dist_min(ccnn_dist *d, int v, int *out)
{
    return MPI_Allreduce(&v, out, 1, MPI_INT, MPI_MIN, d->comm) == MPI_SUCCESS ? CCNN_OK : CCNN_EDIST;
}

int ccnn_dist_any(ccnn_dist *d, int flag, int *any)
{
    int in = flag != 0;
    return MPI_Allreduce(&in, any, 1, MPI_INT, MPI_MAX, d->comm) == MPI_SUCCESS ? CCNN_OK : CCNN_EDIST;
}

int ccnn_dist_same(ccnn_dist *d, uint64_t h, int *same)
{
    uint64_t lo_hi[2] = {h, ~h}, r[2];
    /* max of h and max of ~h (= ~min h): all equal iff max == min */
    if (MPI_Allreduce(lo_hi, r, 2, MPI_UINT64_T, MPI_MAX, d->comm) != MPI_SUCCESS) return CCNN_EDIST;
    *same = r[0] == ~r[1];
    return CCNN_OK;
}

#else /* no MPI: nothing can create a dist, so nothing else is reached */

int ccnn_dist_create(ccnn_dist **out, const void *comm) { (void)out; (void)comm; return CCNN_EINVAL; }
void ccnn_dist_free(ccnn_dist *d) { (void)d; }
int ccnn_dist_rank(const ccnn_dist *d) { (void)d; return 0; }
int ccnn_dist_size(const ccnn_dist *d) { (void)d; return 1; }
int ccnn_dist_set_step(ccnn_dist *d, int batch) { (void)d; (void)batch; return CCNN_EINVAL; }
const ccnn_dist_step *ccnn_dist_get_step(const ccnn_dist *d) { (void)d; return NULL; }
int ccnn_dist_allgather(ccnn_dist *d, const float *l, size_t p, float *g)
{ (void)d; (void)l; (void)p; (void)g; return CCNN_EDIST; }
int ccnn_dist_reduce_chunks(ccnn_dist *d, float *c, size_t s, int n, float *o, size_t len, int tag)
{ (void)d; (void)c; (void)s; (void)n; (void)o; (void)len; (void)tag; return CCNN_EDIST; }
int ccnn_dist_begin_chunks(ccnn_dist *d, float *c, float *o, size_t len, int tag, float **sum)
{ (void)d; (void)c; (void)o; (void)len; (void)tag; *sum = NULL; return CCNN_EDIST; }
int ccnn_dist_wait(ccnn_dist *d) { (void)d; return CCNN_EDIST; }
int ccnn_dist_sum(ccnn_dist *d, double *v, int n) { (void)d; (void)v; (void)n; return CCNN_EDIST; }
int ccnn_dist_min(ccnn_dist *d, int v, int *o) { (void)d; (void)v; (void)o; return CCNN_EDIST; }
int ccnn_dist_any(ccnn_dist *d, int f, int *a) { (void)d; (void)f; (void)a; return CCNN_EDIST; }
int ccnn_dist_same(ccnn_dist *d, uint64_t h, int *s) { (void)d; (void)h; (void)s; return CCNN_EDIST; }
#endif
