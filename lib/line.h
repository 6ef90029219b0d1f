/*
 * line.h -- line framing for text protocols over lib/conn: lines end in LF or CRLF, each has
 * a maximum length, and the reply can end the way the request did.
 *
 * Used from a protocol's on_data: gw_line_split() handles the complete lines and returns the
 * bytes they took; the connection keeps the incomplete rest (its max_in must be at least
 * max_line + 2, see GW_LINE_MAX_IN) and offers it again with the next input. No state, no
 * allocation; any thread.
 */
#ifndef GW_LINE_H
#define GW_LINE_H

#include <stddef.h>

/* The max_in a connection needs for lines of at most max_line bytes: the line, "\r\n". */
#define GW_LINE_MAX_IN(max_line) ((max_line) + 2)

enum gw_line_status {
    GW_LINE_MORE,     /* every complete line was handled; the rest (if any) is incomplete */
    GW_LINE_STOP,     /* the callback returned -1: stopped after that line */
    GW_LINE_TOO_LONG, /* a line (complete, or the incomplete rest) is longer than max_line */
};

/* One complete line, without its ending: line[len] is the '\r' or '\n' that followed it and
 * may be overwritten (a parser's NUL). crlf is 1 when it ended in "\r\n": reply likewise.
 * Returns 0 to go on, -1 to stop after this line (QUIT). */
typedef int (*gw_line_fn)(void *arg, char *line, size_t len, int crlf);

/* Calls fn for each complete line of data[0..len) until fn returns -1 or a line is too long
 * (more than max_line bytes before its ending; an incomplete rest of more than max_line + 1
 * bytes can no longer become a valid line, so it is too long too). Returns the bytes
 * consumed: the lines handled, endings included (with GW_LINE_TOO_LONG, those before the long
 * line). *status says why it returned. */
size_t gw_line_split(char *data, size_t len, size_t max_line, gw_line_fn fn, void *arg,
                     enum gw_line_status *status);

#endif
