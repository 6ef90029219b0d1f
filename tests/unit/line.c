/*
 * line.c -- unit tests for lib/line.c: LF and CRLF lines, the incomplete rest, stopping,
 * and "too long" for complete lines and for an incomplete rest that cannot become valid.
 */
#include "line.h"

#include <stdio.h>
#include <string.h>

#include "../tap.h"

struct seen {
    char lines[256];
    int n;
    const char *stop_at;
};

static int
collect(void *arg, char *line, size_t len, int crlf)
{
    struct seen *s = arg;
    size_t o = strlen(s->lines);

    snprintf(s->lines + o, sizeof(s->lines) - o, "%.*s%s|", (int)len, line, crlf ? "(crlf)" : "");
    s->n++;
    return s->stop_at && len == strlen(s->stop_at) && memcmp(line, s->stop_at, len) == 0 ? -1 : 0;
}

static size_t
split(const char *in, size_t max, struct seen *s, enum gw_line_status *st)
{
    static char buf[256];

    memset(s->lines, 0, sizeof(s->lines));
    s->n = 0;
    strcpy(buf, in);
    return gw_line_split(buf, strlen(in), max, collect, s, st);
}

int
main(void)
{
    struct seen s = {0};
    enum gw_line_status st;

    is(split("a\nbb\r\nccc", 10, &s, &st), 6, "consumed: the complete lines");
    is_str(s.lines, "a|bb(crlf)|", "LF and CRLF lines, without their endings");
    is(st, GW_LINE_MORE, "the incomplete rest: more wanted");
    is(split("", 10, &s, &st), 0, "nothing: nothing consumed");
    is(st, GW_LINE_MORE, "nothing: more wanted");
    is(split("\n\r\n", 10, &s, &st), 3, "empty lines are lines");
    is_str(s.lines, "|(crlf)|", "empty lines: both endings");
    s.stop_at = "quit";
    is(split("x\nquit\ny\n", 10, &s, &st), 7, "stop: consumed up to the stopping line");
    is(st, GW_LINE_STOP, "stop: reported");
    is_str(s.lines, "x|quit|", "stop: nothing after it");
    s.stop_at = NULL;
    is(split("1234567890\r\n", 10, &s, &st), 12, "max_line bytes plus CRLF: fine");
    is(split("12345678901\n", 10, &s, &st), 0, "a complete line one byte too long: nothing");
    is(st, GW_LINE_TOO_LONG, "a complete line too long");
    is(split("ok\n12345678901\n", 10, &s, &st), 3, "too long after a good line: it is handled");
    is(st, GW_LINE_TOO_LONG, "too long after a good line: reported");
    is(split("12345678901", 10, &s, &st), 0, "an incomplete rest of max_line + 1: kept");
    is(st, GW_LINE_MORE, "max_line + 1 could still end in CRLF: more wanted");
    is(split("123456789012", 10, &s, &st), 0, "an incomplete rest of max_line + 2");
    is(st, GW_LINE_TOO_LONG, "can never be valid: too long");
    is(GW_LINE_MAX_IN(10), 12, "GW_LINE_MAX_IN: the line and CRLF");
    return done_testing();
}
