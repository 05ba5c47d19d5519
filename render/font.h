/* font.h — a built-in fixed-width bitmap font for overlays and sign boards,
 * and the UTF-8 decoding it needs.
 *
 * Usage:
 *     font_draw(&img, 4, 2, "USE NEXT ENTRANCE →", 1, (rgb8){255, 255, 255});
 *     int w = font_text_width("57 km/h", 2);       // to right-align or centre
 *
 *     text_mask m;                                 // a sign board's lettering
 *     text_mask_layout(&m, "ROAD WORK AHEAD", 10);
 *     ... m.ink[y * m.width + x] ...                // 1: ink, 0: board
 *     text_mask_free(&m);
 *
 * Geometry (one scale unit = one pixel at scale 1): every glyph is 5 wide and
 * 8 tall in a 6 x 9 cell, the extra column and row being the gap to the next
 * glyph and line. Rows 0-6 hold capitals and digits (baseline under row 6),
 * lowercase x-height is rows 2-6, row 7 takes descenders (g j p q y ç).
 * Accented capitals are small capitals in rows 2-6 under a 2-row accent,
 * since a 7-row capital leaves no room above it in the cell; the small
 * capital O is the lowercase o, so Ò Ó Ô Õ Ö look like ò ó ô õ ö.
 *
 * Coverage: ASCII 32-126; Latin-1 U+00A0-U+00FF letters (all of À-ÿ) and the
 * common signs ¡ £ « ° ± ² ³ µ · » ¿ × ÷; € … ← ↑ → ↓; typographic quotes and
 * dashes as their ASCII look-alikes. Every other codepoint, control
 * characters included, draws as a hollow box, so missing text is visible. */
#ifndef WMSIM_FONT_H
#define WMSIM_FONT_H

#include <stdint.h>

#include "render/image.h"

#define FONT_GLYPH_W 5
#define FONT_GLYPH_H 8
#define FONT_CELL_W 6 /* advance per glyph */
#define FONT_CELL_H 9 /* advance per line */

/* Decodes one codepoint at *s and advances *s past it. Returns 0 at the
 * terminating NUL (*s not moved, *codepoint 0), 1 for a valid codepoint, and
 * -1 for a malformed sequence (overlong form, surrogate, above U+10FFFF,
 * stray continuation byte, truncated sequence, byte 0xF8-0xFF): then
 * *codepoint is U+FFFD and *s moves one byte only, so decoding resyncs at the
 * next byte and never reads past the NUL. */
int utf8_next(const char **s, uint32_t *codepoint);

/* Whether codepoint has its own glyph (0: it draws as the unknown box). */
int font_has_glyph(uint32_t codepoint);

/* 1 where the glyph drawn for codepoint has ink at column gx (0..4), row gy
 * (0..7); 0 outside that box. */
int font_glyph_ink(uint32_t codepoint, int gx, int gy);

/* Width in pixels of the ink span of a one-line string: (6n - 1) * scale for
 * n codepoints (every malformed byte counts as one), 0 when empty or scale < 1. */
int font_text_width(const char *utf8, int scale);

/* Draws the glyphs' ink only (the background shows through) with the top-left
 * of the first cell at (x, y), each font pixel a scale x scale block. Any
 * position is allowed; what falls outside img is clipped. scale < 1 draws
 * nothing. One line: '\n' is a control character and draws as the box. */
void font_draw(image *img, int x, int y, const char *utf8, int scale, rgb8 colour);

/* A sign board's lettering at scale 1: ink[y * width + x] is 1 on a glyph
 * pixel, 0 elsewhere. */
typedef struct {
    int width, height;
    uint8_t *ink;
} text_mask;

/* Lays utf8 out in lines of at most max_columns glyphs (values below 1 count
 * as 1): words wrap at spaces, a word longer than a line is broken hard, a
 * '\n' always starts a new line, runs of spaces collapse. Each line is
 * centred in the widest line's ink width (6 * glyphs - 1; two such widths
 * differ by an even number of pixels, so centring is exact), with a 1 px
 * blank margin all round: width = 6 * widest + 1, height = 9 * lines + 1.
 * A no-break space (U+00A0) joins words. Empty text gives one empty line, a
 * blank 2 x 10 mask, never a zero-size one. */
void text_mask_layout(text_mask *m, const char *utf8, int max_columns);
void text_mask_free(text_mask *m);

#endif
