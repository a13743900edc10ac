/*
 * termsafe.c - see termsafe.h. The parser follows the states of the DEC
 * VT500 parser (ground, escape, escape intermediate, CSI, control string)
 * that xterm, VTE and most terminals implement, so that what it decides
 * a sequence is, the terminal decides too. Where they could disagree
 * (a string the terminal ends earlier), it errs towards showing text.
 */
#include <stdlib.h>
#include <string.h>

#include "common/termsafe.h"
#include "common/banned.h"

#define ESC	0x1b
#define CAN	0x18
#define SUB	0x1a
#define DEL	0x7f

enum {
	S_GROUND = 0,
	S_ESC,		/* after ESC */
	S_ESC_INTER,	/* ESC and intermediates (0x20-0x2f) */
	S_CSI,		/* ESC [ and parameters, intermediates */
	S_STRING,	/* OSC, DCS, APC, PM, SOS: dropped */
	S_STRING_ESC,	/* ESC inside a string: ST or a new sequence */
};

/* Modes a passed sequence set, which termsafe_finish undoes. */
enum {
	TS_M_SGR = 1 << 0,
	TS_M_ALT47 = 1 << 1,
	TS_M_ALT1047 = 1 << 2,
	TS_M_ALT1049 = 1 << 3,
	TS_M_REGION = 1 << 4,
	TS_M_NOWRAP = 1 << 5,
	TS_M_HIDDEN = 1 << 6,
	TS_M_APPCURSOR = 1 << 7,
	TS_M_REVERSE = 1 << 8,
	TS_M_PASTE = 1 << 9,
	TS_M_APPKEYPAD = 1 << 10,
	TS_M_G0 = 1 << 11,
	TS_M_INSERT = 1 << 12,
	TS_M_CURSHAPE = 1 << 13,
	TS_M_G1 = 1 << 14,
};

/* The DEC private modes let through, the bit each sets, and its reset. */
static const struct {
	unsigned mode;
	unsigned bit;		/* set by 'h', or by 'l' when inverted */
	int inverted;		/* ?7: 'l' is the change to undo */
} private_modes[] = {
	{ 1, TS_M_APPCURSOR, 0 },
	{ 5, TS_M_REVERSE, 0 },
	{ 7, TS_M_NOWRAP, 1 },
	{ 25, TS_M_HIDDEN, 1 },
	{ 47, TS_M_ALT47, 0 },
	{ 1047, TS_M_ALT1047, 0 },
	{ 1048, 0, 0 },		/* save/restore cursor: nothing to undo */
	{ 1049, TS_M_ALT1049, 0 },
	{ 2004, TS_M_PASTE, 0 },
};
#define NPRIVATE (sizeof(private_modes) / sizeof(private_modes[0]))

/* What termsafe_finish writes for each mode, in this order. */
static const struct {
	unsigned bit;
	const char *undo;
} undo[] = {
	{ TS_M_ALT1049, "\033[?1049l" },
	{ TS_M_ALT1047, "\033[?1047l" },
	{ TS_M_ALT47, "\033[?47l" },
	/* DECSTBM homes the cursor: keep it where it is. */
	{ TS_M_REGION, "\0337\033[r\0338" },
	{ TS_M_NOWRAP, "\033[?7h" },
	{ TS_M_HIDDEN, "\033[?25h" },
	{ TS_M_APPCURSOR, "\033[?1l" },
	{ TS_M_REVERSE, "\033[?5l" },
	{ TS_M_PASTE, "\033[?2004l" },
	{ TS_M_APPKEYPAD, "\033>" },
	{ TS_M_G0, "\033(B" },
	{ TS_M_G1, "\033)B" },
	{ TS_M_INSERT, "\033[4l" },
	{ TS_M_CURSHAPE, "\033[0 q" },
	{ TS_M_SGR, "\033[0m" },
};

#define MAX_PARAMS 30	/* xterm keeps as many */

struct csi {
	int private;			/* '<' '=' '>' '?' or 0 */
	unsigned param[MAX_PARAMS];	/* capped at 65535; 0 when empty */
	unsigned char sub[MAX_PARAMS];	/* 1: came after ':' (SGR only) */
	size_t nparam;
	char inter[2];			/* intermediates, NUL-padded */
	size_t ninter;
	int final;
};

