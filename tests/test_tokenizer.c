/* The frame tokenizer: shapes, a tiny model overfitting a few rendered
 * frames, determinism of training, and encode/decode agreeing with the
 * training path. The overfitting test (8 frames to > 35 dB) lands with
 * the trainer: issue #5. */
#include <math.h>

#include "core/mathx.h"
#include "render/render.h"
#include "sim/episode.h"
#include "testutil.h"
#include "worldmodel/tokenizer.h"

#define FRAMES 8

/* FRAMES oracle frames of a real scenario at W x H, (B, 3, H, W) in [0, 1]. */
typedef struct {
    renderer r;
    float *x;
    int n, every;
} frame_grab;

static int grab(const episode_frame *f, void *ctx) {
    frame_grab *g = ctx;
    if (f->w->step % g->every) return 0;
    render_frame(&g->r, f->w);
    const image *img = &g->r.frame;
    size_t plane = (size_t)img->width * img->height;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) g->x[(size_t)g->n * 3 * plane + c * plane + p] = img->rgb[3 * p + c] / 255.0f;
    return ++g->n == FRAMES;
}

static float *render_frames(int width, int height) {
    scenario sc;
    wm_error err;
    ck_assert_msg(scenario_load(src_path("scenarios/examples/guard_stop_proceed.pbtxt"), &sc, &err) == 0, "%s", err.msg);
    sc.camera.width = width, sc.camera.height = height;
    frame_grab g = {.every = 20};
    ck_assert_int_eq(renderer_init(&g.r, &sc.camera, 1, &err), 0);
    g.x = MALLOC_CHECK((size_t)FRAMES * 3 * width * height * sizeof(float));
    policy pol;
    ck_assert_int_eq(policy_create("expert", &pol, &err), 0);
    episode_config cfg = {.sc = &sc, .seed = sc.seed, .pol = &pol, .observe = grab, .observe_ctx = &g};
    episode_result res;
    ck_assert_int_eq(episode_run(&cfg, &res, &err), 0);
    ck_assert_int_eq(g.n, FRAMES);
    pol.destroy(&pol);
    renderer_free(&g.r);
    scenario_free(&sc);
    return g.x;
}

static tokenizer_config tiny_config(void) {
    tokenizer_config c = tokenizer_config_default();
    c.width = 64, c.height = 32, c.channels = 16, c.code_dim = 16, c.codebook_size = 128, c.groups = 4;
    return c;
}

START_TEST(shapes_follow_the_config) {
    tokenizer tk;
    wm_error err;
    tokenizer_config cfg = tokenizer_config_default();
    ck_assert_msg(tokenizer_init(&tk, &cfg, 2, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tk.hz, 8);
    ck_assert_int_eq(tk.wz, 16);
    const tokenizer_layer *last = &tk.dec[tk.n_dec - 1];
    ck_assert_int_eq(last->co, 3);
    ck_assert_int_eq(last->ho, 64);
    ck_assert_int_eq(last->wo, 128);
    tokenizer_free(&tk);
    cfg.down = 16;
    ck_assert_msg(tokenizer_init(&tk, &cfg, 2, 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(tk.hz, 4);
    ck_assert_int_eq(tk.wz, 8);
    tokenizer_free(&tk);
    cfg = tokenizer_config_default(), cfg.width = 100;
    ck_assert_int_eq(tokenizer_init(&tk, &cfg, 2, 1, &err), -1);
    ck_assert_str_eq(err.msg, "tokenizer: frame 100x64 is not a multiple of 8 up to 1920x960");
    cfg = tokenizer_config_default(), cfg.down = 4;
    ck_assert_int_eq(tokenizer_init(&tk, &cfg, 2, 1, &err), -1);
    ck_assert_str_eq(err.msg, "tokenizer: down 4 is not 8 or 16");
}
END_TEST

/* Same seed, same data, one thread: the same losses, bit for bit. */
START_TEST(training_is_deterministic) {
    float *x = render_frames(64, 32);
    float losses[2][20];
    for (int run = 0; run < 2; run++) {
        tokenizer tk;
        wm_error err;
        tokenizer_config cfg = tiny_config();
        ck_assert_int_eq(tokenizer_init(&tk, &cfg, FRAMES, 3, &err), 0);
        tokenizer_train_params hp = tokenizer_train_params_default();
        for (int step = 1; step <= 20; step++) losses[run][step - 1] = tokenizer_train_step(&tk, x, FRAMES, &hp, 1e-3f, step, NULL);
        tokenizer_free(&tk);
    }
    ck_assert_int_eq(memcmp(losses[0], losses[1], sizeof losses[0]), 0);
    ck_assert(losses[0][19] < losses[0][0]);
    free(x);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, shapes_follow_the_config);
    tcase_add_test(tc, training_is_deterministic);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
