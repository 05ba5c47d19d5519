/* font.c — glyph data, UTF-8 decoding, text drawing and sign-board layout.
 *
 * The glyphs are drawn here as text, '#' for ink: FONT_SHEET holds them in
 * blocks of eight side by side, so each block reads as a strip of the font.
 * A glyph id indexes that sheet: ids 0-94 are ASCII 32-126, 95 is the
 * unknown box, the rest are named in glyph_id. Accented letters are not
 * drawn separately: a base (a letter or a small capital) is overlaid with an
 * accent glyph that has ink only in rows 0-1 (or row 7 for the cedilla). */
#include "render/font.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#define SHEET_BLOCKS 18

/* 8 glyphs of 5 columns, one space apart: 47 characters and the NUL. A
 * string too long for the array fails to compile under -Werror. */
static const char FONT_SHEET[SHEET_BLOCKS][FONT_GLYPH_H][48] = {
    /* space  !  "  #  $  %  &  ' */
    {
        "..... ..#.. .#.#. .#.#. ..#.. ##... .##.. ..#..",
        "..... ..#.. .#.#. .#.#. .#### ##..# #..#. ..#..",
        "..... ..#.. .#.#. ##### #.#.. ...#. #.#.. ..#..",
        "..... ..#.. ..... .#.#. .###. ..#.. .#... .....",
        "..... ..#.. ..... ##### ..#.# .#... #.#.# .....",
        "..... ..... ..... .#.#. ####. #..## #..#. .....",
        "..... ..#.. ..... .#.#. ..#.. ...## .##.# .....",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* (  )  *  +  ,  -  .  / */
    {
        "...#. .#... ..... ..... ..... ..... ..... ....#",
        "..#.. ..#.. ..#.. ..#.. ..... ..... ..... ....#",
        ".#... ...#. #.#.# ..#.. ..... ..... ..... ...#.",
        ".#... ...#. .###. ##### ..... ##### ..... ..#..",
        ".#... ...#. #.#.# ..#.. ..... ..... ..... .#...",
        "..#.. ..#.. ..#.. ..#.. .##.. ..... .##.. #....",
        "...#. .#... ..... ..... ..#.. ..... .##.. #....",
        "..... ..... ..... ..... .#... ..... ..... .....",
    },
    /* 0  1  2  3  4  5  6  7 */
    {
        ".###. ..#.. .###. ##### ...#. ##### ..##. #####",
        "#...# .##.. #...# ...#. ..##. #.... .#... ....#",
        "#...# #.#.. ....# ..#.. .#.#. ####. #.... ...#.",
        "#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#..",
        "#...# ..#.. ..#.. ....# ##### ....# #...# .#...",
        "#...# ..#.. .#... #...# ...#. #...# #...# .#...",
        ".###. ##### ##### .###. ...#. .###. .###. .#...",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* 8  9  :  ;  <  =  >  ? */
    {
        ".###. .###. ..... ..... ...#. ..... .#... .###.",
        "#...# #...# .##.. .##.. ..#.. ..... ..#.. #...#",
        "#...# #...# .##.. .##.. .#... ##### ...#. ....#",
        ".###. .#### ..... ..... #.... ..... ....# ...#.",
        "#...# ....# .##.. .##.. .#... ##### ...#. ..#..",
        "#...# ...#. .##.. .##.. ..#.. ..... ..#.. .....",
        ".###. .##.. ..... ..#.. ...#. ..... .#... ..#..",
        "..... ..... ..... .#... ..... ..... ..... .....",
    },
    /* @  A  B  C  D  E  F  G */
    {
        ".###. .###. ####. .###. ####. ##### ##### .###.",
        "#...# #...# #...# #...# #...# #.... #.... #...#",
        "....# #...# #...# #.... #...# #.... #.... #....",
        ".##.# ##### ####. #.... #...# ####. ####. #.###",
        "#.#.# #...# #...# #.... #...# #.... #.... #...#",
        "#.#.# #...# #...# #...# #...# #.... #.... #...#",
        ".###. #...# ####. .###. ####. ##### #.... .####",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* H  I  J  K  L  M  N  O */
    {
        "#...# .###. ..### #...# #.... #...# #...# .###.",
        "#...# ..#.. ...#. #..#. #.... ##.## #...# #...#",
        "#...# ..#.. ...#. #.#.. #.... #.#.# ##..# #...#",
        "##### ..#.. ...#. ##... #.... #.#.# #.#.# #...#",
        "#...# ..#.. ...#. #.#.. #.... #...# #..## #...#",
        "#...# ..#.. #..#. #..#. #.... #...# #...# #...#",
        "#...# .###. .##.. #...# ##### #...# #...# .###.",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* P  Q  R  S  T  U  V  W */
    {
        "####. .###. ####. .#### ##### #...# #...# #...#",
        "#...# #...# #...# #.... ..#.. #...# #...# #...#",
        "#...# #...# #...# #.... ..#.. #...# #...# #...#",
        "####. #...# ####. .###. ..#.. #...# #...# #.#.#",
        "#.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.#",
        "#.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.#",
        "#.... .##.# #...# ####. ..#.. .###. ..#.. .#.#.",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* X  Y  Z  [  backslash  ]  ^  _ */
    {
        "#...# #...# ##### .###. #.... .###. ..#.. .....",
        "#...# #...# ....# .#... #.... ...#. .#.#. .....",
        ".#.#. .#.#. ...#. .#... .#... ...#. #...# .....",
        "..#.. ..#.. ..#.. .#... ..#.. ...#. ..... .....",
        ".#.#. ..#.. .#... .#... ...#. ...#. ..... .....",
        "#...# ..#.. #.... .#... ....# ...#. ..... .....",
        "#...# ..#.. ##### .###. ....# .###. ..... .....",
        "..... ..... ..... ..... ..... ..... ..... #####",
    },
    /* `  a  b  c  d  e  f  g */
    {
        ".#... ..... #.... ..... ....# ..... ..##. .....",
        "..#.. ..... #.... ..... ....# ..... .#..# .....",
        "..... .###. ####. .###. .#### .###. .#... .####",
        "..... ....# #...# #.... #...# #...# ###.. #...#",
        "..... .#### #...# #.... #...# ##### .#... #...#",
        "..... #...# #...# #...# #...# #.... .#... .####",
        "..... .#### ####. .###. .#### .###. .#... ....#",
        "..... ..... ..... ..... ..... ..... ..... .###.",
    },
    /* h  i  j  k  l  m  n  o */
    {
        "#.... ..#.. ...#. #.... .##.. ..... ..... .....",
        "#.... ..... ..... #.... ..#.. ..... ..... .....",
        "#.##. .##.. ..##. #..#. ..#.. ##.#. #.##. .###.",
        "##..# ..#.. ...#. #.#.. ..#.. #.#.# ##..# #...#",
        "#...# ..#.. ...#. ##... ..#.. #.#.# #...# #...#",
        "#...# ..#.. ...#. #.#.. ..#.. #.#.# #...# #...#",
        "#...# .###. #..#. #..#. .###. #.#.# #...# .###.",
        "..... ..... .##.. ..... ..... ..... ..... .....",
    },
    /* p  q  r  s  t  u  v  w */
    {
        "..... ..... ..... ..... .#... ..... ..... .....",
        "..... ..... ..... ..... .#... ..... ..... .....",
        "####. .#### #.##. .#### ####. #...# #...# #...#",
        "#...# #...# ##..# #.... .#... #...# #...# #...#",
        "#...# #...# #.... .###. .#... #...# #...# #.#.#",
        "####. .#### #.... ....# .#..# #..## .#.#. #.#.#",
        "#.... ....# #.... ####. ..##. .##.# ..#.. .#.#.",
        "#.... ....# ..... ..... ..... ..... ..... .....",
    },
    /* x  y  z  {  |  }  ~  BOX */
    {
        "..... ..... ..... ...#. ..#.. .#... ..... #####",
        "..... ..... ..... ..#.. ..#.. ..#.. ..... #...#",
        "#...# #...# ##### ..#.. ..#.. ..#.. .#... #...#",
        ".#.#. #...# ...#. .#... ..#.. ...#. #.#.# #...#",
        "..#.. #...# ..#.. ..#.. ..#.. ..#.. ...#. #...#",
        ".#.#. .#### .#... ..#.. ..#.. ..#.. ..... #...#",
        "#...# ....# ##### ...#. ..#.. .#... ..... #####",
        "..... .###. ..... ..... ..#.. ..... ..... .....",
    },
    /* SC_A  SC_C  SC_E  SC_I  SC_N  SC_O  SC_U  SC_Y */
    {
        "..... ..... ..... ..... ..... ..... ..... .....",
        "..... ..... ..... ..... ..... ..... ..... .....",
        ".###. .###. ##### .###. #...# .###. #...# #...#",
        "#...# #...# #.... ..#.. ##..# #...# #...# .#.#.",
        "##### #.... ####. ..#.. #.#.# #...# #...# ..#..",
        "#...# #...# #.... ..#.. #..## #...# #...# ..#..",
        "#...# .###. ##### .###. #...# .###. .###. ..#..",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* DOTLESS_I  GRAVE  ACUTE  CIRC  TILDE  DIAER  CEDILLA  A_RING */
    {
        "..... .#... ...#. ..#.. .##.# .#.#. ..... ..#..",
        "..... ..#.. ..#.. .#.#. #..#. ..... ..... .#.#.",
        ".##.. ..... ..... ..... ..... ..... ..... ..#..",
        "..#.. ..... ..... ..... ..... ..... ..... .###.",
        "..#.. ..... ..... ..... ..... ..... ..... #...#",
        "..#.. ..... ..... ..... ..... ..... ..... #####",
        ".###. ..... ..... ..... ..... ..... ..... #...#",
        "..... ..... ..... ..... ..... ..... ..#.. .....",
    },
    /* a_ring  AE  ae  ETH  eth  O_SLASH  o_slash  THORN */
    {
        "..#.. .#### ..... ####. ..#.# .###. ..... #....",
        ".#.#. #.#.. ..... .#..# ...#. #..## ..... ####.",
        "..#.. #.#.. ##.#. .#..# ..#.# #..## .###. #...#",
        ".#### ####. ..#.# ###.# .#### #.#.# #..## #...#",
        "#...# #.#.. .#### .#..# #...# ##..# #.#.# ####.",
        "#...# #.#.. #.#.. .#..# #...# ##..# ##..# #....",
        ".#### #.### .#.## ####. .###. .###. .###. #....",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
    /* thorn  SZLIG  TIMES  DIVIDE  INV_EXCL  POUND  LAQUO  DEGREE */
    {
        "#.... .###. ..... ..... ..#.. ..##. ..... .##..",
        "#.... #...# ..... ..#.. ..... .#..# ..#.# #..#.",
        "####. #..#. .#.#. ..... ..#.. .#... .#.#. #..#.",
        "#...# #.#.. ..#.. ##### ..#.. ####. #.#.. .##..",
        "#...# #..#. .#.#. ..... ..#.. .#... .#.#. .....",
        "####. #...# ..... ..#.. ..#.. .#... ..#.# .....",
        "#.... #.##. ..... ..... ..#.. ##### ..... .....",
        "#.... #.... ..... ..... ..... ..... ..... .....",
    },
    /* PLUSMINUS  SUP2  SUP3  MICRO  MIDDOT  RAQUO  INV_QUEST  EURO */
    {
        "..#.. .##.. ###.. ..... ..... ..... ..#.. ..###",
        "..#.. #..#. ...#. ..... ..... #.#.. ..... .#...",
        "##### ..#.. .##.. #...# ..... .#.#. ..#.. ####.",
        "..#.. .#... ...#. #...# .##.. ..#.# .#... .#...",
        "..#.. ####. ###.. #...# .##.. .#.#. #.... ####.",
        "..... ..... ..... #..## ..... #.#.. #...# .#...",
        "##### ..... ..... ###.# ..... ..... .###. ..###",
        "..... ..... ..... #.... ..... ..... ..... .....",
    },
    /* ELLIPSIS  LEFT  UP  RIGHT  DOWN  -  -  - */
    {
        "..... ..... ..#.. ..... ..#.. ..... ..... .....",
        "..... ..#.. .###. ..#.. ..#.. ..... ..... .....",
        "..... .#... #.#.# ...#. ..#.. ..... ..... .....",
        "..... ##### ..#.. ##### ..#.. ..... ..... .....",
        "..... .#... ..#.. ...#. #.#.# ..... ..... .....",
        "..... ..#.. ..#.. ..#.. .###. ..... ..... .....",
        "#.#.# ..... ..#.. ..... ..#.. ..... ..... .....",
        "..... ..... ..... ..... ..... ..... ..... .....",
    },
};

/* Ids past ASCII, in sheet order. */
enum glyph_id {
    G_BOX = 95,
    G_SC_A, G_SC_C, G_SC_E, G_SC_I, G_SC_N, G_SC_O, G_SC_U, G_SC_Y,
    G_DOTLESS_I, G_GRAVE, G_ACUTE, G_CIRC, G_TILDE, G_DIAER, G_CEDILLA, G_A_RING,
    G_a_RING, G_AE, G_ae, G_ETH, G_eth, G_O_SLASH, G_o_SLASH, G_THORN,
    G_thorn, G_SZLIG, G_TIMES, G_DIVIDE, G_INV_EXCL, G_POUND, G_LAQUO, G_DEGREE,
    G_PLUSMINUS, G_SUP2, G_SUP3, G_MICRO, G_MIDDOT, G_RAQUO, G_INV_QUEST, G_EURO,
    G_ELLIPSIS, G_LEFT, G_UP, G_RIGHT, G_DOWN,
    G_COUNT
};
_Static_assert(G_COUNT <= SHEET_BLOCKS * 8, "glyph ids past the sheet");
_Static_assert(G_COUNT > (SHEET_BLOCKS - 1) * 8, "sheet blocks past the last glyph");

#define ASC(c) ((c) - 32)
#define NONE (-1)

/* What to draw for a codepoint: base glyph and an optional accent over it. */
typedef struct {
    short base, mark;
} glyph_ref;

/* U+00A0..U+00FF. */
static const glyph_ref LATIN1[96] = {
    /* A0 */ {ASC(' '), NONE}, {G_INV_EXCL, NONE}, {NONE, NONE}, {G_POUND, NONE},
    /* A4 */ {NONE, NONE}, {NONE, NONE}, {NONE, NONE}, {NONE, NONE},
    /* A8 */ {NONE, NONE}, {NONE, NONE}, {NONE, NONE}, {G_LAQUO, NONE},
    /* AC */ {NONE, NONE}, {ASC('-'), NONE}, {NONE, NONE}, {NONE, NONE},
    /* B0 */ {G_DEGREE, NONE}, {G_PLUSMINUS, NONE}, {G_SUP2, NONE}, {G_SUP3, NONE},
    /* B4 */ {NONE, NONE}, {G_MICRO, NONE}, {NONE, NONE}, {G_MIDDOT, NONE},
    /* B8 */ {NONE, NONE}, {NONE, NONE}, {NONE, NONE}, {G_RAQUO, NONE},
    /* BC */ {NONE, NONE}, {NONE, NONE}, {NONE, NONE}, {G_INV_QUEST, NONE},
    /* C0 À Á Â Ã */ {G_SC_A, G_GRAVE}, {G_SC_A, G_ACUTE}, {G_SC_A, G_CIRC}, {G_SC_A, G_TILDE},
    /* C4 Ä Å Æ Ç */ {G_SC_A, G_DIAER}, {G_A_RING, NONE}, {G_AE, NONE}, {G_SC_C, G_CEDILLA},
    /* C8 È É Ê Ë */ {G_SC_E, G_GRAVE}, {G_SC_E, G_ACUTE}, {G_SC_E, G_CIRC}, {G_SC_E, G_DIAER},
    /* CC Ì Í Î Ï */ {G_SC_I, G_GRAVE}, {G_SC_I, G_ACUTE}, {G_SC_I, G_CIRC}, {G_SC_I, G_DIAER},
    /* D0 Ð Ñ Ò Ó */ {G_ETH, NONE}, {G_SC_N, G_TILDE}, {G_SC_O, G_GRAVE}, {G_SC_O, G_ACUTE},
    /* D4 Ô Õ Ö × */ {G_SC_O, G_CIRC}, {G_SC_O, G_TILDE}, {G_SC_O, G_DIAER}, {G_TIMES, NONE},
    /* D8 Ø Ù Ú Û */ {G_O_SLASH, NONE}, {G_SC_U, G_GRAVE}, {G_SC_U, G_ACUTE}, {G_SC_U, G_CIRC},
    /* DC Ü Ý Þ ß */ {G_SC_U, G_DIAER}, {G_SC_Y, G_ACUTE}, {G_THORN, NONE}, {G_SZLIG, NONE},
    /* E0 à á â ã */ {ASC('a'), G_GRAVE}, {ASC('a'), G_ACUTE}, {ASC('a'), G_CIRC}, {ASC('a'), G_TILDE},
    /* E4 ä å æ ç */ {ASC('a'), G_DIAER}, {G_a_RING, NONE}, {G_ae, NONE}, {ASC('c'), G_CEDILLA},
    /* E8 è é ê ë */ {ASC('e'), G_GRAVE}, {ASC('e'), G_ACUTE}, {ASC('e'), G_CIRC}, {ASC('e'), G_DIAER},
    /* EC ì í î ï */ {G_DOTLESS_I, G_GRAVE}, {G_DOTLESS_I, G_ACUTE}, {G_DOTLESS_I, G_CIRC}, {G_DOTLESS_I, G_DIAER},
    /* F0 ð ñ ò ó */ {G_eth, NONE}, {ASC('n'), G_TILDE}, {ASC('o'), G_GRAVE}, {ASC('o'), G_ACUTE},
    /* F4 ô õ ö ÷ */ {ASC('o'), G_CIRC}, {ASC('o'), G_TILDE}, {ASC('o'), G_DIAER}, {G_DIVIDE, NONE},
    /* F8 ø ù ú û */ {G_o_SLASH, NONE}, {ASC('u'), G_GRAVE}, {ASC('u'), G_ACUTE}, {ASC('u'), G_CIRC},
    /* FC ü ý þ ÿ */ {ASC('u'), G_DIAER}, {ASC('y'), G_ACUTE}, {G_thorn, NONE}, {ASC('y'), G_DIAER},
};

/* Beyond Latin-1: what signs and pasted text use. Typographic quotes and
 * dashes borrow the ASCII glyphs rather than showing as boxes. */
static const struct {
    uint32_t cp;
    short id;
} OTHER[] = {
    {0x2013, ASC('-')}, {0x2014, ASC('-')}, {0x2018, ASC('\'')}, {0x2019, ASC('\'')},
    {0x201C, ASC('"')}, {0x201D, ASC('"')}, {0x2026, G_ELLIPSIS}, {0x20AC, G_EURO},
    {0x2190, G_LEFT},   {0x2191, G_UP},     {0x2192, G_RIGHT},    {0x2193, G_DOWN},
    {0x2212, ASC('-')},
};

static glyph_ref glyph_lookup(uint32_t cp) {
    if (cp >= 0x20 && cp <= 0x7E) return (glyph_ref){(short)ASC((int)cp), NONE};
    if (cp >= 0xA0 && cp <= 0xFF && LATIN1[cp - 0xA0].base != NONE) return LATIN1[cp - 0xA0];
    for (size_t i = 0; i < sizeof OTHER / sizeof OTHER[0]; i++)
        if (OTHER[i].cp == cp) return (glyph_ref){OTHER[i].id, NONE};
    return (glyph_ref){G_BOX, NONE};
}

static inline int sheet_ink(int id, int gx, int gy) {
    return FONT_SHEET[id / 8][gy][(id % 8) * (FONT_GLYPH_W + 1) + gx] == '#';
}

static inline int ref_ink(glyph_ref g, int gx, int gy) {
    return sheet_ink(g.base, gx, gy) || (g.mark != NONE && sheet_ink(g.mark, gx, gy));
}

int utf8_next(const char **s, uint32_t *codepoint) {
    const unsigned char *p = (const unsigned char *)*s;
    unsigned b0 = p[0];
    if (b0 == 0) {
        *codepoint = 0;
        return 0;
    }
    if (b0 < 0x80) {
        *codepoint = b0;
        *s += 1;
        return 1;
    }
    /* The lead byte fixes the length and the range of the first continuation
     * byte (Unicode table 3-7); narrowing that range is what rejects overlong
     * forms (E0, F0), surrogates (ED) and codepoints past U+10FFFF (F4). */
    int n;
    uint32_t c;
    unsigned lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 1, c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 2, c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 3, c = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        goto bad; /* continuation byte, C0/C1 (always overlong), F5-FF */
    }
    for (int i = 1; i <= n; i++) {
        /* p[i] is read only after p[i - 1] was a non-NUL byte of this
         * sequence, and NUL is not a continuation byte: the scan stops there. */
        unsigned b = p[i];
        if (b < lo || b > hi) goto bad;
        lo = 0x80, hi = 0xBF;
        c = (c << 6) | (b & 0x3F);
    }
    *codepoint = c;
    *s += n + 1;
    return 1;
bad:
    *codepoint = 0xFFFD;
    *s += 1;
    return -1;
}

int font_has_glyph(uint32_t codepoint) { return glyph_lookup(codepoint).base != G_BOX; }

int font_glyph_ink(uint32_t codepoint, int gx, int gy) {
    if (gx < 0 || gx >= FONT_GLYPH_W || gy < 0 || gy >= FONT_GLYPH_H) return 0;
    return ref_ink(glyph_lookup(codepoint), gx, gy);
}

int font_text_width(const char *utf8, int scale) {
    if (scale < 1) return 0;
    long long n = 0;
    uint32_t cp;
    while (utf8_next(&utf8, &cp)) n++;
    if (n == 0) return 0;
    long long w = (FONT_CELL_W * n - 1) * (long long)scale;
    return w > INT_MAX ? INT_MAX : (int)w;
}

void font_draw(image *img, int x, int y, const char *utf8, int scale, rgb8 colour) {
    if (scale < 1) return;
    const long long W = img->width, H = img->height;
    /* 64-bit positions: a far-off x plus many cells must not wrap into view. */
    const long long top = y;
    if (top >= H || top + (long long)FONT_GLYPH_H * scale <= 0) return;
    long long left = x;
    uint32_t cp;
    for (; utf8_next(&utf8, &cp); left += (long long)FONT_CELL_W * scale) {
        if (left >= W) return; /* every later glyph is further right */
        if (left + (long long)FONT_GLYPH_W * scale <= 0) continue;
        glyph_ref g = glyph_lookup(cp);
        for (int gy = 0; gy < FONT_GLYPH_H; gy++) {
            long long y0 = top + (long long)gy * scale, y1 = y0 + scale;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            if (y0 >= y1) continue;
            for (int gx = 0; gx < FONT_GLYPH_W; gx++) {
                if (!ref_ink(g, gx, gy)) continue;
                long long x0 = left + (long long)gx * scale, x1 = x0 + scale;
                if (x0 < 0) x0 = 0;
                if (x1 > W) x1 = W;
                for (long long py = y0; py < y1; py++) {
                    uint8_t *p = img->rgb + 3 * (size_t)(py * W + x0);
                    for (long long px = x0; px < x1; px++, p += 3) p[0] = colour.r, p[1] = colour.g, p[2] = colour.b;
                }
            }
        }
    }
}

/* Laid-out lines, back to back in cps; the last one is open until line_end. */
typedef struct {
    uint32_t *cps;
    size_t n;
    size_t *start, *len; /* per line */
    size_t lines;
    size_t cur; /* length of the open line */
} line_buf;

static void line_end(line_buf *b) {
    b->start[b->lines] = b->n - b->cur;
    b->len[b->lines] = b->cur;
    b->lines++;
    b->cur = 0;
}

static void line_put(line_buf *b, const uint32_t *cps, size_t n) {
    memcpy(b->cps + b->n, cps, n * sizeof *cps);
    b->n += n;
    b->cur += n;
}

void text_mask_layout(text_mask *m, const char *utf8, int max_columns) {
    const size_t max = max_columns < 1 ? 1 : (size_t)max_columns;
    /* Every codepoint takes at least one byte, so strlen bounds the count;
     * the laid-out text adds at most one space per word and the line count
     * is at most one per codepoint, plus the last line. */
    size_t cap = strlen(utf8) + 1;
    uint32_t *in = CALLOC_CHECK(cap, sizeof *in);
    size_t n = 0;
    uint32_t cp;
    for (const char *s = utf8; utf8_next(&s, &cp);) in[n++] = cp;
    line_buf b = {.cps = CALLOC_CHECK(2 * cap, sizeof(uint32_t)),
                  .start = CALLOC_CHECK(cap, sizeof(size_t)),
                  .len = CALLOC_CHECK(cap, sizeof(size_t))};
    const uint32_t space = ' ';
    for (size_t i = 0; i < n;) {
        if (in[i] == '\n') {
            line_end(&b);
            i++;
            continue;
        }
        if (in[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && in[j] != ' ' && in[j] != '\n') j++;
        size_t wl = j - i;
        if (b.cur > 0 && b.cur + 1 + wl <= max) {
            line_put(&b, &space, 1);
            line_put(&b, in + i, wl);
        } else {
            if (b.cur > 0) line_end(&b);
            for (; wl > max; i += max, wl -= max) {
                line_put(&b, in + i, max);
                line_end(&b);
            }
            line_put(&b, in + i, wl);
        }
        i = j;
    }
    if (b.cur > 0 || b.lines == 0) line_end(&b);

    size_t widest = 0;
    for (size_t l = 0; l < b.lines; l++)
        if (b.len[l] > widest) widest = b.len[l];
    size_t inner_w = widest ? FONT_CELL_W * widest - 1 : 0;
    size_t w = inner_w + 2, h = FONT_CELL_H * b.lines - 1 + 2;
    if (w > INT_MAX || h > INT_MAX) {
        fprintf(stderr, "text_mask_layout: %zu x %zu mask does not fit an int\n", w, h);
        abort();
    }
    m->width = (int)w;
    m->height = (int)h;
    m->ink = CALLOC_CHECK(w, h);
    for (size_t l = 0; l < b.lines; l++) {
        size_t lw = b.len[l] ? FONT_CELL_W * b.len[l] - 1 : 0;
        size_t x0 = 1 + (inner_w - lw) / 2, y0 = 1 + FONT_CELL_H * l;
        for (size_t k = 0; k < b.len[l]; k++) {
            glyph_ref g = glyph_lookup(b.cps[b.start[l] + k]);
            for (int gy = 0; gy < FONT_GLYPH_H; gy++)
                for (int gx = 0; gx < FONT_GLYPH_W; gx++)
                    if (ref_ink(g, gx, gy)) m->ink[(y0 + gy) * w + x0 + FONT_CELL_W * k + gx] = 1;
        }
    }
    free(in);
    free(b.cps);
    free(b.start);
    free(b.len);
}

void text_mask_free(text_mask *m) {
    free(m->ink);
    memset(m, 0, sizeof *m);
}
