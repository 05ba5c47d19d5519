/* The oracle camera: projection against hand-computed pixels, rasteriser
 * depth order, determinism, gesture legibility, and the render command. */
#include <math.h>

#include "core/mathx.h"
#include "render/render.h"
#include "testutil.h"

static scenario *load_text(const char *text) {
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/s.pbtxt", dir);
    write_text_file(path, text);
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    wm_error err;
    ck_assert_msg(scenario_load(path, sc, &err) == 0, "%s", err.msg);
    free(dir);
    return sc;
}

START_TEST(camera_params_errors_are_exact) {
    wm_error err;
    camera_params p = scenario_camera_default();
    ck_assert_int_eq(camera_params_check(&p, &err), 0);
    p.width = 0;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: width 0 outside [16, 1920]");
    p = scenario_camera_default(), p.height = 961;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: height 961 outside [8, 960]");
    p = scenario_camera_default(), p.hfov_deg = 170;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: hfov 170 deg outside (10, 150)");
    p = scenario_camera_default(), p.pitch_deg = NAN;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: pitch nan deg outside (-45, 45)");
}
END_TEST

START_TEST(ground_point_20m_ahead_lands_on_expected_row) {
    camera_params p = scenario_camera_default();
    p.pitch_deg = 0;
    camera cam;
    camera_init(&cam, &p, 10.0, 5.0, 0.0);
    /* fx = (W/2) / tan(hfov/2) = 64 / tan(30°); a ground point 20 m ahead of
     * the lens is h = 1.4 m below the axis: row = H/2 + fx * h / 20. */
    double fx = 64.0 / tan(WM_PI / 6.0);
    double px, py, depth;
    ck_assert(camera_project(&cam, 10.0 + 1.5 + 20.0, 5.0, 0.0, &px, &py, &depth));
    ck_assert_double_eq_tol(px, 64.0, 1e-9);
    ck_assert_double_eq_tol(py, 32.0 + fx * 1.4 / 20.0, 1e-9);
    ck_assert_double_eq_tol(depth, 20.0, 1e-9);
    /* 2 m to the left at 20 m: left of centre by fx * 2 / 20. */
    ck_assert(camera_project(&cam, 31.5, 7.0, 1.4, &px, &py, &depth));
    ck_assert_double_eq_tol(px, 64.0 - fx * 0.1, 1e-9);
    ck_assert_double_eq_tol(py, 32.0, 1e-9);
    /* Behind the lens: not projected. */
    ck_assert(!camera_project(&cam, 5.0, 5.0, 1.0, &px, &py, &depth));
}
END_TEST

START_TEST(pitch_moves_the_horizon_down) {
    camera_params p = scenario_camera_default();
    p.pitch_deg = 5;
    camera cam;
    camera_init(&cam, &p, 0, 0, WM_PI / 2); /* facing +y: the yaw must not matter */
    double px, py, depth;
    /* A far point at lens height sits on the horizon, fx * tan(pitch) above the centre row. */
    ck_assert(camera_project(&cam, 0.0, 1.5 + 1e6, 1.4, &px, &py, &depth));
    ck_assert_double_eq_tol(py, 32.0 - cam.fx * tan(5.0 * WM_PI / 180.0), 1e-6);
    ck_assert_double_eq_tol(px, 64.0, 1e-6);
}
END_TEST

START_TEST(nearer_box_hides_farther_one) {
    camera_params p = scenario_camera_default();
    p.pitch_deg = 0;
    camera cam;
    camera_init(&cam, &p, 0, 0, 0);
    framebuffer fb;
    framebuffer_init(&fb, p.width, p.height);
    box3 far = box3_upright(30, 0, 0, 0, 2, 4, 3), near = box3_upright(15, 0, 0, 0, 1, 1, 2);
    /* Drawn far-after-near: the depth test, not the order, decides. */
    raster_box(&fb, &cam, &near, (rgb8){0, 255, 0}, RENDER_CLASS_VEHICLE);
    raster_box(&fb, &cam, &far, (rgb8){255, 0, 0}, RENDER_CLASS_BUILDING);
    double px, py, depth;
    ck_assert(camera_project(&cam, 14.5, 0, 1.0, &px, &py, &depth));
    const uint8_t *c = fb.img.rgb + 3 * ((size_t)py * p.width + (size_t)px);
    ck_assert_int_eq(c[0], 0);
    ck_assert_int_gt(c[1], 100);
    /* Beside the near box the far one shows. */
    ck_assert(camera_project(&cam, 29, 1.5, 1.0, &px, &py, &depth));
    c = fb.img.rgb + 3 * ((size_t)py * p.width + (size_t)px);
    ck_assert_int_gt(c[0], 100);
    ck_assert_int_eq(c[1], 0);
    framebuffer_free(&fb);
}
END_TEST

