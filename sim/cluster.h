/* cluster.h — the ranks of an MPI job (mpirun, Slurm's srun), or a single
 * rank when wmsim runs on its own or was built without MPI (make MPI=0).
 *
 * Usage (a command that shares a fixed list of items between ranks):
 *     cluster cl;
 *     if (cluster_init(&cl, &err)) ...      // MPI_Init only under a launcher
 *     batch_config b = {..., .rank = cl.rank, .ranks = cl.size};   // item k runs on rank k % size
 *     int ok = cluster_all_ok(&cl, batch_run(&b, &err) == 0);     // every rank learns whether all did
 *     if (cl.rank == 0) merge what the ranks wrote ...
 *     cluster_finish(&cl);
 *
 * Items go to ranks by their index, never by arrival order, so whatever
 * the rank count every item runs with the same inputs and the merged output
 * is the same byte for byte. Ranks share nothing but the output folder
 * and these collectives. */
#ifndef WMSIM_CLUSTER_H
#define WMSIM_CLUSTER_H

#include <stddef.h>

#include "core/error.h"

typedef struct cluster {
    int rank, size;   /* 0 and 1 without MPI */
    int local_rank;   /* the rank on its node: OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, else 0 */
    int mpi;          /* MPI_Init was called (cluster_finish finalizes) */
} cluster;

/* 1 when built with MPI (make MPI=1). */
int cluster_mpi_built(void);

/* Joins the job when launched by mpirun or srun (their environment says
 * so), else stands alone as rank 0 of 1. A launch under mpirun of a build
 * without MPI is an error: N copies would each run everything. */
int cluster_init(cluster *c, wm_error *err);
void cluster_finish(cluster *c);

/* Whether ok holds on every rank (a collective: every rank must call it). */
int cluster_all_ok(const cluster *c, int ok);

/* Merges per-item slots that exactly one rank filled and every other rank
 * left zeroed (bytes OR-ed together), in place on every rank. */
void cluster_merge_slots(const cluster *c, void *slots, size_t bytes);

/* The CUDA device this rank should use among n_devices: its node-local rank
 * modulo n_devices, or -1 when CUDA_VISIBLE_DEVICES is set (the launcher
 * has pinned the rank's device: use the first visible one, no choice) or
 * there are no devices. */
int cluster_device_for_rank(const cluster *c, int n_devices);

/* Makes cluster_device_for_rank's device current when this rank sees CUDA
 * devices; nothing otherwise. Ranks call it once, after cluster_init. */
int cluster_use_device(const cluster *c, wm_error *err);

#endif
