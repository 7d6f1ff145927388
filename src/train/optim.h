/* optim.h - optimizers and learning-rate schedules (PyTorch's semantics). */
#ifndef CCNN_OPTIM_H
#define CCNN_OPTIM_H
#include "ccnn.h"
#include <stddef.h>
#include <stdint.h>

/* The learning rate for the 0-based epoch `epoch`. */
double ccnn_schedule_lr(const ccnn_train_config *c, int epoch);

/* One update of params p[n] from gradients g[n]. m and v are the optimizer's
 * moment buffers (SGD uses m as its momentum buffer); `t` is the 1-based
 * step number (Adam's bias correction). */
void ccnn_optim_step(const ccnn_train_config *c, double lr, uint64_t t, float *p, const float *g,
                     float *m, float *v, size_t n);
#endif
