/* cluster.c — MPI when built with it (WMSIM_MPI), a single rank otherwise. */
#include "sim/cluster.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"

#ifdef WMSIM_MPI
#include <mpi.h>
#endif

int cluster_mpi_built(void) {
#ifdef WMSIM_MPI
    return 1;
#else
    return 0;
#endif
}

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    if (!v || !*v) return fallback;
    char *end;
    long x = strtol(v, &end, 10);
    return *end == '\0' && x >= 0 && x <= INT_MAX ? (int)x : fallback;
}

/* The launchers' own variables: Open MPI's mpirun, and Slurm's srun (PMI). */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") ||
           (getenv("SLURM_PROCID") && getenv("SLURM_STEP_ID"));
}

int cluster_init(cluster *c, wm_error *err) {
    memset(c, 0, sizeof *c);
    c->size = 1;
    c->local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", env_int("SLURM_LOCALID", 0));
    if (!launched()) return 0;
#ifdef WMSIM_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS) return wm_fail(err, "cluster: MPI_Init failed");
    c->mpi = !inited;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    return 0;
#else
    if (env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", env_int("SLURM_NTASKS", 1))) > 1)
        return wm_fail(err, "cluster: launched as one of several ranks, but this wmsim was built without MPI "
                            "(make MPI=1 with Debian's libopenmpi-dev)");
    return 0;
#endif
}

void cluster_finish(cluster *c) {
#ifdef WMSIM_MPI
    if (c->mpi) MPI_Finalize();
#endif
    c->mpi = 0;
}

int cluster_all_ok(const cluster *c, int ok) {
#ifdef WMSIM_MPI
    if (c->size > 1) {
        int all = 0;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        return all;
    }
#else
    (void)c;
#endif
    return ok;
}

void cluster_merge_slots(const cluster *c, void *slots, size_t bytes) {
#ifdef WMSIM_MPI
    if (c->size <= 1) return;
    /* In chunks: MPI counts are ints. */
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < (size_t)1 << 30 ? bytes - off : (size_t)1 << 30;
        MPI_Allreduce(MPI_IN_PLACE, (char *)slots + off, (int)n, MPI_BYTE, MPI_BOR, MPI_COMM_WORLD);
        off += n;
    }
#else
    (void)c, (void)slots, (void)bytes;
#endif
}

int cluster_device_for_rank(const cluster *c, int n_devices) {
    const char *pinned = getenv("CUDA_VISIBLE_DEVICES");
    if (n_devices <= 0 || (pinned && *pinned)) return -1;
    return c->local_rank % n_devices;
}

int cluster_use_device(const cluster *c, wm_error *err) {
    int d = cluster_device_for_rank(c, device_cuda_count(NULL, 0));
    return d < 0 ? 0 : device_cuda_select(d, err);
}
