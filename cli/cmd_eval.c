/* cmd_eval.c - `ccnn eval`: test accuracy of a model, overall and per class. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: ccnn eval --model MODEL [--data DIR] [--threads N] [--memory-limit SIZE]\n"
    "\n"
    "Evaluates MODEL on the test set of DIR (default: " CLI_DEFAULT_DATA ")\n"
    "and prints per-class accuracy, then 'test accuracy: 0.XXXX' (the same number\n"
    "`ccnn train` printed for this model).\n";

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = CLI_DEFAULT_DATA, *v;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (strncmp(a, "--", 2)) { cli_error("eval", "unexpected argument '%s' (see --help)", a); return 2; }
        if (!(v = cli_option("eval", argc, argv, &i, "--model --data --threads --memory-limit"))) return 2;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--threads")) { if (cli_int("eval", a, v, 1, 1024, &threads)) return 2; }
        else if (!strcmp(a, "--memory-limit")) { if (cli_memory_limit("eval", v)) return 2; }
        else { cli_error("eval", "unknown option '%s' (see --help)", a); return 2; }
    }
    if (!model) { cli_error("eval", "--model MODEL is required (see --help)"); return 2; }
    if (threads) ccnn_set_num_threads(threads);

    ccnn_net *net = NULL;
    ccnn_dataset *train = NULL, *test = NULL;
    int *conf = NULL, status = 1;
    if (cli_load_model("eval", model, &net, NULL) || cli_load_data("eval", data, &train, &test)) goto done;
    const ccnn_input_spec *in = ccnn_net_input(net);
    int classes = ccnn_net_num_classes(net);
    if (test->c != in->c || test->h != in->h || test->w != in->w || test->n_classes > classes) {
        cli_error("eval", "%s: images are %dx%dx%d with %d classes, the model takes %dx%dx%d with %d classes",
                  data, test->c, test->h, test->w, test->n_classes, in->c, in->h, in->w, classes);
        goto done;
    }
    conf = calloc((size_t)classes * classes, sizeof *conf);
    if (!conf) { cli_error("eval", "out of memory"); goto done; }
    double acc, loss;
    int rc = ccnn_evaluate(net, test, 256, &acc, &loss, conf);
    if (rc) { cli_error("eval", "%s", ccnn_strerror(rc)); goto done; }
    printf("%-5s %-16s %8s %8s\n", "class", "name", "images", "accuracy");
    for (int k = 0; k < classes; k++) {
        long total = 0;
        for (int j = 0; j < classes; j++) total += conf[k * classes + j];
        if (!total) continue;
        printf("%-5d %-16s %8ld %8.4f\n", k, k < 16 ? test->class_names[k] : "", total,
               (double)conf[k * classes + k] / total);
    }
    printf("test loss: %.4f\n", loss);
    printf("test accuracy: %.4f\n", acc);
    status = 0;
done:
    free(conf);
    ccnn_dataset_free(train);
    ccnn_dataset_free(test);
    ccnn_net_free(net);
    return status;
}
