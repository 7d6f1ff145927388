/* test_netfile_opts.c - the table of layer options (src/net/netfile_opts.c)
 * that the net-file parser and writer share: every row, with every layer
 * type that takes it, set to a valid value other than its default, read,
 * written, read again; and the refusals of unknown and out-of-range values
 * with their exact texts.
 *
 * The values, their expected fields and written forms are written by hand
 * here, not derived from the table; the table is only walked to check
 * that every (row, layer type) pair has a case below, so a new row without
 * a case fails. */
#include "test.h"
#include "net/net_internal.h"
#include "net/netfile_opts.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;
    const char *types;   /* the layer types it is tried on, separated by blanks */
    const char *context; /* options the layer line needs for this value to be valid */
    const char *value;
    const char *written; /* as the writer must write it back */
} opt_case;

/* The layer under test reads a 4x8x8 map; "a" and "b" are layers before it
 * (b is the previous one) so input= can name a layer that is not the
 * default. */
static const opt_case cases[] = {
    {"name", "conv deconv dense relu leaky_relu sigmoid tanh maxpool avgpool global_avgpool batchnorm "
             "dropout flatten add concat softmax", "", "my_Layer-2", "name=my_Layer-2"},
    {"input", "conv deconv dense relu leaky_relu sigmoid tanh maxpool avgpool global_avgpool batchnorm "
              "dropout flatten softmax", "", "a", "input=a"},
    {"input", "add concat", "", "b,a,b,a", "input=b,a,b,a"},
    {"filters", "conv deconv", "", "6", "filters=6"},
    {"units", "dense", "", "7", "units=7"},
    {"size", "conv deconv maxpool avgpool", "", "2x3", "size=2x3"},
    {"stride", "conv deconv maxpool avgpool", "", "2,3", "stride=2x3"},
    {"pad", "conv deconv", "", "1,2,3,0", "pad=1,2,3,0"},
    {"pad", "maxpool avgpool", "", "1x0", "pad=1,1,0,0"},
    {"dilation", "conv deconv", "size=3", "2x3", "dilation=2x3"},
    {"groups", "conv deconv", "", "2", "groups=2"},
    {"output_pad", "deconv", "stride=3", "1x2", "output_pad=1x2"},
    {"bias", "conv deconv dense", "", "0", "bias=0"},
    {"init", "conv deconv dense", "", "xavier", "init=xavier"},
    {"slope", "leaky_relu", "", "-0.25", "slope=-0.25"},
    {"rate", "dropout", "", "0.125", "rate=0.125"},
    {"eps", "batchnorm", "", "0.001", "eps=0.00100000005"},
    {"momentum", "batchnorm", "", "1", "momentum=1"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* What each case must have stored (hand-written; defaults in comments). */
static int field_ok(const opt_case *c, const ccnn_layer_spec *s)
{
    const char *k = c->key;
    if (!strcmp(k, "name")) return !strcmp(s->name, "my_Layer-2");       /* <type>3 */
    if (!strcmp(k, "input")) {                                              /* none: the previous */
        if (!strcmp(c->value, "a")) return s->n_inputs == 1 && !strcmp(s->inputs[0], "a");
        return s->n_inputs == 4 && !strcmp(s->inputs[0], "b") && !strcmp(s->inputs[1], "a") &&
               !strcmp(s->inputs[2], "b") && !strcmp(s->inputs[3], "a");
    }
    if (!strcmp(k, "filters")) return s->filters == 6;                      /* 4 in the context */
    if (!strcmp(k, "units")) return s->filters == 7;
    if (!strcmp(k, "size")) return s->size_h == 2 && s->size_w == 3;        /* 1 or 3 */
    if (!strcmp(k, "stride")) return s->stride_h == 2 && s->stride_w == 3;  /* 1 or the size */
    if (!strcmp(k, "pad") && c->value[1] == ',')
        return s->pad_top == 1 && s->pad_bottom == 2 && s->pad_left == 3 && s->pad_right == 0;
    if (!strcmp(k, "pad")) return s->pad_top == 1 && s->pad_bottom == 1 && s->pad_left == 0 && s->pad_right == 0;
    if (!strcmp(k, "dilation")) return s->dilation_h == 2 && s->dilation_w == 3; /* 1 */
    if (!strcmp(k, "groups")) return s->groups == 2;                        /* 1 */
    if (!strcmp(k, "output_pad")) return s->output_pad_h == 1 && s->output_pad_w == 2; /* 0 */
    if (!strcmp(k, "bias")) return s->no_bias == 1;                         /* 0 */
    if (!strcmp(k, "init")) return s->init == CCNN_INIT_XAVIER;             /* he */
    if (!strcmp(k, "slope")) return s->slope == -0.25f;                     /* 0.01 */
    if (!strcmp(k, "rate")) return s->rate == 0.125f;                       /* 0.5 */
    if (!strcmp(k, "eps")) return s->eps == 0.001f;                         /* 1e-5 */
    if (!strcmp(k, "momentum")) return s->momentum == 1.0f;                 /* 0.1 */
    return 0;
}

/* Options every line of that type needs, whatever is tried. */
static const char *base_options(const char *type)
{
    if (!strcmp(type, "conv") || !strcmp(type, "deconv")) return "filters=4 size=1";
    if (!strcmp(type, "dense")) return "units=4";
    if (!strcmp(type, "maxpool") || !strcmp(type, "avgpool")) return "size=3";
    if (!strcmp(type, "add") || !strcmp(type, "concat")) return "input=a,b";
    return "";
}

static int takes(const char *list, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = list; (p = strstr(p, type)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n])) return 1;
    return 0;
}

