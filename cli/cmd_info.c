/* cmd_info.c - `ccnn info`: each layer's output shape, parameters and FLOPs. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: ccnn info [--net FILE | --model MODEL] [--memory-limit SIZE]\n"
    "\n"
    "Prints each layer's output shape, parameter count and forward FLOPs per image\n"
    "(a multiply-add counts 2), the totals, and the memory training would take at\n"
    "the network's batch size (an estimate from the shapes; nothing large is\n"
    "allocated). Default: the built-in default network.\n";

int cmd_info(int argc, char **argv)
{
    const char *netfile = NULL, *model = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (strncmp(a, "--", 2)) { cli_error("info", "unexpected argument '%s' (see --help)", a); return 2; }
        if (!(v = cli_option("info", argc, argv, &i, "--net --model --memory-limit"))) return 2;
        if (!strcmp(a, "--net")) netfile = v;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--memory-limit")) { if (cli_memory_limit("info", v)) return 2; }
        else { cli_error("info", "unknown option '%s' (see --help)", a); return 2; }
    }
    if (netfile && model) { cli_error("info", "give --net or --model, not both"); return 2; }
    ccnn_net *net = NULL;
    char err[512];
    int rc;
    if (model) rc = cli_load_model("info", model, &net, NULL);
    else {
        rc = netfile ? ccnn_net_load_file(netfile, &net, err, sizeof err)
                     : ccnn_net_parse(cli_default_net, "nets/fashion-default.net (built in)", &net, err, sizeof err);
        if (rc) cli_error("info", "%s", err);
    }
    if (rc) return 1;
    const ccnn_input_spec *in = ccnn_net_input(net);
    printf("%-3s %-16s %-15s %-14s %12s %14s\n", "#", "name", "type", "output", "params", "FLOPs");
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", in->c, in->h, in->w);
    printf("%-3d %-16s %-15s %-14s %12d %14d\n", 0, "input", "input", shape, 0, 0);
    size_t total_p = 0;
    double total_f = 0;
    for (int i = 0; i < ccnn_net_num_layers(net); i++) {
        ccnn_layer_info li;
        ccnn_net_layer_info(net, i, &li);
        snprintf(shape, sizeof shape, "%dx%dx%d", li.c, li.h, li.w);
        printf("%-3d %-16s %-15s %-14s %12zu %14.0f\n", i + 1, li.name, li.type, shape, li.params, li.flops);
        total_p += li.params;
        total_f += li.flops;
    }
    printf("total: %zu parameters (%.2f MB as float32), %.3f MFLOPs forward per image\n", total_p,
           total_p * 4.0 / 1e6, total_f / 1e6);
    int batch = ccnn_net_train_config(net)->batch;
    ccnn_memory_estimate m;
    char a[32], b[32], c[32], d[32], e[32];
    if (!ccnn_net_memory(net, batch, &m))
        printf("memory to train at batch %d: about %s (parameters and gradients %s, optimizer %s, "
               "activations %s); limit %s\n", batch, ccnn_format_bytes(m.total, a, sizeof a),
               ccnn_format_bytes(m.params, b, sizeof b), ccnn_format_bytes(m.optimizer, c, sizeof c),
               ccnn_format_bytes(m.activations, d, sizeof d), ccnn_format_bytes(ccnn_memory_limit(), e, sizeof e));
    ccnn_net_free(net);
    return 0;
}
