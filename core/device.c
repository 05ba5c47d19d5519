#include "core/device.h"

#include <stdio.h>

#ifdef WMSIM_CUDA
int device_cuda_count_impl(char *reason, size_t reason_len); /* core/device_cuda.cu */
int device_cuda_select_impl(int index, char *reason, size_t reason_len);
#endif

int device_cuda_built(void) {
#ifdef WMSIM_CUDA
    return 1;
#else
    return 0;
#endif
}

int device_cuda_count(char *reason, size_t reason_len) {
#ifdef WMSIM_CUDA
    return device_cuda_count_impl(reason, reason_len);
#else
    if (reason && reason_len) snprintf(reason, reason_len, "built without CUDA (make CUDA=1)");
    return 0;
#endif
}

int device_cuda_select(int index, wm_error *err) {
#ifdef WMSIM_CUDA
    char why[256] = "";
    if (device_cuda_select_impl(index, why, sizeof why) == 0) return 0;
    return wm_fail(err, "cuda device %d: %s", index, why);
#else
    return wm_fail(err, "cuda device %d: built without CUDA (make CUDA=1)", index);
#endif
}