START_TEST(box_straddling_the_lens_is_clipped_not_dropped) {
    camera_params p = scenario_camera_default();
    camera cam;
    camera_init(&cam, &p, 0, 0, 0);
    framebuffer fb;
    framebuffer_init(&fb, p.width, p.height);
    box3 beside = box3_upright(0, -2.5, 0, 0, 12, 1, 2); /* a truck alongside, half behind the lens */
    raster_box(&fb, &cam, &beside, (rgb8){200, 0, 200}, RENDER_CLASS_VEHICLE);
    int painted = 0;
    for (int i = 0; i < p.width * p.height; i++) painted += fb.img.rgb[3 * i] > 0; /* the buffer starts black */
    ck_assert_int_gt(painted, 50);
    framebuffer_free(&fb);
}
END_TEST

static const char *GUARD_SCENE =
    "id: \"g\"\nduration_s: 10\nroad { segments { length_m: 200 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD } lanes { direction: LANE_DIRECTION_ONCOMING }\n"
    "  speed_limit_mps: 10 }\n"
    "ego { lane: 0 s_m: 10 speed_mps: 0 }\n"
    "actors { id: \"guard\" guard { s_m: %g d_m: 0.5 stop_line_s_m: 20\n"
    "  timeline { gesture: GESTURE_STOP start_s: 0 duration_s: 1 }\n"
    "  timeline { gesture: GESTURE_PROCEED start_s: 1 } } }\n"
    "lighting: %s\n";

/* The frame after `steps` steps braking, and which pixels show the guard's
 * signalling arm (class GUARD_ARM). */
static void render_at_with_arm(const scenario *sc, int steps, image *out, uint8_t *arm) {
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    action hold = {0, 2, 0};
    for (int i = 0; i < steps; i++) sim_step(w, &hold);
    renderer r;
    wm_error err;
    ck_assert_int_eq(renderer_init(&r, &sc->camera, 1, &err), 0);
    render_frame(&r, w);
    image_init(out, r.frame.width, r.frame.height);
    memcpy(out->rgb, r.frame.rgb, (size_t)out->width * out->height * 3);
    if (arm)
        for (int k = 0; k < out->width * out->height; k++) arm[k] = r.semantic[k] == RENDER_CLASS_GUARD_ARM;
    renderer_free(&r);
    free(w);
}

static void render_at(const scenario *sc, int steps, image *out) { render_at_with_arm(sc, steps, out, NULL); }

START_TEST(guard_arm_pose_differs_between_stop_and_proceed_at_15m) {
    char text[2048];
    /* Ego rear axle at 10 → lens at 11.5; the guard 15 m ahead of the lens. */
    snprintf(text, sizeof text, GUARD_SCENE, 26.5, _i ? "LIGHTING_NIGHT" : "LIGHTING_DAY");
    scenario *sc = load_text(text);
    image stop, proceed;
    uint8_t arm_stop[128 * 64], arm_proceed[128 * 64];
    render_at_with_arm(sc, 5, &stop, arm_stop);        /* t = 0.5: STOP */
    render_at_with_arm(sc, 15, &proceed, arm_proceed); /* t = 1.5: PROCEED */
    int differ = 0;
    for (int i = 0; i < stop.width * stop.height * 3; i++) differ += stop.rgb[i] != proceed.rgb[i];
    /* The arm is a few pixels wide at 15 m in 128x64: demand a visible change. */
    ck_assert_msg(differ >= 6, "only %d bytes differ", differ);
    /* ...and that it is the arm that moved: its pixels are visible in both
     * poses and not in the same places (raised for STOP, out to the side
     * for PROCEED). */
    int n_stop = 0, n_proceed = 0, moved = 0;
    for (int k = 0; k < 128 * 64; k++) n_stop += arm_stop[k], n_proceed += arm_proceed[k], moved += arm_stop[k] != arm_proceed[k];
    ck_assert_msg(n_stop >= 6 && n_proceed >= 6, "arm pixels: %d (STOP), %d (PROCEED)", n_stop, n_proceed);
    ck_assert_int_ge(moved, 6);
    image again;
    render_at(sc, 5, &again);
    ck_assert_int_eq(memcmp(stop.rgb, again.rgb, (size_t)stop.width * stop.height * 3), 0); /* deterministic */
    image_free(&stop), image_free(&proceed), image_free(&again);
    scenario_free(sc);
    free(sc);
}
END_TEST

