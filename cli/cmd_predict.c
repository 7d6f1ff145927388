/* cmd_predict.c - `ccnn predict`: classify image files with a model.
 * Images are decoded by Debian's libstb (PNG, PGM/PPM, JPEG, BMP, ...). */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stb/stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: ccnn predict --model MODEL [--top K] [--invert] IMAGE...\n"
    "\n"
    "Classifies each IMAGE (PNG, PGM/PPM, JPEG, BMP) and prints its top K classes\n"
    "(default 3) with probabilities. Images of another size are resized (bilinear)\n"
    "to the network's input; colour images are converted for 1-channel networks.\n"
    "  --invert   use 255 - pixel (Fashion-MNIST items are light on black; photos\n"
    "             of dark items on white need this)\n";

/* Bilinear resize of an interleaved image, pixel centres aligned. */
static void resize(const unsigned char *src, int sw, int sh, int ch, unsigned char *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        double fy = (y + 0.5) * sh / dh - 0.5;
        int y0 = fy < 0 ? 0 : (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        double wy = fy - y0 < 0 ? 0 : fy - y0;
        for (int x = 0; x < dw; x++) {
            double fx = (x + 0.5) * sw / dw - 0.5;
            int x0 = fx < 0 ? 0 : (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            double wx = fx - x0 < 0 ? 0 : fx - x0;
            for (int c = 0; c < ch; c++) {
                double a = src[((size_t)y0 * sw + x0) * ch + c], b = src[((size_t)y0 * sw + x1) * ch + c];
                double d = src[((size_t)y1 * sw + x0) * ch + c], e = src[((size_t)y1 * sw + x1) * ch + c];
                double v = (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * d + wx * e);
                dst[((size_t)y * dw + x) * ch + c] = (unsigned char)(v + 0.5);
            }
        }
    }
}

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

/* Loads one image as C x H x W bytes in ds (one image). */
static int load_image(const char *path, const ccnn_input_spec *in, int invert, ccnn_dataset *ds)
{
    int w, h, n;
    unsigned char *px = stbi_load(path, &w, &h, &n, in->c);
    if (!px) return cli_error("predict", "%s: cannot read the image: %s", path, stbi_failure_reason());
    unsigned char *img = px;
    if (w != in->w || h != in->h) {
        img = malloc((size_t)in->w * in->h * in->c);
        if (!img) { stbi_image_free(px); return cli_error("predict", "out of memory"); }
        resize(px, w, h, in->c, img, in->w, in->h);
    }
    for (int c = 0; c < in->c; c++)
        for (int i = 0; i < in->h * in->w; i++) {
            unsigned char v = img[(size_t)i * in->c + c];
            ds->images[(size_t)c * in->h * in->w + i] = invert ? (unsigned char)(255 - v) : v;
        }
    if (img != px) free(img);
    stbi_image_free(px);
    return 0;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *v;
    int top = 3, invert = 0, first_image = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(help, stdout); return 0; }
        if (!strcmp(a, "--invert")) { invert = 1; continue; }
        if (strncmp(a, "--", 2)) { first_image = i; break; }
        if (!(v = cli_value("predict", argc, argv, &i))) return 2;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--top")) { if (cli_int("predict", a, v, 1, 1000, &top)) return 2; }
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
        if (load_image(argv[i], in, invert, &ds)) { status = 1; continue; }
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
