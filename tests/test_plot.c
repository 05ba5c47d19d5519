/* Line charts: where the curves land, log axes, and awkward data. */
#include <math.h>

#include "render/plot.h"
#include "testutil.h"

static int is_colour(const image *img, int x, int y, rgb8 c) {
    const uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x);
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

/* Pixels of colour c in the column band [x0, x1): the row range they span. */
static void rows_of(const image *img, rgb8 c, int x0, int x1, int *lo, int *hi) {
    *lo = img->height, *hi = -1;
    for (int y = 0; y < img->height; y++)
        for (int x = x0; x < x1; x++)
            if (is_colour(img, x, y, c)) *lo = y < *lo ? y : *lo, *hi = y > *hi ? y : *hi;
}

START_TEST(a_rising_line_rises) {
    double x[11], y[11];
    for (int i = 0; i <= 10; i++) x[i] = i, y[i] = i;
    rgb8 red = {200, 0, 0};
    plot_series s = {"y = x", x, y, 11, red};
    image img;
    plot_lines(&img, 320, 200, "test", "x", &s, 1, 0);
    ck_assert_int_eq(img.width, 320);
    ck_assert_int_eq(img.height, 200);
    int lo_left, hi_left, lo_right, hi_right;
    rows_of(&img, red, 62, 90, &lo_left, &hi_left);
    rows_of(&img, red, 270, 300, &lo_right, &hi_right);
    ck_assert_int_ge(hi_left, 0);
    ck_assert_int_ge(hi_right, 0);
    ck_assert_int_lt(lo_right + 40, lo_left); /* higher on the right: smaller rows */
    image_free(&img);
}
END_TEST

START_TEST(log_axis_and_bad_points) {
    double x[5] = {1, 2, NAN, 4, 5}, y[5] = {1000, 100, 50, -1, 1};
    rgb8 blue = {0, 0, 220};
    plot_series s[2] = {{"loss", x, y, 5, blue}, {"empty", x, y, 0, {0, 200, 0}}};
    image img;
    plot_lines(&img, 100, 50, "log", "step", s, 2, PLOT_LOG_Y); /* too small: grown to the minimum */
    ck_assert_int_eq(img.width, 160);
    ck_assert_int_eq(img.height, 100);
    int n = 0;
    for (int yy = 0; yy < img.height; yy++)
        for (int xx = 0; xx < img.width; xx++) n += is_colour(&img, xx, yy, blue);
    ck_assert_int_gt(n, 20);
    image_free(&img);
    plot_lines(&img, 200, 120, "nothing", "x", NULL, 0, 0);
    image_free(&img);
}
END_TEST

int main(void) {
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_test(tc, a_rising_line_rises);
    tcase_add_test(tc, log_axis_and_bad_points);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
