/* dist.c - the command's side of data-parallel training (docs/distributed.md):
 * MPI is started only when the process was launched by mpirun or srun, so
 * an MPI build run alone behaves as a build without MPI; rank 0 alone
 * prints; the processes agree on failures, so none waits for a dead peer.
 * MPI_Abort lives here, never in the library. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>

static int g_rank, g_size = 1, g_local = 1;

#ifdef CCNN_MPI
#include <mpi.h>

static int g_mpi;
static FILE *g_real_stderr;    /* ranks > 0 buffer their messages until cli_dist_failed */
static char *g_buf;
static size_t g_len;

static int launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int cli_dist_init(int *argc, char ***argv)
{
    if (!launched_by_mpi()) return 0;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "ccnn: cannot start MPI\n");
        return -1;
    }
    g_mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    }
    if (g_rank > 0) { /* one copy of the output: rank 0's */
        if (!freopen("/dev/null", "w", stdout)) return -1;
        FILE *m = open_memstream(&g_buf, &g_len);
        if (m) {
            fflush(stderr);
            g_real_stderr = stderr;
            stderr = m;
        }
    }
    return 0;
}

const void *cli_dist_comm(void)
{
    static MPI_Comm world;
    world = MPI_COMM_WORLD;
    return g_mpi ? &world : NULL;
}

int cli_dist_failed(int failed)
{
    if (!g_mpi) return failed;
    int lowest = g_size, mine = failed ? g_rank : g_size;
    if (MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) lowest = -1;
    if (g_real_stderr) { /* the first failing process's message, once */
        fclose(stderr);
        stderr = g_real_stderr;
        g_real_stderr = NULL;
        if (lowest == g_rank && g_buf) fputs(g_buf, stderr);
        free(g_buf);
        g_buf = NULL;
    }
    return lowest != g_size;
}

void cli_dist_abort(int code)
{
    if (g_mpi && g_size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

void cli_dist_finish(void)
{
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
}

#else

int cli_dist_init(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }
const void *cli_dist_comm(void) { return NULL; }
int cli_dist_failed(int failed) { return failed; }
void cli_dist_abort(int code) { (void)code; }
void cli_dist_finish(void) {}
#endif

int cli_dist_rank(void) { return g_rank; }
int cli_dist_size(void) { return g_size; }
int cli_dist_local_size(void) { return g_local; }
