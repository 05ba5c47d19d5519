/* The bitmap font: UTF-8 decoding of every malformed class, glyph coverage
 * and distinctness, exact drawing and clipping, sign-board layout. */
#include <limits.h>

#include "render/font.h"
#include "testutil.h"

static const rgb8 INK = {255, 255, 255};

/* ---- UTF-8 ---- */

typedef struct {
    const char *name;
    const char *bytes;
    int n;             /* expected decode steps before the end */
    uint32_t cps[6];   /* 0xFFFD where malformed */
    int rcs[6];
} utf8_case;

static void check_decode(const utf8_case *c) {
    const char *p = c->bytes;
    for (int k = 0; k < c->n; k++) {
        uint32_t cp = 12345;
        int rc = utf8_next(&p, &cp);
        ck_assert_msg(rc == c->rcs[k], "%s: step %d returned %d, expected %d", c->name, k, rc, c->rcs[k]);
        ck_assert_msg(cp == c->cps[k], "%s: step %d gave U+%04X, expected U+%04X", c->name, k, cp, c->cps[k]);
    }
    uint32_t cp = 12345;
    ck_assert_msg(utf8_next(&p, &cp) == 0, "%s: not at the end after %d steps", c->name, c->n);
    ck_assert_uint_eq(cp, 0);
    ck_assert_msg(p == c->bytes + strlen(c->bytes), "%s: stopped %td bytes in, not at the NUL", c->name,
                  p - c->bytes);
}

