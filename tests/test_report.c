/* test_report.c - the CSV and HTML training reports (src/train/report.c). */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[512]; /* the writers' messages */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (!got) break;
        if (n == cap) {
            char *nb = realloc(b, (cap *= 2) + 1);
            if (!nb) { free(b); b = NULL; }
            else b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = 0;
    return b;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static const ccnn_epoch_stats EPOCHS[3] = {
    {1, 0.912345678, 0.71, 0.705, 12.5, 4800.04, 1e-3},
    {2, 0.5, 0.85, 0.8125, 11.25, 5333.3, 5e-4},
    {3, 0.25, 0.9, 0.875, 11.0, 5454.5, 1.25e-7},
};

CCNN_TEST(report_csv)
{
    char dir[] = "/tmp/ccnn_report_XXXXXX", path[128];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    CHECK_RC(ccnn_report_write_csv(path, EPOCHS, 3, err, sizeof err), CCNN_OK);
    char *text = read_text(path);
    REQUIRE(text);
    static const char want[] =
        "epoch,loss,train_acc,test_acc,seconds,images_per_s,lr\n"
        "1,0.912346,0.710000,0.705000,12.500,4800.0,0.001\n"
        "2,0.500000,0.850000,0.812500,11.250,5333.3,0.0005\n"
        "3,0.250000,0.900000,0.875000,11.000,5454.5,1.25e-07\n";
    CHECK_MSG(!strcmp(text, want), "CSV:\n%s", text);
    free(text);

    /* no epochs: just the header */
    CHECK_RC(ccnn_report_write_csv(path, NULL, 0, err, sizeof err), CCNN_OK);
    text = read_text(path);
    REQUIRE(text);
    CHECK(!strcmp(text, "epoch,loss,train_acc,test_acc,seconds,images_per_s,lr\n"));
    free(text);

    CHECK_RC(ccnn_report_write_csv(NULL, EPOCHS, 3, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_report_write_csv(path, NULL, 3, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_report_write_csv(dir, EPOCHS, 3, err, sizeof err), CCNN_EIO); /* a directory: not replaced */
    CHECK_MSG(strstr(err, dir) && strstr(err, "cannot replace"), "said '%s'", err);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    unlink(path);
    CHECK(rmdir(dir) == 0); /* nothing left behind */
}

CCNN_TEST(report_html)
{
    char dir[] = "/tmp/ccnn_report_XXXXXX", path[128];
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/report.html", dir);
    static const char names[3][CCNN_NAME_MAX] = {"cat", "<dog>", "a&b \"c\""};
    const int confusion[9] = {50, 3, 1, 4, 40, 6, 0, 2, 44};
    CHECK_RC(ccnn_report_write_html(path, "Run <1> & co", EPOCHS, 3, confusion, 3, names, err, sizeof err), CCNN_OK);
    char *html = read_text(path);
    REQUIRE(html);
    CHECK(!strncmp(html, "<!DOCTYPE html>", 15));
    CHECK(strstr(html, "</html>"));
    CHECK(strstr(html, "<title>Run &lt;1&gt; &amp; co</title>"));
    CHECK(!strstr(html, "<1>"));
    /* two plots: loss (one line) and accuracy (train and test) */
    CHECK(count_of(html, "<svg") == 2 && count_of(html, "</svg>") == 2);
    CHECK(count_of(html, "<polyline") == 3);
    CHECK(count_of(html, "<circle") == 9);
    CHECK(strstr(html, ">epoch</text>") && strstr(html, ">loss</text>") && strstr(html, ">accuracy</text>"));
    CHECK(strstr(html, ">train</text>") && strstr(html, ">test</text>")); /* legend */
    /* self-contained */
    CHECK(!strstr(html, "<script") && !strstr(html, "<link") && !strstr(html, "src="));
    /* the confusion matrix: 3x3 cells, escaped class names, counts */
    CHECK_MSG(count_of(html, "class=\"cell\"") == 9, "%d cells", count_of(html, "class=\"cell\""));
    CHECK(strstr(html, ">&lt;dog&gt;</th>") && strstr(html, ">a&amp;b &quot;c&quot;</th>"));
    CHECK(!strstr(html, "<dog>") && !strstr(html, "a&b"));
    CHECK(strstr(html, ">50</td>") && strstr(html, ">44</td>"));
    free(html);

    /* no class names: numbered; no epochs, no matrix */
    CHECK_RC(ccnn_report_write_html(path, NULL, EPOCHS, 1, confusion, 3, NULL, err, sizeof err), CCNN_OK);
    html = read_text(path);
    REQUIRE(html);
    CHECK(count_of(html, "class=\"cell\"") == 9 && strstr(html, "<th>2</th>"));
    CHECK(count_of(html, "<svg") == 2);
    free(html);
    CHECK_RC(ccnn_report_write_html(path, "empty", NULL, 0, NULL, 0, NULL, err, sizeof err), CCNN_OK);
    html = read_text(path);
    REQUIRE(html);
    CHECK(!strstr(html, "<svg") && !strstr(html, "class=\"cell\"") && strstr(html, "No epochs"));
    free(html);

    /* non-finite values leave gaps instead of breaking the plot */
    ccnn_epoch_stats e[3];
    memcpy(e, EPOCHS, sizeof e);
    e[1].loss = 0.0 / 0.0;
    CHECK_RC(ccnn_report_write_html(path, "nan", e, 3, NULL, 0, NULL, err, sizeof err), CCNN_OK);
    html = read_text(path);
    REQUIRE(html);
    CHECK(count_of(html, "<polyline") == 4 && !strstr(html, "nan,") && !strstr(html, ",nan"));
    free(html);

    CHECK_RC(ccnn_report_write_html(NULL, "x", EPOCHS, 3, NULL, 0, NULL, err, sizeof err), CCNN_EINVAL);
    CHECK_RC(ccnn_report_write_html(dir, "x", EPOCHS, 3, NULL, 0, NULL, err, sizeof err), CCNN_EIO);
    CHECK_MSG(strstr(err, dir), "said '%s'", err);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}