START_TEST(day_frame_has_sky_above_and_road_below) {
    char text[2048];
    snprintf(text, sizeof text, GUARD_SCENE, 120.0, "LIGHTING_DAY");
    scenario *sc = load_text(text);
    image img;
    render_at(sc, 0, &img);
    const uint8_t *top = img.rgb + 3 * (0 * img.width + 64);
    ck_assert_int_gt(top[2], top[0] + 30); /* blue sky */
    const uint8_t *bottom = img.rgb + 3 * ((size_t)(img.height - 1) * img.width + 70);
    ck_assert_int_lt(abs(bottom[0] - bottom[2]), 15); /* grey asphalt under the ego */
    ck_assert_int_lt(bottom[0], 130);
    image_free(&img);
    scenario_free(sc);
    free(sc);
}
END_TEST

START_TEST(render_command_writes_png) {
    char *dir = test_tmpdir(), *out;
    char png[4200];
    snprintf(png, sizeof png, "%s/f.png", dir);
    int rc = run_wmsim(&out, (const char *[]){"render", src_path("scenarios/examples/guard_stop_proceed.pbtxt"),
                                              "--t", "3", "--size", "256x128", "--out", png, NULL});
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    image img;
    wm_error err;
    ck_assert_msg(image_read_png(png, &img, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(img.width, 256);
    ck_assert_int_eq(img.height, 128);
    image_free(&img);

    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", src_path("scenarios/examples/cut_in.pbtxt"), "--size",
                                                      "4000x10", "--out", png, NULL}),
                     1);
    ck_assert_str_eq(out, "wmsim: camera: width 4000 outside [16, 1920]\n");
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", src_path("scenarios/examples/cut_in.pbtxt"), "--out",
                                                      "/nonexistent/dir/f.png", NULL}),
                     1);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: /nonexistent/dir/f.png"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", src_path("scenarios/examples/cut_in.pbtxt"), "--t",
                                                      "500", "--out", png, NULL}),
                     1);
    ck_assert_str_eq(out, "wmsim: --t 500 s: the episode ended at t=37.0 s (goal reached)\n");
    free(out);
    free(dir);
}
END_TEST


static const char *SIGN_SCENE =
    "id: \"sign\"\nduration_s: 10\nroad { segments { length_m: 200 }\n"
    "  lanes { direction: LANE_DIRECTION_FORWARD } lanes { direction: LANE_DIRECTION_FORWARD }\n"
    "  speed_limit_mps: 10 }\n"
    "ego { lane: 0 s_m: 10 speed_mps: 0 }\n"
    "actors { id: \"car\" vehicle { lane: 1 s_m: 30 stalled {} } }\n"
    "actors { id: \"sign\" sign { s_m: 21 d_m: -2.5 kind: SIGN_KIND_WORK_ZONE text: \"%s\" } }\n"
    "camera { %s }\n";

/* Renders a scenario at its start through its own camera. */
static void render_start(const scenario *sc, int supersample, renderer *r) {
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    wm_error err;
    ck_assert_msg(renderer_init(r, &sc->camera, supersample, &err) == 0, "%s", err.msg);
    render_frame(r, w);
    free(w);
}

static scenario *sign_scene(const char *text, int width, int height) {
    char buf[2048], camera[64];
    snprintf(camera, sizeof camera, "width_px: %d height_px: %d", width, height);
    snprintf(buf, sizeof buf, SIGN_SCENE, text, camera);
    return load_text(buf);
}

START_TEST(semantic_classes_match_the_rgb_geometry) {
    /* The pixels that change when the car is added are exactly the pixels
     * the semantic render calls vehicle. */
    scenario *sc = sign_scene("", 128, 64);
    renderer with, without;
    render_start(sc, 1, &with);
    int n = sc->n_actors;
    sc->n_actors = 0;
    render_start(sc, 1, &without);
    sc->n_actors = n;
    int vehicle = 0;
    for (int k = 0; k < 128 * 64; k++) {
        int changed = memcmp(with.frame.rgb + 3 * k, without.frame.rgb + 3 * k, 3) != 0;
        int is_vehicle = with.semantic[k] == RENDER_CLASS_VEHICLE;
        int is_sign = with.semantic[k] == RENDER_CLASS_SIGN || with.semantic[k] == RENDER_CLASS_POLE;
        vehicle += is_vehicle;
        if (!is_sign) ck_assert_msg(changed == is_vehicle, "pixel %d: changed %d, class %s", k, changed,
                                    render_class_name(with.semantic[k]));
    }
    ck_assert_int_gt(vehicle, 40);
    ck_assert_int_eq(with.semantic[0], RENDER_CLASS_SKY);
    ck_assert_int_eq(with.semantic[63 * 128 + 64], RENDER_CLASS_ROAD);
    renderer_free(&with), renderer_free(&without);
    scenario_free(sc);
    free(sc);
}
END_TEST

