/* cli.h - shared pieces of the ccnn command. The command is a thin user of
 * the public API (include/ccnn.h); nothing here reaches into the library. */
#ifndef CCNN_CLI_H
#define CCNN_CLI_H
#include "ccnn.h"

#define CLI_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* The default network (nets/fashion-default.net, compiled in). */
extern const char cli_default_net[];

/* Option values, checked: on a bad value, print "ccnn CMD: --opt: ..." and
 * return -1. */
int cli_int(const char *cmd, const char *opt, const char *val, long lo, long hi, int *out);
int cli_float(const char *cmd, const char *opt, const char *val, double lo, double hi, float *out);
int cli_u64(const char *cmd, const char *opt, const char *val, unsigned long long *out);
/* argv[*i] is an option taking a value: returns the value and advances *i,
 * or prints a message and returns NULL. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads a data directory, printing errors. */
int cli_load_data(const char *cmd, const char *dir, ccnn_dataset **train, ccnn_dataset **test);
/* Loads a model, printing errors. */
int cli_load_model(const char *cmd, const char *path, ccnn_net **net, ccnn_trainer **tr);

/* Data-parallel training (cli/dist.c). cli_dist_init starts MPI when the
 * process was launched by mpirun or srun (else one process: rank 0 of 1);
 * ranks > 0 then print nothing on stdout and keep their stderr until
 * cli_dist_failed. -1 if MPI would not start. */
int cli_dist_init(int *argc, char ***argv);
int cli_dist_rank(void);
int cli_dist_size(void);
int cli_dist_local_size(void); /* processes of the job on this machine */
/* A pointer to MPI_COMM_WORLD for ccnn_trainer_set_comm, NULL without MPI. */
const void *cli_dist_comm(void);
/* Every process calls it once, failed or not: returns whether any failed,
 * and prints the message of the first failing process only. */
int cli_dist_failed(int failed);
/* Ends every process of the job (MPI_Abort) when there are several; for a
 * failure the others cannot see. */
void cli_dist_abort(int code);
void cli_dist_finish(void);
#endif
