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
    camera_params p = camera_params_default();
    ck_assert_int_eq(camera_params_check(&p, &err), 0);
    p.width = 0;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: width 0 outside [16, 1920]");
    p = camera_params_default(), p.height = 961;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: height 961 outside [8, 960]");
    p = camera_params_default(), p.hfov_deg = 170;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: hfov 170 deg outside (10, 150)");
    p = camera_params_default(), p.pitch_deg = NAN;
    ck_assert_int_eq(camera_params_check(&p, &err), -1);
    ck_assert_str_eq(err.msg, "camera: pitch nan deg outside (-45, 45)");
}
END_TEST

START_TEST(ground_point_20m_ahead_lands_on_expected_row) {
    camera_params p = camera_params_default();
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
    camera_params p = camera_params_default();
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
    camera_params p = camera_params_default();
    p.pitch_deg = 0;
    camera cam;
    camera_init(&cam, &p, 0, 0, 0);
    framebuffer fb;
    framebuffer_init(&fb, p.width, p.height);
    box3 far = box3_upright(30, 0, 0, 0, 2, 4, 3), near = box3_upright(15, 0, 0, 0, 1, 1, 2);
    /* Drawn far-after-near: the depth test, not the order, decides. */
    raster_box(&fb, &cam, &near, (rgb8){0, 255, 0});
    raster_box(&fb, &cam, &far, (rgb8){255, 0, 0});
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
    camera_params p = camera_params_default();
    camera cam;
    camera_init(&cam, &p, 0, 0, 0);
    framebuffer fb;
    framebuffer_init(&fb, p.width, p.height);
    box3 beside = box3_upright(0, -2.5, 0, 0, 12, 1, 2); /* a truck alongside, half behind the lens */
    raster_box(&fb, &cam, &beside, (rgb8){200, 0, 200});
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

static void render_at(const scenario *sc, int steps, image *out) {
    sim_world *w = MALLOC_CHECK(sizeof *w);
    sim_world_init(w, sc, sc->seed);
    action hold = {0, 2, 0};
    for (int i = 0; i < steps; i++) sim_step(w, &hold);
    camera_params p = camera_params_default();
    framebuffer fb;
    framebuffer_init(&fb, p.width, p.height);
    render_frame(w, &p, &fb);
    *out = fb.img;
    free(fb.inv_depth);
    free(w);
}

START_TEST(guard_arm_pose_differs_between_stop_and_proceed_at_15m) {
    char text[2048];
    /* Ego rear axle at 10 → lens at 11.5; the guard 15 m ahead of the lens. */
    snprintf(text, sizeof text, GUARD_SCENE, 26.5, _i ? "LIGHTING_NIGHT" : "LIGHTING_DAY");
    scenario *sc = load_text(text);
    image stop, proceed;
    render_at(sc, 5, &stop);     /* t = 0.5: STOP */
    render_at(sc, 15, &proceed); /* t = 1.5: PROCEED */
    int differ = 0;
    for (int i = 0; i < stop.width * stop.height * 3; i++) differ += stop.rgb[i] != proceed.rgb[i];
    /* The arm is a few pixels wide at 15 m in 128x64: demand a visible change. */
    ck_assert_msg(differ >= 6, "only %d bytes differ", differ);
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
    suite_add_tcase(s, tc);
    return run_suite(s);
}
