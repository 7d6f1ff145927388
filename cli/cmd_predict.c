/* cmd_predict.c - `ccnn predict`: classify image files with a model.
 * Images are decoded by the library (ccnn_image_load: libpng, libjpeg-turbo
 * and its own PBM/PGM/PPM reader). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: ccnn predict --model MODEL [--top K] [--invert] [--max-pixels N]\n"
    "                    [--memory-limit SIZE] IMAGE...\n"
    "\n"
    "Classifies each IMAGE and prints its top K classes (default 3) with\n"
    "probabilities. Formats (told by the file's first bytes, not its name):\n"
    "PNG, JPEG (not CMYK), PBM/PGM/PPM (P1-P6). Images of another size are resized\n"
    "(bilinear) to the network's input; gray, RGB and RGBA are converted to the\n"
    "network's 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels.\n"
    "  --invert        use 255 - pixel (Fashion-MNIST items are light on black;\n"
    "                  photos of dark items on white need this)\n"
    "  --max-pixels N  refuse larger images, checked before decoding\n"
    "                  (default 33554432, 32 Mi pixels)\n";

/* Class names stored by `ccnn train` in the model's metadata, if any. */
static void class_names(const char *model, char names[][CCNN_NAME_MAX], int n)
{
    for (int k = 0; k < n; k++) snprintf(names[k], CCNN_NAME_MAX, "class %d", k);
    char *meta = NULL, err[256];
    if (ccnn_model_read_meta(model, "ccnn.metrics", &meta, err, sizeof err)) return;
    cJSON *root = cJSON_Parse(meta), *e;
    free(meta);
    int k = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "classes")) {
        if (k < n && cJSON_IsString(e) && e->valuestring[0])
            snprintf(names[k], CCNN_NAME_MAX, "%s", e->valuestring);
        k++;
    }
    cJSON_Delete(root);
}

/* Loads one image as C x H x W bytes into ds (one image). */
static int load_image(const char *path, const ccnn_input_spec *in, int invert, uint64_t max_pixels,
                      ccnn_dataset *ds)
{
    char err[512];
    if (ccnn_image_load(path, in->c, in->h, in->w, max_pixels, ds->images, NULL, err, sizeof err))
        return cli_error("predict", "%s", err);
    if (invert)
        for (size_t i = 0; i < (size_t)in->c * in->h * in->w; i++) ds->images[i] = (uint8_t)(255 - ds->images[i]);
    return 0;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *v;
    int top = 3, invert = 0, first_image = argc;
    unsigned long long max_pixels = CCNN_IMAGE_MAX_PIXELS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (!strcmp(a, "--invert")) { invert = 1; continue; }
        if (strncmp(a, "--", 2)) { first_image = i; break; }
        if (!(v = cli_option("predict", argc, argv, &i, "--model --top --max-pixels --memory-limit"))) return 2;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--top")) { if (cli_int("predict", a, v, 1, 1000, &top)) return 2; }
        else if (!strcmp(a, "--memory-limit")) { if (cli_memory_limit("predict", v)) return 2; }
        else if (!strcmp(a, "--max-pixels")) {
            if (cli_u64("predict", a, v, &max_pixels)) return 2;
            if (!max_pixels) { cli_error("predict", "--max-pixels: must be at least 1"); return 2; }
        }
        else { cli_error("predict", "unknown option '%s' (see --help)", a); return 2; }
    }
    if (!model) { cli_error("predict", "--model MODEL is required (see --help)"); return 2; }
    if (first_image >= argc) { cli_error("predict", "no IMAGE given (see --help)"); return 2; }

    ccnn_net *net = NULL;
    if (cli_load_model("predict", model, &net, NULL)) return 1;
    const ccnn_input_spec *in = ccnn_net_input(net);
    int classes = ccnn_net_num_classes(net), status = 0;
    if (top > classes) top = classes;
    char (*names)[CCNN_NAME_MAX] = calloc((size_t)classes, CCNN_NAME_MAX);
    ccnn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 1; ds.c = in->c; ds.h = in->h; ds.w = in->w; ds.n_classes = classes;
    ds.images = malloc((size_t)in->c * in->h * in->w);
    float *x = malloc((size_t)in->c * in->h * in->w * sizeof(float));
    int *order = malloc((size_t)classes * sizeof(int));
    if (!names || !ds.images || !x || !order) { cli_error("predict", "out of memory"); status = 1; goto done; }
    class_names(model, names, classes);
    for (int i = first_image; i < argc; i++) {
        int zero = 0, rc;
        if (load_image(argv[i], in, invert, max_pixels, &ds)) { status = 1; continue; }
        if ((rc = ccnn_normalize(&ds, in, &zero, 1, x)) || (rc = ccnn_net_forward(net, x, 1, 0, 0))) {
            cli_error("predict", "%s: %s", argv[i], ccnn_strerror(rc));
            status = 1;
            continue;
        }
        const float *p = ccnn_net_output(net);
        for (int k = 0; k < classes; k++) order[k] = k;
        for (int a = 0; a < top; a++) /* partial selection sort: top is small */
            for (int b = a + 1; b < classes; b++)
                if (p[order[b]] > p[order[a]]) { int t = order[a]; order[a] = order[b]; order[b] = t; }
        printf("%s:", argv[i]);
        for (int a = 0; a < top; a++) printf("%s %s %.4f", a ? "," : "", names[order[a]], p[order[a]]);
        printf("\n");
    }
done:
    free(names); free(ds.images); free(x); free(order);
    ccnn_net_free(net);
    return status;
}
