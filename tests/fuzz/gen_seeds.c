/* gen_seeds.c — the checkpoint seeds of tests/fuzz/corpus/checkpoint/: a
 * tiny model of each type (a few KB, where the shipped models are MBs),
 * written by the project's own savers, and a tokenizer training-state file.
 *
 *     make fuzz-seeds     (runs build/tests/fuzz_gen_seeds tests/fuzz/corpus/checkpoint)
 *
 * The bytes depend only on the configs and seed below, so rerunning it
 * rewrites the same files. */
#include <stdio.h>
#include <stdlib.h>

#include "worldmodel/checkpoint.h"
#include "worldmodel/dynamics_model.h"
#include "worldmodel/estimator.h"
#include "worldmodel/tokenizer.h"
#include "worldmodel/vla.h"

static void check(int rc, const char *what, const wm_error *err) {
    if (rc) {
        fprintf(stderr, "gen_seeds: %s: %s\n", what, err->msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    wm_error err;

    tokenizer_config tc = {.width = 16, .height = 8, .down = 8, .channels = 2, .channel_mult = {1, 1, 1, 1},
                           .code_dim = 2, .codebook_size = 4, .groups = 1, .res_blocks = 0};
    tokenizer *tk = calloc(1, sizeof *tk);
    check(tokenizer_init(tk, &tc, 1, 1, &err), "tokenizer_init", &err);
    snprintf(path, sizeof path, "%s/tokenizer.wmck", argv[1]);
    check(tokenizer_save(tk, path, NULL, &err), path, &err);
    ckpt_train_progress p = {.step = 3, .epoch = 1, .position = 2};
    snprintf(path, sizeof path, "%s/tokenizer_state.wmck", argv[1]);
    check(tokenizer_save_state(tk, path, &p, &err), path, &err);
    tokenizer_free(tk);
    free(tk);

    dynamics_config dc = {.vocab = 4, .frame_tokens = 2, .frames = 2, .slots = 1, .slot_dim = 2, .action_dim = 4,
                          .layers = 1, .channels = 4, .heads = 2};
    dynamics_model *dm = calloc(1, sizeof *dm);
    check(dynamics_init(dm, &dc, 1, 1, &err), "dynamics_init", &err);
    snprintf(path, sizeof path, "%s/dynamics.wmck", argv[1]);
    check(dynamics_save(dm, path, NULL, &err), path, &err);
    dynamics_free(dm);
    free(dm);

    estimator_config ec = estimator_config_default();
    ec.width = 16, ec.height = 8, ec.stages = 2, ec.channels = 2, ec.groups = 0, ec.hidden = 2;
    for (int s = 0; s < ESTIMATOR_MAX_STAGES; s++) ec.channel_mult[s] = 1;
    estimator *est = calloc(1, sizeof *est);
    check(estimator_init(est, &ec, 1, 1, &err), "estimator_init", &err);
    snprintf(path, sizeof path, "%s/estimator.wmck", argv[1]);
    check(estimator_save(est, path, NULL, &err), path, &err);
    estimator_free(est);
    free(est);

    vla_config vc = vla_config_default();
    vc.text_dims = 2, vc.net = ec;
    vla *v = calloc(1, sizeof *v);
    check(vla_init(v, &vc, 1, 1, &err), "vla_init", &err);
    snprintf(path, sizeof path, "%s/vla.wmck", argv[1]);
    check(vla_save(v, path, NULL, &err), path, &err);
    vla_free(v);
    free(v);
    return 0;
}