START_TEST(utf8_valid_sequences_of_every_length) {
    static const utf8_case cases[] = {
        {"ascii", "A~", 2, {'A', '~'}, {1, 1}},
        {"U+007F", "\x7F", 1, {0x7F}, {1}},
        {"U+0080", "\xC2\x80", 1, {0x80}, {1}},
        {"e acute", "\xC3\xA9", 1, {0xE9}, {1}},
        {"U+07FF", "\xDF\xBF", 1, {0x7FF}, {1}},
        {"U+0800", "\xE0\xA0\x80", 1, {0x800}, {1}},
        {"euro", "\xE2\x82\xAC", 1, {0x20AC}, {1}},
        {"U+D7FF", "\xED\x9F\xBF", 1, {0xD7FF}, {1}},
        {"U+E000", "\xEE\x80\x80", 1, {0xE000}, {1}},
        {"U+FFFD itself", "\xEF\xBF\xBD", 1, {0xFFFD}, {1}},
        {"U+FFFF", "\xEF\xBF\xBF", 1, {0xFFFF}, {1}},
        {"U+10000", "\xF0\x90\x80\x80", 1, {0x10000}, {1}},
        {"emoji", "\xF0\x9F\x98\x80", 1, {0x1F600}, {1}},
        {"U+10FFFF", "\xF4\x8F\xBF\xBF", 1, {0x10FFFF}, {1}},
        {"mixed", "a\xC3\xA4\xE2\x86\x92\xF0\x9F\x98\x80z", 5, {'a', 0xE4, 0x2192, 0x1F600, 'z'}, {1, 1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_decode(&cases[i]);
}
END_TEST

#define BAD 0xFFFD
START_TEST(utf8_every_malformed_class_gives_fffd_and_resyncs) {
    static const utf8_case cases[] = {
        /* overlong forms */
        {"overlong NUL C0 80", "\xC0\x80", 2, {BAD, BAD}, {-1, -1}},
        {"overlong C1 BF", "\xC1\xBF", 2, {BAD, BAD}, {-1, -1}},
        {"overlong E0 80 80", "\xE0\x80\x80", 3, {BAD, BAD, BAD}, {-1, -1, -1}},
        {"overlong E0 9F BF", "\xE0\x9F\xBF", 3, {BAD, BAD, BAD}, {-1, -1, -1}},
        {"overlong F0 80 80 80", "\xF0\x80\x80\x80", 4, {BAD, BAD, BAD, BAD}, {-1, -1, -1, -1}},
        {"overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", 4, {BAD, BAD, BAD, BAD}, {-1, -1, -1, -1}},
        /* surrogates */
        {"surrogate D800", "\xED\xA0\x80", 3, {BAD, BAD, BAD}, {-1, -1, -1}},
        {"surrogate DFFF", "\xED\xBF\xBF", 3, {BAD, BAD, BAD}, {-1, -1, -1}},
        /* past U+10FFFF */
        {"U+110000", "\xF4\x90\x80\x80", 4, {BAD, BAD, BAD, BAD}, {-1, -1, -1, -1}},
        {"lead F5", "\xF5\x80\x80\x80", 4, {BAD, BAD, BAD, BAD}, {-1, -1, -1, -1}},
        {"lead F7", "\xF7\xBF\xBF\xBF", 4, {BAD, BAD, BAD, BAD}, {-1, -1, -1, -1}},
        /* bytes 0xF8 and up */
        {"lead F8 (5-byte form)", "\xF8\x88\x80\x80\x80", 5, {BAD, BAD, BAD, BAD, BAD}, {-1, -1, -1, -1, -1}},
        {"lead FC (6-byte form)", "\xFC\x84\x80\x80\x80\x80", 6, {BAD, BAD, BAD, BAD, BAD, BAD},
         {-1, -1, -1, -1, -1, -1}},
        {"FE FF", "\xFE\xFF", 2, {BAD, BAD}, {-1, -1}},
        /* stray continuation bytes */
        {"stray 80", "\x80", 1, {BAD}, {-1}},
        {"stray BF then ascii", "\xBFx", 2, {BAD, 'x'}, {-1, 1}},
        /* truncated sequences: the next character is never swallowed */
        {"truncated 2 at end", "\xC3", 1, {BAD}, {-1}},
        {"truncated 2 then ascii", "\xC3" "A", 2, {BAD, 'A'}, {-1, 1}},
        {"truncated 3 then ascii", "\xE2\x82" "A", 3, {BAD, BAD, 'A'}, {-1, -1, 1}},
        {"truncated 4 then valid 2", "\xF0\x9F\x98\xC3\xA9", 4, {BAD, BAD, BAD, 0xE9}, {-1, -1, -1, 1}},
        {"lead then lead", "\xE2\xE2\x82\xAC", 2, {BAD, 0x20AC}, {-1, 1}},
        {"valid around bad", "a\xFF" "b", 3, {'a', BAD, 'b'}, {1, -1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_decode(&cases[i]);
}
END_TEST

START_TEST(utf8_never_reads_past_the_nul) {
    /* Bytes after the NUL would complete each sequence: decoding must stop
     * at the NUL and leave them unread. */
    static const char after[][6] = {
        {'\xC3', 0, '\xA9'},
        {'\xE2', '\x82', 0, '\xAC'},
        {'\xF0', '\x9F', '\x98', 0, '\x80'},
    };
    static const int steps[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        const char *p = after[i];
        uint32_t cp;
        for (int k = 0; k < steps[i]; k++) {
            ck_assert_int_eq(utf8_next(&p, &cp), -1);
            ck_assert_uint_eq(cp, BAD);
        }
        ck_assert_ptr_eq(p, after[i] + steps[i]);
        ck_assert_int_eq(utf8_next(&p, &cp), 0);
        ck_assert_int_eq(utf8_next(&p, &cp), 0); /* the end stays the end */
        ck_assert_ptr_eq(p, after[i] + steps[i]);
    }
    /* Heap copies of exactly the string's size: AddressSanitizer sees any
     * read past the NUL. */
    static const char *tails[] = {"\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xF4", "x\xED\x9F"};
    for (int i = 0; i < 5; i++) {
        char *s = STRDUP_CHECK(tails[i]);
        const char *p = s;
        uint32_t cp;
        int n = 0;
        while (utf8_next(&p, &cp)) n++;
        ck_assert_int_eq(n, (int)strlen(tails[i])); /* every byte of a cut sequence is one box */
        ck_assert_ptr_eq(p, s + strlen(s));
        free(s);
    }
}
END_TEST

/* ---- glyphs ---- */

static int ink_count(uint32_t cp) {
    int n = 0;
    for (int y = 0; y < FONT_GLYPH_H; y++)
        for (int x = 0; x < FONT_GLYPH_W; x++) n += font_glyph_ink(cp, x, y);
    return n;
}

static int same_glyph(uint32_t a, uint32_t b) {
    for (int y = 0; y < FONT_GLYPH_H; y++)
        for (int x = 0; x < FONT_GLYPH_W; x++)
            if (font_glyph_ink(a, x, y) != font_glyph_ink(b, x, y)) return 0;
    return 1;
}

static int row_has_ink(uint32_t cp, int y) {
    for (int x = 0; x < FONT_GLYPH_W; x++)
        if (font_glyph_ink(cp, x, y)) return 1;
    return 0;
}

/* Sum of glyph ink over a string, as font_draw should draw it at scale 1. */
static int string_ink(const char *s) {
    int n = 0;
    uint32_t cp;
    while (utf8_next(&s, &cp)) n += ink_count(cp);
    return n;
}

START_TEST(printable_ascii_all_inked_and_all_distinct) {
    ck_assert(font_has_glyph(' '));
    ck_assert_int_eq(ink_count(' '), 0);
    for (uint32_t c = 33; c <= 126; c++) {
        ck_assert_msg(font_has_glyph(c), "'%c' has no glyph", c);
        ck_assert_msg(ink_count(c) > 0, "'%c' has no ink", c);
        ck_assert_msg(!same_glyph(c, 0xFFFD), "'%c' looks like the unknown box", c);
        for (uint32_t d = 33; d < c; d++) ck_assert_msg(!same_glyph(c, d), "'%c' and '%c' look the same", c, d);
    }
}
END_TEST

START_TEST(look_alike_characters_differ) {
    static const char *groups[] = {"O0QD", "l1I|i!", "5S", "2Z", "8B", "g9q", "uv", "rn", "m", "-_", ".,", ":;"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        for (const char *a = groups[i]; *a; a++)
            for (const char *b = a + 1; *b; b++)
                ck_assert_msg(!same_glyph((uint8_t)*a, (uint8_t)*b), "'%c' vs '%c'", *a, *b);
    /* Accents show: each accented letter differs from its base and from the
     * other accents on it. */
    static const char *const accented[][2] = {
        {"a", "àáâãäå"}, {"e", "èéêë"}, {"o", "òóôõöø"}, {"u", "ùúûü"}, {"c", "ç"}, {"n", "ñ"}, {"y", "ýÿ"},
        {"i", "ìíîï"},   {"A", "ÀÁÂÃÄÅ"}, {"E", "ÈÉÊË"}, {"O", "ÒÓÔÕÖØ"}, {"U", "ÙÚÛÜ"}, {"C", "Ç"}, {"N", "Ñ"},
    };
    for (size_t i = 0; i < sizeof accented / sizeof accented[0]; i++) {
        uint32_t base = (uint8_t)accented[i][0][0], cp, prev = 0;
        for (const char *p = accented[i][1]; utf8_next(&p, &cp);) {
            ck_assert_msg(!same_glyph(cp, base), "U+%04X looks like '%c'", cp, base);
            if (prev) ck_assert_msg(!same_glyph(cp, prev), "U+%04X looks like U+%04X", cp, prev);
            prev = cp;
        }
    }
    /* Capitals and lowercase with the same accent differ, except where the
     * small capital is the lowercase shape (documented in font.h). */
    static const char *known_alike = "òóôõö";
    for (uint32_t cp = 0xE0; cp <= 0xFE; cp++) {
        if (cp == 0xF7) continue; /* ÷ vs × are not a case pair */
        int alike = 0;
        uint32_t k;
        for (const char *p = known_alike; utf8_next(&p, &k);) alike |= k == cp;
        ck_assert_msg(same_glyph(cp, cp - 0x20) == alike, "U+%04X vs U+%04X: %s", cp, cp - 0x20,
                      alike ? "expected the known look-alike" : "look the same");
    }
}
END_TEST

START_TEST(required_coverage_has_glyphs) {
    const char *required = "äöüßéèêàçñåøæ ÄÖÜÉÈÊÀÇÑÅØÆ ° ← ↑ → ↓ € … ¡¿ «» ±";
    uint32_t cp;
    for (const char *p = required; utf8_next(&p, &cp);) {
        ck_assert_msg(font_has_glyph(cp), "U+%04X missing", cp);
        if (cp != ' ') ck_assert_msg(ink_count(cp) > 0 && !same_glyph(cp, 0xFFFD), "U+%04X not drawn", cp);
    }
    for (cp = 0xC0; cp <= 0xFF; cp++) {
        ck_assert_msg(font_has_glyph(cp), "U+%04X missing", cp);
        ck_assert_msg(!same_glyph(cp, 0xFFFD), "U+%04X draws as the box", cp);
        for (uint32_t d = 0xC0; d < cp; d++)
            if (d + 0x20 != cp) ck_assert_msg(!same_glyph(cp, d), "U+%04X vs U+%04X", cp, d);
    }
    /* The four arrows are four different shapes. */
    for (cp = 0x2190; cp <= 0x2193; cp++)
        for (uint32_t d = 0x2190; d < cp; d++) ck_assert(!same_glyph(cp, d));
}
END_TEST

START_TEST(anything_else_draws_the_unknown_box) {
    static const uint32_t unknown[] = {0x4E2D, 0x0100, 0x00A4, 0x1F600, 0x10FFFF, '\n', '\t', 0x7F, 0, 0x9F};
    const int box = ink_count(0xFFFD);
    ck_assert_int_gt(box, 0);
    ck_assert(!font_has_glyph(0xFFFD));
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_msg(!font_has_glyph(unknown[i]), "U+%04X", unknown[i]);
        ck_assert_msg(same_glyph(unknown[i], 0xFFFD), "U+%04X", unknown[i]);
    }
    /* Hollow: the rim of the 5x7 box and nothing inside. */
    for (int y = 0; y < FONT_GLYPH_H; y++)
        for (int x = 0; x < FONT_GLYPH_W; x++)
            ck_assert_int_eq(font_glyph_ink(0xFFFD, x, y), y < 7 && (x == 0 || x == 4 || y == 0 || y == 6));
}
END_TEST

START_TEST(glyph_geometry_is_as_documented) {
    /* 'H' pins the cell: 5 wide, capitals in rows 0-6, nothing in row 7. */
    static const char *H[8] = {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."};
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 5; x++) ck_assert_int_eq(font_glyph_ink('H', x, y), H[y][x] == '#');
    for (int c = 'A'; c <= 'Z'; c++) ck_assert_msg(!row_has_ink(c, 7), "'%c' reaches the descender row", c);
    for (const char *d = "gjpqy"; *d; d++) ck_assert_msg(row_has_ink((uint8_t)*d, 7), "'%c' has no descender", *d);
    for (const char *x = "acemnorsuvwxz"; *x; x++)
        ck_assert_msg(!row_has_ink((uint8_t)*x, 0) && !row_has_ink((uint8_t)*x, 1) && row_has_ink((uint8_t)*x, 2),
                      "'%c' is not x-height", *x);
    /* Accents sit in rows 0-1 above the letter. */
    uint32_t cp;
    for (const char *p = "àéîõüÀÉÎÕÜ"; utf8_next(&p, &cp);) ck_assert(row_has_ink(cp, 0));
    /* Outside the glyph box there is never ink. */
    for (uint32_t c = 0; c < 0x300; c++) {
        for (int k = -2; k < 10; k++) {
            ck_assert(!font_glyph_ink(c, -1, k % 8) && !font_glyph_ink(c, 5, k % 8));
            ck_assert(!font_glyph_ink(c, k % 5, -1) && !font_glyph_ink(c, k % 5, 8));
        }
        ck_assert(!font_glyph_ink(c, INT_MIN, 0) && !font_glyph_ink(c, 0, INT_MAX));
    }
}
END_TEST

START_TEST(text_width_counts_codepoints) {
    ck_assert_int_eq(font_text_width("", 1), 0);
    ck_assert_int_eq(font_text_width("A", 1), 5);
    ck_assert_int_eq(font_text_width("AB", 1), 11);
    ck_assert_int_eq(font_text_width("AB", 3), 33);
    ck_assert_int_eq(font_text_width("é→", 1), 11);        /* 5 bytes, 2 glyphs */
    ck_assert_int_eq(font_text_width("\xFF\xE2\x82", 1), 17); /* 3 malformed bytes, 3 boxes */
    ck_assert_int_eq(font_text_width("AB", 0), 0);
    ck_assert_int_eq(font_text_width("AB", -2), 0);
    ck_assert_int_eq(font_text_width("57 km/h", 2), 82);
}
END_TEST

/* ---- drawing ---- */

static int count_colour(const image *img, rgb8 c) {
    int n = 0;
    for (int i = 0; i < img->width * img->height; i++) {
        const uint8_t *p = img->rgb + 3 * i;
        n += p[0] == c.r && p[1] == c.g && p[2] == c.b;
    }
    return n;
}

START_TEST(drawn_ink_is_exact_and_in_its_box) {
    const char *text = "Hé→ Q\xFF!";
    for (int scale = 1; scale <= 3; scale++) {
        image img;
        image_init(&img, 140, 40);
        const int x = 3, y = 4;
        font_draw(&img, x, y, text, scale, INK);
        ck_assert_int_eq(count_colour(&img, INK), string_ink(text) * scale * scale);
        const int w = font_text_width(text, scale);
        for (int py = 0; py < img.height; py++)
            for (int px = 0; px < img.width; px++) {
                int inked = img.rgb[3 * (py * img.width + px)] != 0;
                int inside = px >= x && px < x + w && py >= y && py < y + FONT_GLYPH_H * scale;
                ck_assert_msg(!inked || inside, "scale %d: ink at (%d, %d) outside the text box", scale, px, py);
            }
        /* Pixel-exact: each font pixel is a scale x scale block. */
        for (int gy = 0; gy < FONT_GLYPH_H; gy++)
            for (int gx = 0; gx < FONT_GLYPH_W; gx++)
                for (int d = 0; d < scale * scale; d++) {
                    int px = x + FONT_CELL_W * scale + gx * scale + d % scale, py = y + gy * scale + d / scale;
                    ck_assert_int_eq(img.rgb[3 * (py * img.width + px)] != 0, font_glyph_ink(0xE9, gx, gy));
                }
        image_free(&img);
    }
}
END_TEST

/* Drawing at (x, y) into a small image must equal drawing into a large one
 * around it and cropping: exactly the clipped ink, at every edge. */
START_TEST(clipping_matches_the_uncut_drawing_at_every_edge) {
    const char *text = "Wq→Äg";
    const int W = 23, H = 11, M = 80;
    for (int scale = 1; scale <= 2; scale++) {
        for (int y = -20; y <= H + 2; y += 3) {
            for (int x = -70; x <= W + 2; x += 5) {
                image small, big;
                image_init(&small, W, H);
                image_init(&big, W + 2 * M, H + 2 * M);
                font_draw(&small, x, y, text, scale, INK);
                font_draw(&big, x + M, y + M, text, scale, INK);
                for (int py = 0; py < H; py++)
                    ck_assert_int_eq(memcmp(small.rgb + 3 * py * W, big.rgb + 3 * ((py + M) * big.width + M), 3 * W), 0);
                image_free(&small);
                image_free(&big);
            }
        }
    }
}
END_TEST

START_TEST(far_positions_and_huge_scales_stay_inside) {
    /* Canary bytes around the pixels: a write outside the image shows there
     * (and AddressSanitizer reports it). */
    enum { W = 16, H = 9, PAD = 64 };
    uint8_t *buf = MALLOC_CHECK(3 * W * H + 2 * PAD);
    static const int pos[] = {INT_MIN, INT_MIN / 2, -1000000, -100, -7, -1, 0, 3, 15, 16, 100, INT_MAX / 2, INT_MAX};
    static const int scales[] = {1, 2, 7, 1000, INT_MAX};
    const int n = sizeof pos / sizeof pos[0];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < 5; k++) {
                memset(buf, 0xA5, 3 * W * H + 2 * PAD);
                image img = {W, H, buf + PAD};
                font_draw(&img, pos[i], pos[j], "MW\xE2\x96\x88Q", scales[k], INK);
                for (int b = 0; b < PAD; b++) {
                    ck_assert_uint_eq(buf[b], 0xA5);
                    ck_assert_uint_eq(buf[PAD + 3 * W * H + b], 0xA5);
                }
            }
    /* Scale below 1 draws nothing at all. */
    memset(buf, 0, 3 * W * H + 2 * PAD);
    image img = {W, H, buf + PAD};
    font_draw(&img, 0, 0, "MMM", 0, INK);
    font_draw(&img, 0, 0, "MMM", -3, INK);
    for (int b = 0; b < 3 * W * H; b++) ck_assert_uint_eq(img.rgb[b], 0);
    free(buf);
}
END_TEST

/* ---- sign-board layout ---- */

/* The mask holds exactly text's glyphs on line `line` starting at x0, and
 * nothing else in that line's band. */
static void check_line(const text_mask *m, int line, const char *text, int x0) {
    const int y0 = 1 + FONT_CELL_H * line;
    int n = 0;
    uint32_t cps[64], cp;
    for (const char *p = text; utf8_next(&p, &cp);) cps[n++] = cp;
    for (int y = y0 - 1; y <= y0 + FONT_GLYPH_H && y < m->height; y++)
        for (int x = 0; x < m->width; x++) {
            int want = 0, gx = x - x0, gy = y - y0;
            if (gx >= 0 && gy >= 0 && gy < FONT_GLYPH_H && gx / FONT_CELL_W < n)
                want = font_glyph_ink(cps[gx / FONT_CELL_W], gx % FONT_CELL_W, gy);
            ck_assert_msg(m->ink[y * m->width + x] == want, "line %d '%s': pixel (%d, %d) is %d", line, text, x, y,
                          m->ink[y * m->width + x]);
        }
}

static void check_margins_blank(const text_mask *m) {
    for (int x = 0; x < m->width; x++) ck_assert(!m->ink[x] && !m->ink[(m->height - 1) * m->width + x]);
    for (int y = 0; y < m->height; y++) ck_assert(!m->ink[y * m->width] && !m->ink[y * m->width + m->width - 1]);
}

START_TEST(mask_wraps_at_spaces_and_centres_lines) {
    text_mask m;
    text_mask_layout(&m, "ROAD WORK AHEAD", 10);
    ck_assert_int_eq(m.width, 6 * 9 + 1); /* "ROAD WORK" is the widest line */
    ck_assert_int_eq(m.height, 9 * 2 + 1);
    check_line(&m, 0, "ROAD WORK", 1);
    check_line(&m, 1, "AHEAD", 1 + (53 - 29) / 2);
    check_margins_blank(&m);
    text_mask_free(&m);
    ck_assert_ptr_null(m.ink);

    /* Runs of spaces collapse; leading and trailing ones vanish. */
    text_mask_layout(&m, "  USE   NEXT  ", 20);
    ck_assert_int_eq(m.width, 6 * 8 + 1);
    ck_assert_int_eq(m.height, 10);
    check_line(&m, 0, "USE NEXT", 1);
    text_mask_free(&m);

    text_mask_layout(&m, "ABCD E", 4);
    ck_assert_int_eq(m.width, 25);
    check_line(&m, 0, "ABCD", 1);
    check_line(&m, 1, "E", 1 + (23 - 5) / 2);
    text_mask_free(&m);
}
END_TEST

START_TEST(mask_breaks_long_words_hard) {
    text_mask m;
    text_mask_layout(&m, "ABCDEFGHIJKLMNOPQRSTUVWXY", 10);
    ck_assert_int_eq(m.width, 61);
    ck_assert_int_eq(m.height, 28);
    check_line(&m, 0, "ABCDEFGHIJ", 1);
    check_line(&m, 1, "KLMNOPQRST", 1);
    check_line(&m, 2, "UVWXY", 1 + (59 - 29) / 2);
    check_margins_blank(&m);
    text_mask_free(&m);

    /* A short word before a long one keeps its own line. */
    text_mask_layout(&m, "GO ABCDEFGHIJKL", 10);
    ck_assert_int_eq(m.height, 28);
    check_line(&m, 0, "GO", 1 + (59 - 11) / 2);
    check_line(&m, 1, "ABCDEFGHIJ", 1);
    check_line(&m, 2, "KL", 1 + (59 - 11) / 2);
    text_mask_free(&m);

    /* Joining stops exactly at the limit. */
    text_mask_layout(&m, "AB CD", 5);
    ck_assert_int_eq(m.height, 10);
    check_line(&m, 0, "AB CD", 1);
    text_mask_free(&m);
    text_mask_layout(&m, "AB CDE", 5);
    ck_assert_int_eq(m.height, 19);
    check_line(&m, 0, "AB", 1 + (17 - 11) / 2);
    check_line(&m, 1, "CDE", 1);
    text_mask_free(&m);

    /* A word exactly a line long is not broken. */
    text_mask_layout(&m, "ABCDE FGHIJ", 5);
    ck_assert_int_eq(m.height, 19);
    check_line(&m, 0, "ABCDE", 1);
    check_line(&m, 1, "FGHIJ", 1);
    text_mask_free(&m);

    /* Columns below 1 count as 1: one glyph per line. */
    text_mask_layout(&m, "AB", 0);
    ck_assert_int_eq(m.width, 7);
    ck_assert_int_eq(m.height, 19);
    check_line(&m, 0, "A", 1);
    check_line(&m, 1, "B", 1);
    text_mask_free(&m);
}
END_TEST

START_TEST(mask_newlines_utf8_and_empty_text) {
    text_mask m;
    text_mask_layout(&m, "A\n\nBC", 10);
    ck_assert_int_eq(m.height, 9 * 3 + 1);
    ck_assert_int_eq(m.width, 13);
    check_line(&m, 0, "A", 4);
    check_line(&m, 1, "", 1);
    check_line(&m, 2, "BC", 1);
    text_mask_free(&m);

    /* Codepoints, not bytes, fill a line; U+00A0 holds words together. */
    text_mask_layout(&m, "ÜBER → A\xC2\xA0" "B C", 6);
    ck_assert_int_eq(m.width, 6 * 6 + 1);
    check_line(&m, 0, "ÜBER →", 1);
    check_line(&m, 1, "A\xC2\xA0" "B C", 1 + (35 - 29) / 2);
    text_mask_free(&m);
    text_mask_layout(&m, "A\xC2\xA0" "B C", 3);
    check_line(&m, 0, "A\xC2\xA0" "B", 1);
    check_line(&m, 1, "C", 7);
    text_mask_free(&m);

    /* Malformed bytes are boxes, one per byte, like anywhere else. */
    text_mask_layout(&m, "A\xFF\xFE", 10);
    ck_assert_int_eq(m.width, 19);
    check_line(&m, 0, "A\xEF\xBF\xBD\xEF\xBF\xBD", 1);
    text_mask_free(&m);

    static const char *empty[] = {"", "   ", "\n"};
    for (int i = 0; i < 3; i++) {
        text_mask_layout(&m, empty[i], 10);
        ck_assert_int_eq(m.width, 2);
        ck_assert_int_eq(m.height, 10);
        for (int k = 0; k < 20; k++) ck_assert_uint_eq(m.ink[k], 0);
        text_mask_free(&m);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("font");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, utf8_valid_sequences_of_every_length);
    tcase_add_test(tc, utf8_every_malformed_class_gives_fffd_and_resyncs);
    tcase_add_test(tc, utf8_never_reads_past_the_nul);
    suite_add_tcase(s, tc);
    tc = tcase_create("glyphs");
    tcase_add_test(tc, printable_ascii_all_inked_and_all_distinct);
    tcase_add_test(tc, look_alike_characters_differ);
    tcase_add_test(tc, required_coverage_has_glyphs);
    tcase_add_test(tc, anything_else_draws_the_unknown_box);
    tcase_add_test(tc, glyph_geometry_is_as_documented);
    tcase_add_test(tc, text_width_counts_codepoints);
    suite_add_tcase(s, tc);
    tc = tcase_create("draw");
    tcase_add_test(tc, drawn_ink_is_exact_and_in_its_box);
    tcase_add_test(tc, clipping_matches_the_uncut_drawing_at_every_edge);
    tcase_add_test(tc, far_positions_and_huge_scales_stay_inside);
    suite_add_tcase(s, tc);
    tc = tcase_create("mask");
    tcase_add_test(tc, mask_wraps_at_spaces_and_centres_lines);
    tcase_add_test(tc, mask_breaks_long_words_hard);
    tcase_add_test(tc, mask_newlines_utf8_and_empty_text);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