void
termsafe_init(struct termsafe *t, int flags)
{
	memset(t, 0, sizeof(*t));
	t->ascii = (flags & TERMSAFE_ASCII) != 0;
}

static size_t
put(uint8_t *out, size_t o, const void *p, size_t n)
{
	memcpy(out + o, p, n);
	return o + n;
}

/* What stands for a character that is not shown: U+FFFD, or '?'. */
static size_t
replacement(const struct termsafe *t, uint8_t *out, size_t o)
{
	if (t->ascii)
		return put(out, o, "?", 1);
	return put(out, o, "\xef\xbf\xbd", 3);
}

/* C0 controls shown as they are; the others are dropped. */
static int
c0_passed(uint8_t b)
{
	return b == 0x07 || (b >= 0x08 && b <= 0x0d);
}

/*
 * Reads the CSI sequence in t->seq (ESC '[' ... final): 0 when it is not
 * a well-formed one (parameters after intermediates, a marker in the
 * middle, too many of anything).
 */
static int
csi_parse(const struct termsafe *t, struct csi *c)
{
	size_t i = 2;

	memset(c, 0, sizeof(*c));
	c->final = t->seq[t->seq_len - 1];
	if (i < t->seq_len - 1 && t->seq[i] >= '<' && t->seq[i] <= '?')
		c->private = t->seq[i++];
	for (; i < t->seq_len - 1; i++) {
		uint8_t b = t->seq[i];

		if (b >= '0' && b <= '9' && c->ninter == 0) {
			if (c->nparam == 0)
				c->nparam = 1;
			if (c->param[c->nparam - 1] < 65535)
				c->param[c->nparam - 1] = c->param[c->nparam -
				    1] * 10 + (unsigned)(b - '0');
			if (c->param[c->nparam - 1] > 65535)
				c->param[c->nparam - 1] = 65535;
		} else if ((b == ';' || (b == ':' && c->final == 'm')) &&
		    c->ninter == 0) {
			/* ':' only in SGR, for colours as 38:2::R:G:B */
			if (c->nparam == 0)
				c->nparam = 1;
			if (c->nparam == MAX_PARAMS)
				return 0;
			c->sub[c->nparam++] = b == ':';
		} else if (b >= 0x20 && b <= 0x2f) {
			if (c->ninter == sizeof(c->inter))
				return 0;
			c->inter[c->ninter++] = (char)b;
		} else {
			return 0;	/* a late marker, ':' elsewhere */
		}
	}
	return 1;
}

/*
 * SGR attributes that only colour and style text. Not 10-20: fonts, and
 * on the Linux console 11 and 12 make it show control bytes as glyphs,
 * undecoded, so that the second byte of a letter such as U+041B (D0 9B)
 * becomes a CSI; SGR 0 does not undo it.
 */
static int
sgr_plain_ok(unsigned p)
{
	return p <= 9 || (p >= 21 && p <= 37) || p == 39 ||
	    (p >= 40 && p <= 47) || p == 49 || p == 53 || p == 55 ||
	    p == 59 || (p >= 90 && p <= 97) || (p >= 100 && p <= 107);
}

