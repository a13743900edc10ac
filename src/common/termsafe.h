/*
 * termsafe.h - terminal output that a recorded session cannot turn
 * against the person who reads it.
 *
 * A recording holds whatever the target printed, and the target is where
 * the user had root. Replayed on an auditor's terminal, escape sequences
 * in it are instructions to that terminal: OSC 52 writes the auditor's
 * clipboard, a title set then reported (CSI 21 t), a DECRQSS (DCS $ q)
 * or a device-status request (CSI 6 n) makes the terminal type its answer
 * into the auditor's shell, mouse and key-encoding modes outlive the
 * replay. The people who review privileged sessions are the ones an
 * attacker who had one would most like to reach.
 *
 * termsafe_filter passes what a full-screen program needs to draw, and
 * nothing that makes the terminal answer, reach outside its screen or
 * keep a mode after the replay:
 *  - text, as valid UTF-8 (invalid bytes become U+FFFD), without the C1
 *    controls U+0080..U+009F, which some terminals obey as 8-bit CSI,
 *    OSC, DCS; with TERMSAFE_ASCII (a reader whose terminal is not UTF-8,
 *    and so may read the second byte of a letter as a C1 control), ASCII
 *    only, '?' for every other character;
 *  - BS, HT, LF, VT, FF, CR, BEL; no other C0 control and no DEL;
 *  - ESC 7 8 = > D E M c and the G0/G1 designations ESC ( F, ESC ) F;
 *  - CSI sequences that move the cursor, erase (not the scrollback),
 *    insert, delete, scroll, set colours and text attributes (SGR, not
 *    the fonts 10-20), the scroll region, insert mode, the cursor shape
 *    (DECSCUSR), soft reset (DECSTR), and the DEC private modes 1, 5, 7,
 *    25, 47, 1047, 1048, 1049 and 2004;
 *  - nothing of OSC, DCS, APC, PM and SOS strings, nor any other escape
 *    or control sequence: dropped whole, with what follows shown. A
 *    string that never ends stops being dropped after TERMSAFE_STRING_MAX
 *    bytes, so that an opening ESC ] cannot hide the rest of a session.
 * termsafe_finish then undoes the modes the replay left set (attributes,
 * character sets, the alternate screen, the scroll region, cursor keys
 * and visibility, bracketed paste...). Tab stops are not let through.
 *
 * The filter keeps its state between calls, so input may be split
 * anywhere: the output is the same. It allocates nothing.
 *
 * termsafe_vis is for one line of untrusted text in a listing (a command,
 * an audit field, a message quoting a file name): control characters
 * (newlines too), C1 controls, DEL, invalid UTF-8 and the bidirectional
 * controls that reorder a line come out as \xNN, so that nothing in it
 * is obeyed and a line cannot pretend to be two; with TERMSAFE_ASCII,
 * every byte outside ASCII. It is for reading, not for parsing back: a
 * backslash stays one.
 */
#ifndef BULWARK_COMMON_TERMSAFE_H
#define BULWARK_COMMON_TERMSAFE_H

#include <stddef.h>
#include <stdint.h>

/* Escape and control sequences longer than this are dropped whole. */
#define TERMSAFE_SEQ_MAX	128
/* For a terminal that is not UTF-8 (termsafe_init, termsafe_vis). */
#define TERMSAFE_ASCII		1
/* Bytes of an unterminated OSC, DCS, APC, PM or SOS string dropped. */
#define TERMSAFE_STRING_MAX	4096
/* Room termsafe_finish needs. */
#define TERMSAFE_FINISH_MAX	96

struct termsafe {
	int state;
	uint8_t seq[TERMSAFE_SEQ_MAX];	/* the sequence being read */
	size_t seq_len;
	int seq_long;			/* longer than seq: drop it */
	size_t string_len;		/* bytes dropped of the string */
	uint8_t u8[4];			/* an incomplete UTF-8 character */
	size_t u8_len, u8_need;
	unsigned modes;			/* TS_M_* set by what was passed */
	int ascii;			/* TERMSAFE_ASCII */
};

/* flags: 0, or TERMSAFE_ASCII. */
void termsafe_init(struct termsafe *t, int flags);

/*
 * Room the output of one termsafe_filter call over len bytes may need:
 * an invalid byte becomes three, a held sequence is let out whole.
 */
#define TERMSAFE_OUT_MAX(len)	(3 * (len) + TERMSAFE_SEQ_MAX + 8)

/*
 * Filters in[0..len) into out, which has room for TERMSAFE_OUT_MAX(len)
 * bytes; returns how many were written.
 */
size_t termsafe_filter(struct termsafe *t, const uint8_t *in, size_t len,
    uint8_t *out);

/*
 * The end of the stream: what undoes the modes still set, into out
 * (TERMSAFE_FINISH_MAX bytes); returns its length. A partial character
 * or sequence at the end is dropped.
 */
size_t termsafe_finish(struct termsafe *t, uint8_t *out);

/*
 * s[0..len) as safe text in a new NUL-terminated string (malloc'd; NULL
 * when out of memory); see the top of the file. flags: 0 or
 * TERMSAFE_ASCII.
 */
char *termsafe_vis(const char *s, size_t len, int flags);

#endif
