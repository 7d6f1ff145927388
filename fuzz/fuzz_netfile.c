/* fuzz_netfile.c - network files: parse; whatever parses is written back
 * (ccnn_net_to_text) and must parse again to the same text. */
#include "fuzz.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_limits();
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ccnn_net *net = NULL, *again = NULL;
    char err[512];
    if (ccnn_net_parse(text, "fuzz.net", &net, err, sizeof err) == 0) {
        char *t1 = NULL, *t2 = NULL;
        if (ccnn_net_to_text(net, &t1)) __builtin_trap();
        if (ccnn_net_parse(t1, "written.net", &again, err, sizeof err)) {
            fprintf(stderr, "the written text does not parse: %s\n%s", err, t1);
            __builtin_trap();
        }
        if (ccnn_net_to_text(again, &t2) || strcmp(t1, t2) || ccnn_net_num_params(net) != ccnn_net_num_params(again)) {
            fprintf(stderr, "round trip differs:\n%s---\n%s", t1, t2 ? t2 : "");
            __builtin_trap();
        }
        free(t1);
        free(t2);
    }
    ccnn_net_free(net);
    ccnn_net_free(again);
    free(text);
    return 0;
}
