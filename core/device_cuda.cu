// The CUDA side of core/device.h: asks the runtime how many devices it sees.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" int device_cuda_count_impl(char *reason, size_t reason_len) {
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess) {
        if (reason && reason_len) snprintf(reason, reason_len, "%s", cudaGetErrorString(rc));
        cudaGetLastError(); // clear the sticky error so later calls start clean
        return 0;
    }
    if (n == 0 && reason && reason_len) snprintf(reason, reason_len, "no CUDA-capable device");
    return n;
}

extern "C" int device_cuda_select_impl(int index, char *reason, size_t reason_len) {
    cudaError_t rc = cudaSetDevice(index);
    if (rc == cudaSuccess) return 0;
    if (reason && reason_len) snprintf(reason, reason_len, "%s", cudaGetErrorString(rc));
    cudaGetLastError();
    return -1;
}
