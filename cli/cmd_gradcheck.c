/* cmd_gradcheck.c - `ccnn gradcheck`: a network's analytic gradients
 * against central finite differences. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: ccnn gradcheck [--net FILE] [--batch N] [--checks N] [--seed N] [--tol X]\n"
    "\n"
    "Builds the network (default: the built-in default network), initialises it,\n"
    "and compares the gradient of every parameter tensor and of the input with\n"
    "central finite differences on a random batch (train mode: batch statistics,\n"
    "fixed dropout masks). Prints the worst error relative to the largest gradient\n"
    "of its tensor; exits 1 if it exceeds --tol (default 0.02: float arithmetic).\n"
    "  --checks N   elements checked in all, spread over the tensors (default 2000; 0: all)\n";

int cmd_gradcheck(int argc, char **argv)
{
    const char *netfile = NULL, *v;
    int batch = 4, checks = 2000;
    unsigned long long seed = 1;
    float tol = 0.02f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (strncmp(a, "--", 2)) { cli_error("gradcheck", "unexpected argument '%s' (see --help)", a); return 2; }
        if (!(v = cli_option("gradcheck", argc, argv, &i, "--net --batch --checks --seed --tol"))) return 2;
        if (!strcmp(a, "--net")) netfile = v;
        else if (!strcmp(a, "--batch")) { if (cli_int("gradcheck", a, v, 1, 4096, &batch)) return 2; }
        else if (!strcmp(a, "--checks")) { if (cli_int("gradcheck", a, v, 0, 100000000, &checks)) return 2; }
        else if (!strcmp(a, "--seed")) { if (cli_u64("gradcheck", a, v, &seed)) return 2; }
        else if (!strcmp(a, "--tol")) { if (cli_float("gradcheck", a, v, 0, 1e6, &tol)) return 2; }
        else { cli_error("gradcheck", "unknown option '%s' (see --help)", a); return 2; }
    }
    ccnn_net *net = NULL;
    char err[512] = "";
    int rc = netfile ? ccnn_net_load_file(netfile, &net, err, sizeof err)
                     : ccnn_net_parse(cli_default_net, "nets/fashion-default.net (built in)", &net, err, sizeof err);
    if (rc) { cli_error("gradcheck", "%s", err); return 1; }
    double worst = 0;
    rc = ccnn_net_init(net, seed);
    if (!rc) rc = ccnn_net_gradcheck(net, batch, checks, seed, &worst, err, sizeof err);
    ccnn_net_free(net);
    if (rc) { cli_error("gradcheck", "%s", err); return 1; }
    printf("worst relative error: %.3g (tolerance %.3g): %s\n  at %s\n", worst, tol,
           worst <= tol ? "ok" : "FAILED", err);
    return worst <= tol ? 0 : 1;
}