/* Every attribute of an SGR sequence, colours with their arguments. */
static int
sgr_ok(const struct csi *c)
{
	size_t i = 0, k;

	while (i < c->nparam) {
		unsigned p = c->param[i];

		for (k = i + 1; k < c->nparam && c->sub[k]; k++)
			;	/* its ':' sub-parameters */
		if (k > i + 1) {
			/* 38:5:N, 38:2::R:G:B (also 48, 58); 4:N underline */
			if (p != 38 && p != 48 && p != 58 && p != 4)
				return 0;
			i = k;
		} else if (p == 38 || p == 48 || p == 58) {
			/* 38;5;N or 38;2;R;G;B */
			if (i + 2 < c->nparam && c->param[i + 1] == 5)
				i += 3;
			else if (i + 4 < c->nparam && c->param[i + 1] == 2)
				i += 5;
			else
				return 0;
		} else if (sgr_plain_ok(p)) {
			i++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Whether every parameter is one of the DEC private modes let through. */
static int
private_modes_ok(const struct csi *c)
{
	size_t i, k;

	if (c->nparam == 0)
		return 0;
	for (i = 0; i < c->nparam; i++) {
		for (k = 0; k < NPRIVATE; k++)
			if (private_modes[k].mode == c->param[i])
				break;
		if (k == NPRIVATE)
			return 0;
	}
	return 1;
}

static void
private_modes_note(struct termsafe *t, const struct csi *c)
{
	size_t i, k;

	for (i = 0; i < c->nparam; i++) {
		for (k = 0; k < NPRIVATE; k++) {
			int set = c->final == 'h';

			if (private_modes[k].mode != c->param[i])
				continue;
			if (private_modes[k].inverted)
				set = !set;
			if (set)
				t->modes |= private_modes[k].bit;
			else
				t->modes &= ~private_modes[k].bit;
		}
	}
}

/*
 * The CSI sequences let through (see termsafe.h), with the modes they
 * set noted. Everything that reports (n, c, x, t, DECRQM), prints (i),
 * repeats (b) or changes more than the screen is refused.
 */
static int
csi_allowed(struct termsafe *t, const struct csi *c)
{
	size_t i;

	if (c->private == '?' && c->ninter == 0) {
		if (c->final == 'J' || c->final == 'K')
			return c->nparam == 0 || (c->nparam == 1 &&
			    c->param[0] <= 2);
		if ((c->final == 'h' || c->final == 'l') &&
		    private_modes_ok(c)) {
			private_modes_note(t, c);
			return 1;
		}
		return 0;
	}
	if (c->private != 0)
		return 0;
	if (c->ninter == 1 && c->inter[0] == ' ' && c->final == 'q' &&
	    c->nparam <= 1) {
		t->modes |= TS_M_CURSHAPE;
		return 1;
	}
	if (c->ninter == 1 && c->inter[0] == '!' && c->final == 'p' &&
	    c->nparam == 0) {
		t->modes |= TS_M_NOWRAP;	/* DECSTR leaves autowrap off */
		return 1;
	}
	if (c->ninter != 0)
		return 0;
	switch (c->final) {
	case 'm':
		if (!sgr_ok(c))
			return 0;
		t->modes |= TS_M_SGR;
		return 1;
	case 'J':	/* not 3: that erases the reader's scrollback */
		return c->nparam == 0 || (c->nparam == 1 && c->param[0] <= 2);
	case 'r':
		if (c->nparam == 0 || (c->nparam == 1 && c->param[0] == 0))
			t->modes &= ~(unsigned)TS_M_REGION;
		else
			t->modes |= TS_M_REGION;
		return 1;
	case 'h':
	case 'l':
		if (c->nparam == 0)
			return 0;
		for (i = 0; i < c->nparam; i++)
			if (c->param[i] != 4)
				return 0;
		if (c->final == 'h')
			t->modes |= TS_M_INSERT;
		else
			t->modes &= ~(unsigned)TS_M_INSERT;
		return 1;
	case 'T':	/* with 5 parameters: xterm's mouse highlight mode */
		return c->nparam <= 1;
	default:
		/* Not g (TBC): tab stops would outlive the replay. */
		return strchr("@ABCDEFGHIKLMPSXZ`adefsu", c->final) != NULL;
	}
}

/* Text and C0 controls in the ground state. */
static size_t
ground(struct termsafe *t, uint8_t b, uint8_t *out, size_t o)
{
	if (b == ESC) {
		t->state = S_ESC;
		t->seq[0] = ESC;
		t->seq_len = 1;
		t->seq_long = 0;
		return o;
	}
	if (b < 0x20)
		return c0_passed(b) ? put(out, o, &b, 1) : o;
	if (b == DEL)
		return o;
	if (b < 0x80)
		return put(out, o, &b, 1);
	if (b >= 0xc2 && b <= 0xdf)
		t->u8_need = 2;
	else if (b >= 0xe0 && b <= 0xef)
		t->u8_need = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		t->u8_need = 4;
	else
		return replacement(t, out, o);
	t->u8[0] = b;
	t->u8_len = 1;
	return o;
}

/* Whether b may follow the UTF-8 bytes held (no overlong, surrogate,
 * or code point past U+10FFFF). */
static int
u8_continues(const struct termsafe *t, uint8_t b)
{
	uint8_t lo = 0x80, hi = 0xbf;

	if (t->u8_len == 1) {
		switch (t->u8[0]) {
		case 0xe0: lo = 0xa0; break;
		case 0xed: hi = 0x9f; break;
		case 0xf0: lo = 0x90; break;
		case 0xf4: hi = 0x8f; break;
		default: break;
		}
	}
	return b >= lo && b <= hi;
}

/* One byte of a UTF-8 character under way. 1: consumed; 0: b starts
 * afresh (the held bytes were not a character). */
static int
u8_step(struct termsafe *t, uint8_t b, uint8_t *out, size_t *o)
{
	if (!u8_continues(t, b)) {
		*o = replacement(t, out, *o);
		t->u8_len = t->u8_need = 0;
		return 0;
	}
	t->u8[t->u8_len++] = b;
	if (t->u8_len < t->u8_need)
		return 1;
	/* U+0080..U+009F, the C1 controls: C2 80..C2 9F. */
	if (t->u8[0] == 0xc2 && t->u8[1] <= 0x9f)
		;
	else if (t->ascii)
		*o = replacement(t, out, *o);
	else
		*o = put(out, *o, t->u8, t->u8_len);
	t->u8_len = t->u8_need = 0;
	return 1;
}

static void
seq_add(struct termsafe *t, uint8_t b)
{
	if (t->seq_len < sizeof(t->seq))
		t->seq[t->seq_len++] = b;
	else
		t->seq_long = 1;
}

static void
to_string(struct termsafe *t)
{
	t->state = S_STRING;
	t->string_len = 0;
}

/*
 * A byte inside an escape or control sequence that is not part of it:
 * 1 when handled here (C0 controls act in place, CAN and SUB cancel, ESC
 * starts anew), 0 when the sequence continues with it.
 */
static int
in_sequence_control(struct termsafe *t, uint8_t b, uint8_t *out, size_t *o)
{
	if (b == CAN || b == SUB) {
		t->state = S_GROUND;
		return 1;
	}
	if (b == ESC) {
		*o = ground(t, b, out, *o);
		return 1;
	}
	if (b < 0x20) {
		if (c0_passed(b))
			*o = put(out, *o, &b, 1);
		return 1;
	}
	return b == DEL;	/* ignored */
}

static size_t
esc_final(struct termsafe *t, uint8_t b, uint8_t *out, size_t o)
{
	t->state = S_GROUND;
	/* Not H (HTS): tab stops would outlive the replay. */
	if (strchr("78DEMc=>", b) == NULL)
		return o;
	if (b == 'c')
		t->modes = 0;		/* RIS: the terminal resets itself */
	else if (b == '=')
		t->modes |= TS_M_APPKEYPAD;
	else if (b == '>')
		t->modes &= ~(unsigned)TS_M_APPKEYPAD;
	o = put(out, o, "\033", 1);
	return put(out, o, &b, 1);
}

static size_t
esc_inter_final(struct termsafe *t, uint8_t b, uint8_t *out, size_t o)
{
	t->state = S_GROUND;
	if (t->seq_long || t->seq_len != 2 || (t->seq[1] != '(' &&
	    t->seq[1] != ')') || strchr("0AB", b) == NULL)
		return o;
	if (b == 'B')
		t->modes &= ~(unsigned)(t->seq[1] == '(' ? TS_M_G0 : TS_M_G1);
	else
		t->modes |= t->seq[1] == '(' ? TS_M_G0 : TS_M_G1;
	o = put(out, o, t->seq, t->seq_len);
	return put(out, o, &b, 1);
}

static size_t
csi_final(struct termsafe *t, uint8_t b, uint8_t *out, size_t o)
{
	struct csi c;

	t->state = S_GROUND;
	seq_add(t, b);
	if (t->seq_long || !csi_parse(t, &c) || !csi_allowed(t, &c))
		return o;
	return put(out, o, t->seq, t->seq_len);
}

static size_t step(struct termsafe *, uint8_t, uint8_t *, size_t);

/*
 * A byte of an escape sequence with intermediates (final_lo 0x30) or of
 * a CSI sequence (final_lo 0x40): collected up to final_lo, ended by a
 * final byte up to 0x7e; anything else abandons the sequence and is
 * read afresh as text.
 */
static size_t
sequence_byte(struct termsafe *t, uint8_t b, uint8_t final_lo,
    size_t (*final)(struct termsafe *, uint8_t, uint8_t *, size_t),
    uint8_t *out, size_t o)
{
	if (in_sequence_control(t, b, out, &o))
		return o;
	if (b >= 0x20 && b < final_lo)
		seq_add(t, b);
	else if (b >= final_lo && b <= 0x7e)
		o = final(t, b, out, o);
	else {
		t->state = S_GROUND;
		o = step(t, b, out, o);
	}
	return o;
}

static size_t
step(struct termsafe *t, uint8_t b, uint8_t *out, size_t o)
{
	switch (t->state) {
	case S_GROUND:
		if (t->u8_need != 0 && u8_step(t, b, out, &o))
			return o;
		return ground(t, b, out, o);
	case S_ESC:
		if (in_sequence_control(t, b, out, &o))
			return o;
		if (b == '[') {
			t->state = S_CSI;
			seq_add(t, b);
		} else if (strchr("]P_^X", b) != NULL && b != '\0') {
			to_string(t);
		} else if (b >= 0x20 && b <= 0x2f) {
			t->state = S_ESC_INTER;
			seq_add(t, b);
		} else if (b >= 0x30 && b <= 0x7e) {
			o = esc_final(t, b, out, o);
		} else {
			t->state = S_GROUND;	/* not a sequence: b is text */
			o = step(t, b, out, o);
		}
		return o;
	case S_ESC_INTER:
		return sequence_byte(t, b, 0x30, esc_inter_final, out, o);
	case S_CSI:
		return sequence_byte(t, b, 0x40, csi_final, out, o);
	case S_STRING:
		/* BEL ends OSC; 0x9c is ST as an 8-bit or UTF-8 C1. */
		if (b == 0x07 || b == CAN || b == SUB || b == 0x9c)
			t->state = S_GROUND;
		else if (b == ESC)
			t->state = S_STRING_ESC;
		else if (++t->string_len > TERMSAFE_STRING_MAX)
			t->state = S_GROUND;	/* the rest is text */
		return o;
	case S_STRING_ESC:
		if (b == '\\') {
			t->state = S_GROUND;
			return o;
		}
		/* An ESC that is not ST ends the string and starts anew. */
		o = ground(t, ESC, out, o);
		return step(t, b, out, o);
	default:
		t->state = S_GROUND;
		return o;
	}
}

size_t
termsafe_filter(struct termsafe *t, const uint8_t *in, size_t len,
    uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++)
		o = step(t, in[i], out, o);
	return o;
}

size_t
termsafe_finish(struct termsafe *t, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < sizeof(undo) / sizeof(undo[0]); i++)
		if (t->modes & undo[i].bit)
			o = put(out, o, undo[i].undo, strlen(undo[i].undo));
	termsafe_init(t, t->ascii ? TERMSAFE_ASCII : 0);
	return o;
}

/*
 * Whether the UTF-8 character u[0..n) may be shown in a listing: not a C1
 * control, and not one of the bidirectional controls (U+202A..U+202E,
 * U+2066..U+2069) that would show a line's text in another order.
 */
static int
vis_char_ok(const uint8_t *u, size_t n)
{
	if (u[0] == 0xc2 && u[1] <= 0x9f)
		return 0;
	if (n == 3 && u[0] == 0xe2 && ((u[1] == 0x80 && u[2] >= 0xaa &&
	    u[2] <= 0xae) || (u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9)))
		return 0;
	return 1;
}

char *
termsafe_vis(const char *s, size_t len, int flags)
{
	static const char hex[] = "0123456789abcdef";
	struct termsafe t;
	const uint8_t *p = (const uint8_t *)s;
	char *out;
	size_t i, o = 0;

	if (len > (SIZE_MAX - 1) / 4 || (out = malloc(4 * len + 1)) == NULL)
		return NULL;
	termsafe_init(&t, flags);
	for (i = 0; i < len; i++) {
		uint8_t b = p[i];
		size_t n = 0, k;

		/* A whole UTF-8 character goes as it is, if it may. */
		if (b >= 0xc2 && b <= 0xf4 && !t.ascii) {
			t.u8[0] = b;
			t.u8_len = 1;
			t.u8_need = b <= 0xdf ? 2 : b <= 0xef ? 3 : 4;
			for (k = i + 1; k < len && t.u8_len < t.u8_need &&
			    u8_continues(&t, p[k]); k++)
				t.u8[t.u8_len++] = p[k];
			if (t.u8_len == t.u8_need &&
			    vis_char_ok(t.u8, t.u8_len))
				n = t.u8_len;
		}
		if (n > 0) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n - 1;
		} else if (b >= 0x20 && b < DEL) {
			out[o++] = (char)b;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	out[o] = '\0';
	return out;
}
