/* test_cluster.c — sim/cluster.h outside a launcher, the device each rank
 * takes, and how sim/batch.h shares items between ranks. The runs under
 * mpirun are end-to-end tests in test_eval.c, test_clips.c and
 * test_synth.c. */
#include <stdlib.h>

#include "sim/batch.h"
#include "sim/cluster.h"
#include "testutil.h"

static void clear_launcher_env(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_SIZE", "PMIX_RANK",
                          "SLURM_PROCID", "SLURM_STEP_ID", "SLURM_LOCALID", "SLURM_NTASKS", "CUDA_VISIBLE_DEVICES"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

START_TEST(alone_is_rank_0_of_1) {
    clear_launcher_env();
    cluster c;
    wm_error err;
    ck_assert_msg(cluster_init(&c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.rank, 0);
    ck_assert_int_eq(c.size, 1);
    ck_assert_int_eq(c.local_rank, 0);
    ck_assert_int_eq(c.mpi, 0);
    ck_assert(cluster_all_ok(&c, 1) && !cluster_all_ok(&c, 0));
    int slots[3] = {1, 0, 3};
    cluster_merge_slots(&c, slots, sizeof slots);
    ck_assert(slots[0] == 1 && slots[1] == 0 && slots[2] == 3);
    cluster_finish(&c);
}
END_TEST

START_TEST(each_rank_takes_the_gpu_of_its_node_local_rank) {
    clear_launcher_env();
    cluster c;
    wm_error err;
    setenv("SLURM_LOCALID", "3", 1);
    ck_assert_int_eq(cluster_init(&c, &err), 0);
    ck_assert_int_eq(c.local_rank, 3);
    ck_assert_int_eq(cluster_device_for_rank(&c, 2), 1);
    ck_assert_int_eq(cluster_device_for_rank(&c, 8), 3);
    ck_assert_int_eq(cluster_device_for_rank(&c, 0), -1);
    /* Open MPI's variable wins over Slurm's. */
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "5", 1);
    ck_assert_int_eq(cluster_init(&c, &err), 0);
    ck_assert_int_eq(c.local_rank, 5);
    /* A launcher that pins the device leaves no choice. */
    setenv("CUDA_VISIBLE_DEVICES", "2", 1);
    ck_assert_int_eq(cluster_device_for_rank(&c, 8), -1);
    clear_launcher_env();
}
END_TEST

START_TEST(a_build_without_mpi_refuses_to_be_one_of_several_ranks) {
#ifdef WMSIM_MPI
    printf("test_cluster: built with MPI; a fake launcher environment would make MPI_Init wait for it\n");
#else
    clear_launcher_env();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    cluster c;
    wm_error err;
    ck_assert_int_ne(cluster_init(&c, &err), 0);
    ck_assert_str_eq(err.msg, "cluster: launched as one of several ranks, but this wmsim was built without MPI "
                              "(make MPI=1 with Debian's libopenmpi-dev)");
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1); /* mpirun -np 1: the one rank runs everything */
    ck_assert_int_eq(cluster_init(&c, &err), 0);
    clear_launcher_env();
#endif
}
END_TEST

typedef struct {
    int ran[32];
} item_log;

static int log_item(int k, void *worker, void *ctx, wm_error *err) {
    (void)worker, (void)err;
    ((item_log *)ctx)->ran[k]++;
    return 0;
}

/* Item k runs on rank k % ranks, once, whatever the threads. */
START_TEST(batch_shares_items_between_ranks_by_index) {
    for (int ranks = 1; ranks <= 4; ranks++) {
        int total[32] = {0};
        for (int rank = 0; rank < ranks; rank++) {
            item_log log = {{0}};
            batch_config b = {.n_items = 10, .jobs = 3, .run_item = log_item, .ctx = &log, .label = "t",
                              .unit = "items", .rank = rank, .ranks = ranks};
            wm_error err;
            ck_assert_msg(batch_run(&b, &err) == 0, "%s", err.msg);
            for (int k = 0; k < 10; k++) {
                ck_assert_int_eq(log.ran[k], k % ranks == rank);
                total[k] += log.ran[k];
            }
        }
        for (int k = 0; k < 10; k++) ck_assert_int_eq(total[k], 1);
    }
    item_log log = {{0}};
    batch_config b = {.n_items = 2, .jobs = 1, .run_item = log_item, .ctx = &log, .label = "t", .unit = "items",
                      .rank = 3, .ranks = 4};
    wm_error err;
    ck_assert_int_eq(batch_run(&b, &err), 0); /* more ranks than items: nothing to do */
    ck_assert(log.ran[0] == 0 && log.ran[1] == 0);
    b.rank = 4;
    ck_assert_int_ne(batch_run(&b, &err), 0);
    ck_assert_str_eq(err.msg, "t: rank 4 of 4");
}
END_TEST

int main(void) {
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_add_test(tc, alone_is_rank_0_of_1);
    tcase_add_test(tc, each_rank_takes_the_gpu_of_its_node_local_rank);
    tcase_add_test(tc, a_build_without_mpi_refuses_to_be_one_of_several_ranks);
    tcase_add_test(tc, batch_shares_items_between_ranks_by_index);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