/* Parses the net around one layer line: the third layer, on line 4. */
static ccnn_net *parse_line(const char *line, char *err, size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof text,
             "input 4x8x8\nconv name=a filters=4 size=1\nrelu name=b\n%s\n%s", line,
             strncmp(line, "softmax", 7) ? "flatten\nsoftmax\n" : ""); /* softmax is last */
    ccnn_net *net = NULL;
    return ccnn_net_parse(text, "t.net", &net, err, errlen) ? NULL : net;
}

CCNN_TEST(netfile_opts_every_row_has_a_case)
{
    for (size_t k = 0; k < netfile_n_layer_opts; k++) {
        const netfile_opt *o = &netfile_layer_opts[k];
        for (int t = 0; t < 32; t++) {
            const char *tn = ccnn_layer_type_name((ccnn_layer_type)t);
            if (!(o->types & NETFILE_BIT(t)) || ccnn_layer_type_from_name(tn ? tn : "") != t) continue;
            int found = 0;
            for (size_t i = 0; i < N_CASES; i++) found |= !strcmp(cases[i].key, o->key) && takes(cases[i].types, tn);
            CHECK_MSG(found, "option %s of %s has no round-trip case", o->key, tn);
        }
    }
    CHECK(netfile_n_layer_opts == 16); /* the rows of this test's cases */
}

CCNN_TEST(netfile_opts_round_trip_every_row)
{
    int tried = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const opt_case *c = &cases[i];
        char types[512];
        snprintf(types, sizeof types, "%s", c->types);
        char *save, *tn;
        for (tn = strtok_r(types, " ", &save); tn; tn = strtok_r(NULL, " ", &save)) {
            char line[640], plain[512], err[512] = "", *t1 = NULL, *t2 = NULL;
            snprintf(plain, sizeof plain, "%s %s %s", tn, base_options(tn), c->context);
            snprintf(line, sizeof line, "%s %s=%s", plain, c->key, c->value);
            ccnn_net *net = parse_line(line, err, sizeof err), *dflt = parse_line(plain, err, sizeof err), *again = NULL;
            CHECK_MSG(net && dflt, "'%s': %s", line, err);
            if (!net || !dflt) { ccnn_net_free(net); ccnn_net_free(dflt); continue; }
            const ccnn_layer_spec *s = &net->layers[2]->spec;
            CHECK_MSG(field_ok(c, s), "'%s': the value is not in its field", line);
            CHECK_MSG(memcmp(s, &dflt->layers[2]->spec, sizeof *s), "'%s': same spec as without %s", line, c->key);
            CHECK_RC(ccnn_net_to_text(net, &t1), CCNN_OK);
            char want[128];
            snprintf(want, sizeof want, " %s ", c->written);
            char *l4 = t1 ? strstr(t1, "\nrelu name=b\n") : NULL; /* the fourth line, with a blank after */
            char l4buf[512] = "";
            if (l4) {
                l4 += strlen("\nrelu name=b\n");
                snprintf(l4buf, sizeof l4buf, "%.*s ", (int)strcspn(l4, "\n"), l4);
            }
            CHECK_MSG(strstr(l4buf, want), "'%s' was written as '%s'", line, l4buf);
            if (t1) CHECK_MSG(!ccnn_net_parse(t1, "w.net", &again, err, sizeof err), "%s: %s", line, err);
            if (again) {
                CHECK_MSG(!memcmp(s, &again->layers[2]->spec, sizeof *s), "'%s': read back differently", line);
                CHECK_RC(ccnn_net_to_text(again, &t2), CCNN_OK);
                CHECK_MSG(t2 && !strcmp(t1, t2), "'%s': the second text differs", line);
            }
            tried++;
            free(t1);
            free(t2);
            ccnn_net_free(net);
            ccnn_net_free(dflt);
            ccnn_net_free(again);
        }
    }
    CHECK(tried == 16 + 14 + 2 + 2 + 1 + 4 + 4 + 2 + 2 + 2 + 2 + 1 + 3 + 3 + 1 + 1 + 1 + 1);
}