START_TEST(supersampling_is_the_box_filter_of_the_double_size_frame) {
    scenario *sc = sign_scene("USE NEXT ENTRANCE", 128, 64);
    renderer ss;
    render_start(sc, 2, &ss);
    sc->camera.width = 256, sc->camera.height = 128;
    renderer big;
    render_start(sc, 1, &big);
    ck_assert_int_eq(ss.frame.width, 128);
    ck_assert_int_eq(ss.frame.height, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 128; x++)
            for (int c = 0; c < 3; c++) {
                const uint8_t *a = big.frame.rgb + 3 * ((2 * y) * 256 + 2 * x) + c;
                int mean = (a[0] + a[3] + a[3 * 256] + a[3 * 256 + 3] + 2) / 4;
                ck_assert_int_eq(ss.frame.rgb[3 * (y * 128 + x) + c], mean);
            }
    renderer_free(&ss), renderer_free(&big);
    scenario_free(sc);
    free(sc);
}
END_TEST

/* Dark ink on the orange board: the text is drawn, and different words give
 * a different picture. */
START_TEST(sign_text_is_drawn_on_the_board) {
    scenario *a = sign_scene("USE NEXT ENTRANCE", 512, 256), *b = sign_scene("ROAD CLOSED", 512, 256);
    renderer ra, rb;
    render_start(a, 1, &ra);
    render_start(b, 1, &rb);
    int board = 0, ink = 0, differ = 0;
    for (int k = 0; k < 512 * 256; k++) {
        if (ra.semantic[k] != RENDER_CLASS_SIGN) continue;
        board++;
        const uint8_t *p = ra.frame.rgb + 3 * k;
        ink += p[0] < 60 && p[1] < 60 && p[2] < 60;
        differ += memcmp(p, rb.frame.rgb + 3 * k, 3) != 0;
    }
    ck_assert_int_gt(board, 1000);
    ck_assert_msg(ink > 100 && ink < board / 2, "%d ink pixels on a %d-pixel board", ink, board);
    ck_assert_int_gt(differ, 100);
    renderer_free(&ra), renderer_free(&rb);
    scenario_free(a), scenario_free(b);
    free(a), free(b);
}
END_TEST

START_TEST(scenario_camera_sets_the_frame_and_bad_values_name_the_field) {
    scenario *sc = sign_scene("", 64, 32);
    renderer r;
    render_start(sc, 1, &r);
    ck_assert_int_eq(r.frame.width, 64);
    ck_assert_int_eq(r.frame.height, 32);
    renderer_free(&r);
    scenario_free(sc);
    free(sc);

    char *dir = test_tmpdir();
    char path[4200], text[2048];
    snprintf(path, sizeof path, "%s/bad.pbtxt", dir);
    snprintf(text, sizeof text, SIGN_SCENE, "", "hfov_deg: 170");
    write_text_file(path, text);
    scenario bad;
    wm_error err;
    ck_assert_int_eq(scenario_load(path, &bad, &err), -1);
    char want[4300];
    snprintf(want, sizeof want, "%s:camera: hfov 170 deg outside (10, 150)", path);
    ck_assert_str_eq(err.msg, want);
    free(dir);

    wm_error e2;
    camera_params p = scenario_camera_default();
    ck_assert_int_eq(renderer_init(&r, &p, 3, &e2), -1);
    ck_assert_str_eq(e2.msg, "render: supersample 3 is not 1 or 2");
}
END_TEST

/* Golden frames: small differences (another libm, another compiler) pass;
 * anything a person would notice does not. */
