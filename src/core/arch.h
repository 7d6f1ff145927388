/* arch.h - the one test for the CPU family the build targets. Kernels for
 * an instruction set are compiled (with target attributes) only where its
 * family is the build's; run-time dispatch (core/isa.c) then picks among
 * those the CPU actually runs. */
#ifndef CCNN_ARCH_H
#define CCNN_ARCH_H

#if defined(__x86_64__) || defined(__i386__)
#define CCNN_X86 1
#else
#define CCNN_X86 0
#endif

#if defined(__aarch64__)
#define CCNN_ARM64 1
#else
#define CCNN_ARM64 0
#endif

#endif
