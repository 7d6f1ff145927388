/* main.c - the ccnn command: dispatch to the subcommands. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: ccnn COMMAND [OPTIONS]\n"
    "\n"
    "  train      train a network (with no options: the default network on Fashion-MNIST)\n"
    "  eval       test accuracy of a model, overall and per class\n"
    "  predict    classify images with a model\n"
    "  info       layers, output shapes, parameters and FLOPs of a network\n"
    "  gradcheck  check a network's gradients against finite differences\n"
    "  explain    backpropagation through one convolution, worked out with numbers\n"
    "\n"
    "ccnn COMMAND --help for the options of a command.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("ccnn %s\n", CCNN_VERSION);
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"train", cmd_train}, {"eval", cmd_eval}, {"predict", cmd_predict},
        {"info", cmd_info}, {"gradcheck", cmd_gradcheck}, {"explain", cmd_explain},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ccnn: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
