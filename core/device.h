/* device.h — which compute backends this build has and what it can see.
 * The CPU path is complete on its own; CUDA is optional (make CUDA=1). */
#ifndef WMSIM_DEVICE_H
#define WMSIM_DEVICE_H

#include <stddef.h>

#include "core/error.h"

/* 1 when built with CUDA (make CUDA=1). */
int device_cuda_built(void);

/* Number of usable CUDA devices; 0 without CUDA, a driver or a GPU. When
 * there are none, why (e.g. "built without CUDA", "no CUDA-capable device")
 * is written to reason. */
int device_cuda_count(char *reason, size_t reason_len);

/* Makes device index the calling process's current CUDA device. */
int device_cuda_select(int index, wm_error *err);

#endif
