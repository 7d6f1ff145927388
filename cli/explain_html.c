/* explain_html.c - placeholder */
#include "explain.h"
int explain_write_html(FILE *f, const explain_t *e) { (void)e; fprintf(f, "<!doctype html>\n"); return 0; }
void explain_svg_windows(FILE *f, const explain_t *e) { (void)f; (void)e; }
void explain_svg_delta(FILE *f, const explain_t *e) { (void)f; (void)e; }
void explain_svg_kernels(FILE *f, const explain_t *e) { (void)f; (void)e; }
