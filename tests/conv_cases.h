/* conv_cases.h - random convolution configurations shared by conv tests. */
#ifndef CCNN_CONV_CASES_H
#define CCNN_CONV_CASES_H
#include "test.h"

/* A random valid configuration whose sizes stay below `max_hw` and `max_ch`;
 * every option (stride, asymmetric padding, dilation, groups) is drawn. */
ccnn_conv2d_params conv_case_random(test_rng *rng, int max_hw, int max_ch, int max_n);
size_t conv_x_count(const ccnn_conv2d_params *p);
size_t conv_w_count(const ccnn_conv2d_params *p);
size_t conv_y_count(const ccnn_conv2d_params *p);
void conv_case_print(const ccnn_conv2d_params *p, char *buf, size_t len);
#endif