/* The refusals, as the parser words them (cli/explain_* show them too). */
CCNN_TEST(netfile_opts_refusals)
{
    static const struct { const char *line, *msg; } bad[] = {
        {"conv filters=4 size=1 units=3",
         "t.net:4: conv: unknown option 'units' (known: name, input, filters, size, stride, pad, dilation, "
         "groups, bias, init)"},
        {"deconv filters=4 size=1 Size=3",
         "t.net:4: deconv: unknown option 'Size' (known: name, input, filters, size, stride, pad, dilation, "
         "groups, output_pad, bias, init)"},
        {"dense units=4 filters=4", "t.net:4: dense: unknown option 'filters' (known: name, input, units, bias, init)"},
        {"maxpool size=2 dilation=2",
         "t.net:4: maxpool: unknown option 'dilation' (known: name, input, size, stride, pad)"},
        {"relu slope=0.1", "t.net:4: relu: unknown option 'slope' (known: name, input)"},
        {"leaky_relu rate=0.1", "t.net:4: leaky_relu: unknown option 'rate' (known: name, input, slope)"},
        {"dropout eps=0.1", "t.net:4: dropout: unknown option 'eps' (known: name, input, rate)"},
        {"batchnorm slope=0.1", "t.net:4: batchnorm: unknown option 'slope' (known: name, input, eps, momentum)"},
        {"conv filters=0 size=1", "t.net:4: conv: bad value '0' for filters: expected a positive integer"},
        {"dense units=16777217", "t.net:4: dense: bad value '16777217' for units: expected a positive integer"},
        {"conv filters=4 size=1x0", "t.net:4: conv: bad value '1x0' for size: expected N or HxW, positive"},
        {"avgpool size=2 stride=1048577",
         "t.net:4: avgpool: bad value '1048577' for stride: expected N or HxW, positive"},
        {"conv filters=4 size=1 pad=1,2,3",
         "t.net:4: conv: bad value '1,2,3' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT"},
        {"conv filters=4 size=1 pad=-1",
         "t.net:4: conv: bad value '-1' for pad: expected P, PHxPW or TOP,BOTTOM,LEFT,RIGHT"},
        {"conv filters=4 size=1 dilation=0", "t.net:4: conv: bad value '0' for dilation: expected N or HxW, positive"},
        {"deconv filters=4 size=1 groups=1.5", "t.net:4: deconv: bad value '1.5' for groups: expected a positive integer"},
        {"deconv filters=4 size=1 output_pad=-1", "t.net:4: deconv: bad value '-1' for output_pad: expected N or HxW"},
        {"dense units=4 bias=2", "t.net:4: dense: bad value '2' for bias: expected 0 or 1"},
        {"conv filters=4 size=1 init=lecun", "t.net:4: conv: bad value 'lecun' for init: expected he or xavier"},
        {"leaky_relu slope=nan", "t.net:4: leaky_relu: bad value 'nan' for slope: expected a number"},
        {"dropout rate=1", "t.net:4: dropout: bad value '1' for rate: expected a number in [0, 1)"},
        {"dropout rate=-0.1", "t.net:4: dropout: bad value '-0.1' for rate: expected a number in [0, 1)"},
        {"batchnorm eps=0", "t.net:4: batchnorm: bad value '0' for eps: expected a positive number"},
        {"batchnorm eps=1e-50", "t.net:4: batchnorm: bad value '1e-50' for eps: expected a positive number"},
        {"batchnorm momentum=0", "t.net:4: batchnorm: bad value '0' for momentum: expected a number in (0, 1]"},
        {"batchnorm momentum=1.001", "t.net:4: batchnorm: bad value '1.001' for momentum: expected a number in (0, 1]"},
        {"tanh name=9a",
         "t.net:4: tanh: bad value '9a' for name: expected a name: letters, digits, _ or -, starting with a letter or _"},
        {"add input=a,,b", "t.net:4: add: bad value 'a,,b' for input: expected one to four layer names separated by commas"},
        {"conv", "t.net:4: conv: size= is required"},
        {"deconv filters=4", "t.net:4: deconv: size= is required"},
        {"conv size=1", "t.net:4: conv: filters= is required"},
        {"maxpool stride=2", "t.net:4: maxpool: size= is required"},
        {"dense bias=0", "t.net:4: dense: units= is required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        ccnn_net *net = parse_line(bad[i].line, err, sizeof err);
        CHECK_MSG(!net, "'%s' was accepted", bad[i].line);
        CHECK_MSG(!strcmp(err, bad[i].msg), "'%s':\n  got      %s\n  expected %s", bad[i].line, err, bad[i].msg);
        ccnn_net_free(net);
    }
    /* the ends that are inside the range */
    static const char *const good[] = {"dropout rate=0", "batchnorm momentum=1 eps=1e-30",
                                       "deconv filters=4 size=1 stride=2 output_pad=0x1", "conv filters=4 size=1 pad=0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[512] = "";
        ccnn_net *net = parse_line(good[i], err, sizeof err);
        CHECK_MSG(net, "'%s': %s", good[i], err);
        ccnn_net_free(net);
    }
}
