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
#endif