START_TEST(golden_frames_match) {
    FILE *f = fopen(src_path("tests/fixtures/golden/cases.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char *dir = test_tmpdir();
    int cases = 0;
    for (char line[512]; fgets(line, sizeof line, f);) {
        char name[64], scen[256], t[16], size[16], light[16], extra[32] = "";
        if (line[0] == '#' || sscanf(line, "%63s %255s %15s %15s %15s %31s", name, scen, t, size, light, extra) < 5)
            continue;
        char got_path[4200], want_path[128];
        snprintf(got_path, sizeof got_path, "%s/%s.png", dir, name);
        snprintf(want_path, sizeof want_path, "tests/fixtures/golden/%s.png", name);
        char *out;
        const char *args[] = {"render", src_path(scen), "--t", t, "--size", size, "--lighting", light,
                              "--out", got_path, extra[0] ? extra : NULL, NULL};
        ck_assert_msg(run_wmsim(&out, args) == 0, "%s: %s", name, out);
        free(out);
        image got, want;
        wm_error err;
        ck_assert_msg(image_read_png(got_path, &got, &err) == 0, "%s", err.msg);
        ck_assert_msg(image_read_png(src_path(want_path), &want, &err) == 0, "%s (regenerate with %s)", err.msg,
                      "tests/fixtures/regen_golden.sh");
        ck_assert_int_eq(got.width, want.width);
        ck_assert_int_eq(got.height, want.height);
        size_t n = (size_t)got.width * got.height, far = 0;
        double sum = 0;
        for (size_t k = 0; k < 3 * n; k++) {
            int d = abs(got.rgb[k] - want.rgb[k]);
            sum += d;
            far += d > 24;
        }
        ck_assert_msg(sum / (3.0 * n) < 0.5 && far <= n / 200, "%s: mean difference %.3f, %zu values off by > 24",
                      name, sum / (3.0 * n), far);
        image_free(&got), image_free(&want);
        cases++;
    }
    fclose(f);
    ck_assert_int_ge(cases, 5);
    free(dir);
}
END_TEST

START_TEST(render_command_semantic_and_option_errors) {
    char *dir = test_tmpdir(), *out;
    char png[4200];
    snprintf(png, sizeof png, "%s/s.png", dir);
    const char *scen = src_path("scenarios/examples/cut_in.pbtxt");
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", scen, "--semantic", "--out", png, NULL}), 0);
    ck_assert_ptr_nonnull(strstr(out, "128x64 semantic, wrote"));
    free(out);
    image img;
    wm_error err;
    ck_assert_int_eq(image_read_png(png, &img, &err), 0);
    /* Every pixel is one of the class colours. */
    for (int k = 0; k < img.width * img.height; k++) {
        int known = 0;
        for (int c = 0; c < RENDER_CLASS_COUNT; c++) {
            rgb8 col = render_class_colour((render_class)c);
            known |= img.rgb[3 * k] == col.r && img.rgb[3 * k + 1] == col.g && img.rgb[3 * k + 2] == col.b;
        }
        ck_assert_msg(known, "pixel %d is no class colour", k);
    }
    image_free(&img);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", scen, "--hfov", "wide", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --hfov: not a number: 'wide'\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", scen, "--hfov", "200", "--out", png, NULL}), 1);
    ck_assert_str_eq(out, "wmsim: camera: hfov 200 deg outside (10, 150)\n");
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", scen, "--supersample", "4", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --supersample: expected 1 or 2, got '4'\n"));
    free(out);
    ck_assert_int_eq(run_wmsim(&out, (const char *[]){"render", scen, "--lighting", "noon", NULL}), 2);
    ck_assert_ptr_nonnull(strstr(out, "wmsim: --lighting: expected day, dusk or night, got 'noon'\n"));
    free(out);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, camera_params_errors_are_exact);
    tcase_add_test(tc, ground_point_20m_ahead_lands_on_expected_row);
    tcase_add_test(tc, pitch_moves_the_horizon_down);
    tcase_add_test(tc, nearer_box_hides_farther_one);
    tcase_add_test(tc, box_straddling_the_lens_is_clipped_not_dropped);
    tcase_add_loop_test(tc, guard_arm_pose_differs_between_stop_and_proceed_at_15m, 0, 2);
    tcase_add_test(tc, day_frame_has_sky_above_and_road_below);
    tcase_add_test(tc, render_command_writes_png);
    tcase_add_test(tc, semantic_classes_match_the_rgb_geometry);
    tcase_add_test(tc, supersampling_is_the_box_filter_of_the_double_size_frame);
    tcase_add_test(tc, sign_text_is_drawn_on_the_board);
    tcase_add_test(tc, scenario_camera_sets_the_frame_and_bad_values_name_the_field);
    tcase_add_test(tc, golden_frames_match);
    tcase_add_test(tc, render_command_semantic_and_option_errors);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
