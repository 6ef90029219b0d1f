/*
 * syslog.c -- tests for lib/syslog.c: the RFC 5424 examples of section 6.5 and its bad
 * timestamps, RFC 3164 samples including the exact bytes util-linux logger 2.38 sends (over
 * UDP, TCP and the Unix socket), unparsed lines, escaping, the structured-data walk and RFC 6587
 * framing fed in every split.
 */
#include "syslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

#define NS 1000000000LL
/* 2026-12-06T02:03:20Z, when the logger samples below were captured. */
#define RECV_NS (1796522600LL * NS)

static char *
str(struct gw_slice s)
{
    static char bufs[4][4096];
    static int n;
    char *b = bufs[n++ % 4];

    snprintf(b, sizeof(bufs[0]), "%.*s", (int)s.len, s.ptr ? s.ptr : "");
    return b;
}

static struct gw_logrec
parse(const char *line, int *rc)
{
    struct gw_logrec r;
    char err[GW_ERR_LEN] = "";

    memset(&r, 0, sizeof(r));
    r.recv_ns = RECV_NS;
    *rc = gw_syslog_parse(&r, line, strlen(line), 0, err);
    return r;
}

static void
test_5424_examples(void)
{
    struct gw_logrec r;
    int rc;

    /* RFC 5424 section 6.5, example 1 (with the BOM it shows). */
    r = parse("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
              "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
              &rc);
    is(rc, 0, "5424 example 1 parses");
    is(r.format, GW_LOGREC_RFC5424, "example 1: format rfc5424");
    is(r.facility, 4, "example 1: facility auth");
    is(r.severity, 2, "example 1: severity crit");
    is(r.time_ns, 1065910455003000000LL, "example 1: time with milliseconds, UTC");
    ok(r.flags & GW_LOGREC_TIME_TZ, "example 1: time has a zone");
    is_str(str(r.host), "mymachine.example.com", "example 1: host");
    is_str(str(r.app), "su", "example 1: app");
    is(r.procid.len, 0, "example 1: NILVALUE procid is empty");
    is_str(str(r.msgid), "ID47", "example 1: msgid");
    is(r.sd.len, 0, "example 1: NILVALUE structured data is empty");
    is_str(str(r.msg), "'su root' failed for lonvick on /dev/pts/8", "example 1: msg without BOM");
    ok(r.flags & GW_LOGREC_BOM, "example 1: BOM noted");
    ok(!(r.flags & GW_LOGREC_ESCAPED), "example 1: nothing to escape");

    r = parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
              "make the do-nuts.",
              &rc);
    is(rc, 0, "5424 example 2 parses");
    is(r.time_ns, 1061727255000003000LL, "example 2: microseconds and a -07:00 offset");
    is(r.tz_offset_min, -420, "example 2: offset kept in minutes");
    is(r.facility, 20, "example 2: facility local4");
    is(r.severity, 5, "example 2: severity notice");
    is_str(str(r.host), "192.0.2.1", "example 2: IP as host");
    is_str(str(r.procid), "8710", "example 2: procid");
    is(r.msgid.len, 0, "example 2: no msgid");
    is_str(str(r.msg), "%% It's time to make the do-nuts.", "example 2: msg");

    r = parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
              "\xEF\xBB\xBF"
              "An application event log entry...",
              &rc);
    is(rc, 0, "5424 example 3 parses");
    is_str(str(r.sd), "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]",
           "example 3: structured data as written");
    is_str(str(r.msg), "An application event log entry...", "example 3: msg");

    r = parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
              "[examplePriority@32473 class=\"high\"]",
              &rc);
    is(rc, 0, "5424 example 4 (structured data, no msg) parses");
    is_str(str(r.sd),
           "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
           "[examplePriority@32473 class=\"high\"]",
           "example 4: two SD elements");
    is(r.msg.len, 0, "example 4: empty msg");
}

static void
test_5424_logger(void)
{
    struct gw_logrec r;
    int rc;

    /* logger -n 127.0.0.1 -P PORT -d --rfc5424 -t myapp -p auth.err 'hello 5424' */
    r = parse("<35>1 2026-12-06T02:03:21.378104+00:00 vm myapp - - [timeQuality tzKnown=\"1\" "
              "isSynced=\"0\"] hello 5424",
              &rc);
    is(rc, 0, "logger rfc5424 parses");
    is(r.time_ns, 1796522601378104000LL, "logger rfc5424: time");
    is_str(str(r.app), "myapp", "logger rfc5424: app");
    is_str(str(r.msg), "hello 5424", "logger rfc5424: msg");

    /* ... --msgid ID47 --sd-id exampleSDID@32473 --sd-param iut="3"
     *     --sd-param 'eventSource="Appli\]cation"' 'hello sd' */
    r = parse("<13>1 2026-12-06T02:03:21.379770+00:00 vm myapp - ID47 [timeQuality "
              "tzKnown=\"1\" isSynced=\"0\"][exampleSDID@32473 iut=\"3\" "
              "eventSource=\"Appli\\]cation\"] hello sd",
              &rc);
    is(rc, 0, "logger rfc5424 with an escaped ] in SD parses");
    is_str(str(r.msgid), "ID47", "logger sd: msgid");
    is_str(str(r.msg), "hello sd", "logger sd: msg");

    /* --rfc5424=notime,nohost */
    r = parse("<13>1 - - myapp - - - notime", &rc);
    is(rc, 0, "logger rfc5424=notime,nohost parses");
    is(r.time_ns, 0, "NILVALUE timestamp: no time");
    ok(!(r.flags & GW_LOGREC_TIME_TZ), "NILVALUE timestamp: no zone");
    is(r.host.len, 0, "NILVALUE host: empty");
    is_str(str(r.msg), "notime", "notime: msg");

    r = parse("<13>1 2026-12-06T02:03:21.384915+00:00 vm myapp - - [timeQuality tzKnown=\"1\" "
              "isSynced=\"0\"] octet one\n",
              &rc);
    is(rc, 0, "a trailing LF is framing");
    is_str(str(r.msg), "octet one", "trailing LF left out of msg");
    r = parse("<13>1 - - - - - - crlf\r\n\0", &rc);
    is_str(str(r.msg), "crlf", "trailing CR LF NUL left out of msg");
    is(r.line.len, strlen("<13>1 - - - - - - crlf"), "and out of line");
    r = parse("<13>1 - - - - - -", &rc);
    is(rc, 0, "no MSG at all is fine");
    is(r.msg.len, 0, "no MSG: empty");
}

/* Lines that claim 5424 but break it: kept whole, unparsed, PRI kept. */
static void
test_5424_bad(void)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"<13>1 2003-08-24T05:14:15.000000003-07:00 h a p m - x", "7+ fraction digits"},
        {"<13>1 1990-12-31T23:59:60Z h a p m - x", "leap second"},
        {"<13>1 1990-12-31T15:59:60-08:00 h a p m - x", "leap second with offset"},
        {"<13>1 2023-02-29T00:00:00Z h a p m - x", "Feb 29 in a common year"},
        {"<13>1 2026-13-01T00:00:00Z h a p m - x", "month 13"},
        {"<13>1 2026-12-06T02:03:21 h a p m - x", "no offset"},
        {"<13>1 2026-12-06t02:03:21Z h a p m - x", "lower-case t"},
        {"<13>1 2026-12-06T02:03:21+24:00 h a p m - x", "offset hour 24"},
        {"<13>1 2026-12-06T02:03:21. h a p m - x", "empty fraction"},
        {"<13>1 - h aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa p m - x", "app of 49"},
        {"<13>1 - h a p mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm - x", "msgid of 33"},
        {"<13>1 - h a p m", "no SD"},
        {"<13>1 - h a p m -x", "no SP after SD"},
        {"<13>1 - h  a p m - x", "two spaces"},
        {"<13>1 - h\ta p m - x", "TAB as separator"},
        {"<13>1 - h a p m [id k=\"v\"", "SD without ]"},
        {"<13>1 - h a p m [id k=v] x", "unquoted param value"},
        {"<13>1 - h a p m [ k=\"v\"] x", "empty SD-ID"},
        {"<13>1 - h a p m [id k=\"a]b\"] x", "unescaped ] in a value"},
        {"<13>1 - h a p m [id k=\"a\\\"] x", "escaped closing quote"},
        {"<13>1 - h a p m [i=d] x", "= in SD-ID"},
        {"<13>1 - h a p m [id k=\"v\"]x", "no SP before MSG"},
        {"<13>1 - h a p m [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] x", "SD-ID of 33"},
    };
    char err[GW_ERR_LEN];
    struct gw_logrec r;
    char host[300];
    int rc;

    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        r = parse(bad[i].line, &rc);
        ok(rc == -1 && (r.flags & GW_LOGREC_UNPARSED) && r.format == GW_LOGREC_RAW,
           "bad 5424 (%s): unparsed", bad[i].why);
        ok(r.msg.len == strlen(bad[i].line) && r.msg.ptr == bad[i].line,
           "bad 5424 (%s): kept whole", bad[i].why);
        ok(r.severity == 5 && r.facility == 1, "bad 5424 (%s): PRI kept", bad[i].why);
    }
    snprintf(host, sizeof(host), "<13>1 - %0256d a p m - x", 0);
    r = parse(host, &rc);
    is(rc, -1, "host of 256 bytes refused");
    snprintf(host, sizeof(host), "<13>1 - %0255d a p m - x", 0);
    r = parse(host, &rc);
    is(rc, 0, "host of 255 bytes accepted");
    is(gw_syslog_parse_5424(&r, "<13>2 - - - - - -", 17, err), -1, "version 2 refused");
    is_str(err, "rfc5424: bad VERSION (want 1) at byte 4", "version 2: reason names the byte");
    is(gw_syslog_parse_5424(&r, "<192>1 - - - - - -", 18, err), -1, "PRI 192 refused");
    is(gw_syslog_parse_5424(&r, "<13>1 2024-02-29T12:00:00Z - - - - -", 36, err), 0,
       "Feb 29 in a leap year");
    is(r.time_ns, 1709208000LL * NS, "Feb 29 2024: time");
    is(gw_syslog_parse_5424(&r, "<13>1 1985-04-12T19:20:50.52-04:00 - - - - -", 44, err), 0,
       "RFC 3339 example with 2 fraction digits");
    is(r.time_ns, 482196050520000000LL, "RFC 3339 example: time");
    is(gw_syslog_parse_5424(&r, "<13>1 1600-01-01T00:00:00Z - - - - -", 36, err), 0,
       "year 1600 is valid 5424");
    is(r.time_ns, 0, "year 1600: outside what ns hold, no time");
}

static void
test_3164_logger(void)
{
    struct gw_logrec r;
    int rc;

    /* logger -n 127.0.0.1 -P PORT -d --rfc3164 -t myapp -p local3.warning 'hello world' */
    r = parse("<156>Dec  6 02:03:19 vm myapp: hello world", &rc);
    is(rc, 0, "logger rfc3164 parses");
    is(r.format, GW_LOGREC_RFC3164, "logger 3164: format rfc3164");
    is(r.facility, 19, "logger 3164: local3");
    is(r.severity, 4, "logger 3164: warning");
    is(r.time_ns, 1796522599LL * NS, "logger 3164: year inferred from receive time");
    ok(!(r.flags & GW_LOGREC_TIME_TZ), "logger 3164: zoneless time");
    is_str(str(r.host), "vm", "logger 3164: host");
    is_str(str(r.app), "myapp", "logger 3164: tag");
    is(r.procid.len, 0, "logger 3164: no pid");
    is_str(str(r.msg), "hello world", "logger 3164: msg");

    r = parse("<13>Dec  6 02:03:19 vm myapp[8545]: hello world", &rc);
    is_str(str(r.procid), "8545", "logger -i: pid");
    is_str(str(r.app), "myapp", "logger -i: tag without the pid");

    /* logger -u SOCKET: the local form has no host. */
    r = parse("<13>Dec  6 02:03:24 myapp: local msg", &rc);
    is(r.host.len, 0, "logger -u: no host");
    is_str(str(r.app), "myapp", "logger -u: tag");
    is_str(str(r.msg), "local msg", "logger -u: msg");
    r = parse("<13>Dec  6 02:03:24 myapp[8675]: with pid", &rc);
    ok(r.host.len == 0 && strcmp(str(r.procid), "8675") == 0, "logger -u -i: no host, pid");
    r = parse("<13>Dec  6 02:03:24 x: <10>prio line", &rc);
    is_str(str(r.msg), "<10>prio line", "a PRI inside the message stays in msg");

    /* rsyslog 8.2302 omfwd, default template (RSYSLOG_TraditionalForwardFormat), relaying
     * what logger sent it in 3164 and in 5424. */
    r = parse("<13>Dec  6 02:26:17 vm myapp: via rsyslog", &rc);
    ok(strcmp(str(r.app), "myapp") == 0 && strcmp(str(r.msg), "via rsyslog") == 0,
       "rsyslog traditional forward of a 3164 line");
    r = parse("<13>Dec  6 02:26:17 vm app5 five via rsyslog", &rc);
    ok(strcmp(str(r.host), "vm") == 0 && strcmp(str(r.app), "app5") == 0 &&
           strcmp(str(r.msg), "five via rsyslog") == 0,
       "rsyslog traditional forward of a 5424 line: tag without ':'");
    /* ... and with template RSYSLOG_SyslogProtocol23Format: the 3164 message keeps its
     * leading space, and the frame ends in LF (counted in the octet count). */
    r = parse("<13>1 2026-12-06T02:26:17+00:00 vm myapp - - -  via rsyslog\n", &rc);
    ok(rc == 0 && strcmp(str(r.msg), " via rsyslog") == 0,
       "rsyslog protocol-23 forward: msg as rsyslog wrote it");

    /* logger -T --rfc3164 (LF framing) after the framer dropped the LF */
    r = parse("<13>Dec  6 02:03:21 vm myapp: lf framed", &rc);
    is_str(str(r.msg), "lf framed", "logger TCP: msg");
}

static void
test_3164_lenient(void)
{
    struct gw_logrec r;
    int rc;

    /* RFC 3164 section 5.4 examples. */
    r = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", &rc);
    ok(rc == 0 && strcmp(str(r.host), "mymachine") == 0 && strcmp(str(r.app), "su") == 0,
       "RFC 3164 example 1: host and tag");
    r = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", &rc);
    is_str(str(r.host), "10.0.0.99", "RFC 3164 example 2: IP host");
    is_str(str(r.app), "Use", "RFC 3164 example 2: the word after the host is the tag");
    is_str(str(r.msg), "the BFG!", "RFC 3164 example 2: msg");
    r = parse("<13>Use the BFG!", &rc);
    ok(r.app.len == 0 && strcmp(str(r.msg), "Use the BFG!") == 0,
       "without timestamp and host, a word without ':' is no tag");
    r = parse("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's "
              "All Folks!",
              &rc);
    ok(rc == 0 && r.time_ns == 0 && r.severity == 0 && r.facility == 0,
       "RFC 3164 example 4: odd timestamp, PRI kept");
    is_str(str(r.msg),
           "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All "
           "Folks!",
           "RFC 3164 example 4: the rest is msg, nothing lost");

    r = parse("<13>hello world", &rc);
    ok(rc == 0 && r.severity == 5 && r.facility == 1, "PRI and message only: parsed");
    is_str(str(r.msg), "hello world", "PRI and message only: msg");
    is(r.host.len + r.app.len, 0, "PRI and message only: no host, no tag");
    r = parse("<13>myapp: hi", &rc);
    ok(strcmp(str(r.app), "myapp") == 0 && strcmp(str(r.msg), "hi") == 0, "PRI, tag and message");
    r = parse("<13>", &rc);
    ok(rc == 0 && r.msg.len == 0, "PRI alone: empty msg");

    /* rsyslog's RSYSLOG_ForwardFormat: an RFC 3339 time in a 3164 line. */
    r = parse("<13>2026-12-06T02:03:21.384915+00:00 vm myapp: fwd", &rc);
    is(r.time_ns, 1796522601384915000LL, "RFC 3339 time in 3164: parsed");
    ok(r.flags & GW_LOGREC_TIME_TZ, "RFC 3339 time in 3164: has its zone");
    ok(strcmp(str(r.host), "vm") == 0 && strcmp(str(r.msg), "fwd") == 0,
       "RFC 3339 time in 3164: host and msg");

    r = parse("<13>Dec  6 2026 02:03:19 vm x: y", &rc);
    is(r.time_ns, 1796522599LL * NS, "Mmm dd yyyy hh:mm:ss");
    r = parse("<13>Dec 06 02:03:19.250 vm x: y", &rc);
    is(r.time_ns, 1796522599LL * NS + 250000000, "zero-padded day and a fraction");
    r = parse("<187>Dec  6 02:03:19: %LINK-3-UPDOWN: Interface down", &rc);
    ok(strcmp(str(r.app), "%LINK-3-UPDOWN") == 0 && strcmp(str(r.msg), "Interface down") == 0,
       "Cisco style: ':' after the time, mnemonic as tag");
    r = parse("<13>dec  6 02:03:19 vm x: y", &rc);
    ok(r.time_ns != 0, "month name in any case");
    r = parse("<13>Dec 32 02:03:19 vm x: y", &rc);
    ok(r.time_ns == 0 && strcmp(str(r.msg), "Dec 32 02:03:19 vm x: y") == 0,
       "day 32: no time, all in msg");
    r = parse("<13>Dec  6 02:03:19 vm x[12: y", &rc);
    ok(r.app.len == 0 && strcmp(str(r.msg), "x[12: y") == 0, "unclosed [pid]: no tag");
    r = parse("<13>Dec  6 02:03:19 vm", &rc);
    ok(strcmp(str(r.host), "vm") == 0 && r.msg.len == 0, "host and nothing else");

    r = parse("Dec  6 02:03:19 vm myapp: no pri", &rc);
    ok(rc == 0 && r.format == GW_LOGREC_RFC3164 && r.severity == -1 && r.facility == -1,
       "no PRI but a timestamp: 3164, severity -1");
    is_str(str(r.msg), "no pri", "no PRI: msg");

    r = parse("just some text", &rc);
    ok(rc == -1 && (r.flags & GW_LOGREC_UNPARSED) && r.severity == -1,
       "neither PRI nor timestamp: unparsed, severity -1");
    is_str(str(r.msg), "just some text", "unparsed: msg is the whole line");
    r = parse("<999>x", &rc);
    ok(rc == -1 && r.severity == -1 && strcmp(str(r.msg), "<999>x") == 0,
       "PRI over 191: unparsed, whole");
    r = parse("", &rc);
    ok(rc == -1 && r.msg.len == 0, "empty line: unparsed, empty");
}

static void
test_year(void)
{
    struct gw_logrec r;
    char err[GW_ERR_LEN];
    const char *l;

    memset(&r, 0, sizeof(r));
    r.recv_ns = 1798761610LL * NS; /* 2027-01-01T00:00:10Z */
    l = "<13>Dec 31 23:59:59 h a: b";
    gw_syslog_parse_3164(&r, l, strlen(l), 0, err);
    is(r.time_ns, 1798761599LL * NS, "December line read in January: last year");
    r.recv_ns = 1798761599LL * NS; /* 2026-12-31T23:59:59Z */
    l = "<13>Jan  1 00:00:01 h a: b";
    gw_syslog_parse_3164(&r, l, strlen(l), 0, err);
    is(r.time_ns, 1798761601LL * NS, "January line read on Dec 31: next year");
    r.recv_ns = RECV_NS;
    l = "<13>Dec  6 03:03:19 h a: b";
    gw_syslog_parse_3164(&r, l, strlen(l), 3600, err);
    is(r.time_ns, 1796522599LL * NS, "local_offset_s applies to zoneless times");
    l = "<13>Feb 29 12:00:00 h a: b";
    r.recv_ns = 1709208000LL * NS;
    gw_syslog_parse_3164(&r, l, strlen(l), 0, err);
    is(r.time_ns, 1709208000LL * NS, "Feb 29 picks the leap year");
    r.recv_ns = RECV_NS;
    gw_syslog_parse_3164(&r, l, strlen(l), 0, err);
    ok(r.time_ns == 0 && strncmp(r.msg.ptr, "Feb 29", 6) == 0,
       "Feb 29 far from a leap year: no time, kept in msg");
    r.input.ptr = "syslog-udp";
    r.input.len = 10;
    gw_syslog_parse_3164(&r, l, strlen(l), 0, err);
    ok(r.recv_ns == RECV_NS && r.input.len == 10, "recv_ns and input survive a parse");
}

static int
escaped_is(const char *in, size_t n, const char *want)
{
    struct gw_buf b;
    int same;

    gw_buf_init(&b, 4096);
    if (gw_syslog_escape(&b, in, n) < 0)
        return 0;
    same = gw_buf_len(&b) == strlen(want) &&
           (strlen(want) == 0 || memcmp(gw_buf_data(&b), want, strlen(want)) == 0);
    if (!same)
        diag("escaped: '%.*s'", (int)gw_buf_len(&b), gw_buf_data(&b));
    same = same && gw_syslog_escaped_len(in, n) == strlen(want);
    gw_buf_reset(&b);
    return same;
}

static void
test_escape(void)
{
    struct gw_logrec r;
    struct gw_buf small;
    int rc;

    ok(!gw_syslog_needs_escape("plain text\twith tab, caf\xc3\xa9", 26),
       "ASCII, TAB and valid UTF-8 need no escape");
    {
        /* Every byte value at every place in and around an 8-byte word. */
        char buf[24];
        int all = 1;
        for (int b = 0; b < 256; b++) {
            int want = (b < 0x20 && b != '\t') || b >= 0x7f;
            for (int at = 0; at < 24; at++) {
                memset(buf, 'a', sizeof(buf));
                buf[at] = (char)b;
                if (gw_syslog_needs_escape(buf, sizeof(buf)) != want)
                    all = 0;
            }
        }
        ok(all, "needs_escape: each byte value at each position, word path and byte path agree");
    }
    ok(escaped_is("a\0b", 3, "a\\x00b"), "NUL becomes \\x00");
    ok(escaped_is("\x1b[31m\x7f", 6, "\\x1b[31m\\x7f"), "ESC and DEL escaped");
    ok(escaped_is("x\ny\r", 4, "x\\x0ay\\x0d"), "LF and CR inside a message escaped");
    ok(escaped_is("\xff\xfe", 2, "\\xff\\xfe"), "bytes that are never UTF-8");
    ok(escaped_is("\xc0\xaf", 2, "\\xc0\\xaf"), "overlong '/' escaped");
    ok(escaped_is("\xed\xa0\x80", 3, "\\xed\\xa0\\x80"), "UTF-16 surrogate escaped");
    ok(escaped_is("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"), "past U+10FFFF escaped");
    ok(escaped_is("\xf0\x9f\x98\x80 ok", 7, "\xf0\x9f\x98\x80 ok"), "4-byte emoji kept");
    ok(escaped_is("end\xe2\x82", 5, "end\\xe2\\x82"), "sequence cut at the end escaped");
    ok(escaped_is("\xe2\x82\xac\\x41", 7, "\xe2\x82\xac\\x41"), "backslashes kept as they are");
    ok(escaped_is("", 0, ""), "empty stays empty");
    gw_buf_init(&small, 5);
    is(gw_syslog_escape(&small, "a\0b", 3), -1, "escape past the buffer limit fails");
    is(gw_buf_len(&small), 0, "and appends nothing");
    gw_buf_reset(&small);

    static const char nul_line[] = "<13>Dec  6 02:03:19 vm app: bad \xff byte and NUL \0 here";
    memset(&r, 0, sizeof(r));
    rc = gw_syslog_parse(&r, nul_line, sizeof(nul_line) - 1, 0, NULL);
    ok(rc == 0, "line with NUL and invalid UTF-8 parses");
    ok(r.flags & GW_LOGREC_ESCAPED, "it is marked for escaping");
    is(r.msg.len, strlen("bad \xff byte and NUL ") + 1 + strlen(" here"),
       "the NUL does not cut the message");
    r = parse("<13>1 - - - - - [id k=\"\x01\"] x", &rc);
    ok(rc == 0 && (r.flags & GW_LOGREC_ESCAPED), "control byte in an SD value: escaped flag");
    r = parse("\xff\xfe raw", &rc);
    ok(rc == -1 && (r.flags & GW_LOGREC_ESCAPED), "unparsed binary line: escaped flag");
}

static void
test_sd_walk(void)
{
    const char *line = "<13>1 - - - - - [timeQuality tzKnown=\"1\" isSynced=\"0\"][ex@32473 "
                       "iut=\"3\" src=\"Appli\\]ca\\\"tion\\\\\" empty=\"\"][solo] m";
    struct gw_slice id, name, value;
    struct gw_sd_iter it;
    struct gw_logrec r;
    struct gw_buf b;
    char got[512];
    int rc, kind;

    r = parse(line, &rc);
    is(rc, 0, "SD with escapes parses");
    gw_syslog_sd_begin(&it, r.sd);
    got[0] = '\0';
    gw_buf_init(&b, 1024);
    while ((kind = gw_syslog_sd_next(&it, &id, &name, &value)) != 0) {
        size_t n = strlen(got);
        if (kind == GW_SD_ELEMENT) {
            snprintf(got + n, sizeof(got) - n, "{%s}", str(id));
        } else {
            gw_buf_consume(&b, gw_buf_len(&b));
            gw_syslog_sd_unescape(&b, value);
            snprintf(got + n, sizeof(got) - n, "%s.%s=%.*s;", str(id), str(name),
                     (int)gw_buf_len(&b), gw_buf_data(&b));
        }
    }
    is_str(got,
           "{timeQuality}timeQuality.tzKnown=1;timeQuality.isSynced=0;{ex@32473}ex@32473.iut=3;"
           "ex@32473.src=Appli]ca\"tion\\;ex@32473.empty=;{solo}",
           "SD walk yields elements and unescaped params in order");
    gw_buf_reset(&b);
    r = parse("<13>1 - - - - - m", &rc);
    gw_syslog_sd_begin(&it, r.sd);
    is(gw_syslog_sd_next(&it, &id, &name, &value), 0, "NILVALUE SD: nothing to walk");
}

static void
test_copy(void)
{
    char *line = strdup("<13>1 2026-12-06T02:03:21Z vm myapp 42 ID1 [a b=\"c\"] hello");
    char input[] = "syslog-tcp", source[] = "127.0.0.1:4000", *store, err[GW_ERR_LEN];
    struct gw_logrec r, c;
    size_t need;

    memset(&r, 0, sizeof(r));
    r.input.ptr = input;
    r.input.len = strlen(input);
    r.source.ptr = source;
    r.source.len = strlen(source);
    gw_syslog_parse(&r, line, strlen(line), 0, err);
    need = gw_syslog_rec_copy_size(&r);
    is(need, strlen(line) + strlen(input) + strlen(source),
       "copy size: the line plus the fields outside it");
    store = malloc(need);
    is(gw_syslog_rec_copy(&c, &r, store), need, "copy uses exactly that");
    memset(line, 'X', strlen(line));
    memset(input, 'X', strlen(input));
    ok(strcmp(str(c.app), "myapp") == 0 && strcmp(str(c.msg), "hello") == 0 &&
           strcmp(str(c.sd), "[a b=\"c\"]") == 0 && strcmp(str(c.input), "syslog-tcp") == 0 &&
           strcmp(str(c.source), "127.0.0.1:4000") == 0 && c.time_ns == r.time_ns,
       "the copy survives its source being overwritten");
    ok(c.msg.ptr >= store && c.msg.ptr + c.msg.len <= store + need && c.line.ptr == store,
       "the copy's slices point into its storage");
    free(store);
    free(line);
}

static const char *
fmt(const struct gw_logrec *r, const char *host)
{
    static char out[1024];
    struct gw_buf b;

    gw_buf_init(&b, 1024);
    if (gw_syslog_format_5424(&b, r, host) < 0)
        snprintf(out, sizeof(out), "(failed)");
    else
        snprintf(out, sizeof(out), "%.*s", (int)gw_buf_len(&b), gw_buf_data(&b));
    gw_buf_reset(&b);
    return out;
}

static void
test_format(void)
{
    static const char ex2[] = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                              "%% It's time to make the do-nuts.";
    char tbuf[GW_SYSLOG_TIME_LEN], err[GW_ERR_LEN], line[1024];
    struct gw_logrec r, back;
    struct gw_buf small;
    int rc;

    is_str(gw_syslog_format_time(1065910455003000000LL, 0, 1, tbuf), "2003-10-11T22:14:15.003000Z",
           "time in UTC with Z");
    is_str(gw_syslog_format_time(1061727255000003000LL, -420, 1, tbuf),
           "2003-08-24T05:14:15.000003-07:00", "time in its own offset");
    is_str(gw_syslog_format_time(-1, 0, 0, tbuf), "1969-12-31T23:59:59.999999+00:00",
           "just before the epoch, +00:00 without utc_z");
    is_str(gw_syslog_format_time(0, 330, 1, tbuf), "1970-01-01T05:30:00.000000+05:30",
           "half-hour offset");

    r = parse(ex2, &rc);
    is_str(fmt(&r, NULL), ex2, "RFC 5424 example 2 formats back to itself");
    r = parse("<13>Dec  6 02:03:19 myapp[42]: two\nlines \xff", &rc);
    is_str(fmt(&r, "me"), "<13>1 2026-12-06T02:03:19.000000Z me myapp 42 - - two\\x0alines \\xff",
           "3164 line as 5424: default host, UTC time, message escaped");
    memset(&r, 0, sizeof(r));
    r.severity = -1;
    r.facility = -1;
    is_str(fmt(&r, NULL), "<13>1 - - - - - -", "empty record: user.notice and NILVALUEs");
    r = parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\]cation\"] \xEF\xBB\xBF"
              "An application event log entry...",
              &rc);
    snprintf(line, sizeof(line), "%s", fmt(&r, NULL));
    memset(&back, 0, sizeof(back));
    is(gw_syslog_parse_5424(&back, line, strlen(line), err), 0, "formatted 5424 parses back");
    ok(back.time_ns == r.time_ns && back.severity == r.severity && back.facility == r.facility &&
           strcmp(str(back.host), str(r.host)) == 0 && strcmp(str(back.sd), str(r.sd)) == 0 &&
           strcmp(str(back.msg), str(r.msg)) == 0 && strcmp(str(back.msgid), str(r.msgid)) == 0,
       "round trip keeps every field");
    gw_buf_init(&small, 10);
    gw_buf_append(&small, "keep", 4);
    is(gw_syslog_format_5424(&small, &r, NULL), -1, "format past the buffer limit fails");
    ok(gw_buf_len(&small) == 4 && memcmp(gw_buf_data(&small), "keep", 4) == 0,
       "and leaves the buffer as it was");
    gw_buf_reset(&small);
}

/* ---- framing ---- */

struct feed {
    char out[8192];  /* frames, each as "[T]text|" (T when truncated) */
    char last[64];   /* the last frame, cut to 63 bytes */
    size_t max_held; /* most bytes the connection buffer held */
    int rc;          /* last return: -1 on a framing error */
    char err[GW_ERR_LEN];
};

/* Appends the frame as text, a NUL in it shown as "\\0". */
static void
add_frame(struct feed *fd, const struct gw_syslog_frame *fr)
{
    size_t n = strlen(fd->out);

    snprintf(fd->last, sizeof(fd->last), "%.*s", (int)GW_MIN(fr->data.len, 63), fr->data.ptr);
    if (fr->truncated)
        n += (size_t)snprintf(fd->out + n, sizeof(fd->out) - n, "T:");
    for (size_t i = 0; i < fr->data.len && n + 4 < sizeof(fd->out); i++) {
        if (fr->data.ptr[i] == '\0') {
            fd->out[n++] = '\\';
            fd->out[n++] = '0';
        } else {
            fd->out[n++] = fr->data.ptr[i];
        }
    }
    if (n + 2 < sizeof(fd->out)) {
        fd->out[n++] = '|';
        fd->out[n] = '\0';
    }
}

/* Feeds in through a connection buffer of `cap` bytes, chunk bytes at a time. */
static void
run_feed(struct gw_syslog_framer *f, const char *in, size_t n, size_t chunk, size_t cap,
         struct feed *fd)
{
    struct gw_syslog_frame fr;
    struct gw_buf b;
    size_t off = 0, used;

    memset(fd, 0, sizeof(*fd));
    gw_buf_init(&b, cap);
    while (off < n) {
        size_t k = GW_MIN(chunk, n - off);
        k = GW_MIN(k, gw_buf_room(&b));
        if (k == 0) {
            fd->rc = -2;
            snprintf(fd->err, sizeof(fd->err), "buffer full: framer hoards input");
            break;
        }
        gw_buf_append(&b, in + off, k);
        off += k;
        fd->max_held = GW_MAX(fd->max_held, gw_buf_len(&b));
        while ((fd->rc = gw_syslog_frame_next(f, gw_buf_data(&b), gw_buf_len(&b), &fr, &used,
                                              fd->err)) >= 0) {
            if (fd->rc == 1)
                add_frame(fd, &fr);
            gw_buf_consume(&b, used);
            if (fd->rc == 0)
                break;
        }
        if (fd->rc < 0)
            break;
    }
    if (fd->rc >= 0 && gw_syslog_frame_eof(f, gw_buf_data(&b), gw_buf_len(&b), &fr, fd->err) == 1)
        add_frame(fd, &fr);
    gw_buf_reset(&b);
}

/* Frames p[0..n) in place; the bytes consumed. */
static size_t
frame_in_place(struct gw_syslog_framer *f, const char *p, size_t n, struct feed *fd)
{
    struct gw_syslog_frame fr;
    size_t off = 0, used;

    while ((fd->rc = gw_syslog_frame_next(f, p + off, n - off, &fr, &used, fd->err)) >= 0) {
        if (fd->rc == 1)
            add_frame(fd, &fr);
        off += used;
        if (fd->rc == 0)
            break;
    }
    return off;
}

/* The same feed the way logd reads a stream: every chunk consumed at once, the start of an
 * unfinished frame kept aside and finished with gw_syslog_frame_need()'s bytes of the next
 * chunk, the rest of which is framed in place. */
static void
run_feed_kept(struct gw_syslog_framer *f, const char *in, size_t n, size_t chunk, size_t cap,
              struct feed *fd)
{
    struct gw_syslog_frame fr;
    struct gw_buf kept;
    size_t off = 0;

    memset(fd, 0, sizeof(*fd));
    gw_buf_init(&kept, cap);
    while (off < n && fd->rc >= 0) {
        const char *p = in + off;
        size_t len = GW_MIN(chunk, n - off), at = 0;
        off += len;
        while (gw_buf_len(&kept) && at < len && fd->rc >= 0) {
            size_t need = gw_syslog_frame_need(f, gw_buf_len(&kept), p + at, len - at);
            if (need == 0) {
                fd->rc = -2;
                snprintf(fd->err, sizeof(fd->err), "need 0 with %zu bytes kept", gw_buf_len(&kept));
                break;
            }
            if (gw_buf_append(&kept, p + at, need) == -1) {
                fd->rc = -2;
                snprintf(fd->err, sizeof(fd->err), "kept input over %zu bytes", cap);
                break;
            }
            at += need;
            fd->max_held = GW_MAX(fd->max_held, gw_buf_len(&kept));
            gw_buf_consume(&kept, frame_in_place(f, gw_buf_data(&kept), gw_buf_len(&kept), fd));
        }
        if (!gw_buf_len(&kept) && fd->rc >= 0) {
            at += frame_in_place(f, p + at, len - at, fd);
            if (fd->rc >= 0 && gw_buf_append(&kept, p + at, len - at) == -1) {
                fd->rc = -2;
                snprintf(fd->err, sizeof(fd->err), "kept input over %zu bytes", cap);
            }
        }
        fd->max_held = GW_MAX(fd->max_held, gw_buf_len(&kept));
    }
    if (fd->rc >= 0 &&
        gw_syslog_frame_eof(f, gw_buf_data(&kept), gw_buf_len(&kept), &fr, fd->err) == 1)
        add_frame(fd, &fr);
    gw_buf_reset(&kept);
}

/* Every chunk size from 1 to n gives the same frames, whether the unconsumed input is offered
 * again with the next chunk behind it, or kept aside and finished (gw_syslog_frame_need). */
static void
feed_all_splits(size_t max_line, int flags, const char *in, size_t n, const char *want,
                const char *what)
{
    struct gw_syslog_framer f;
    struct feed fd;
    int all = 1, kept = 1;

    for (size_t chunk = 1; chunk <= n; chunk++) {
        gw_syslog_framer_init(&f, max_line, 0, flags);
        run_feed(&f, in, n, chunk, max_line + GW_SYSLOG_FRAME_SLACK, &fd);
        if (fd.rc < 0 || strcmp(fd.out, want) != 0) {
            diag("chunk %zu: rc %d (%s) got '%s'", chunk, fd.rc, fd.err, fd.out);
            all = 0;
            break;
        }
    }
    ok(all, "%s, in every split", what);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        gw_syslog_framer_init(&f, max_line, 0, flags);
        run_feed_kept(&f, in, n, chunk, max_line + GW_SYSLOG_FRAME_SLACK, &fd);
        if (fd.rc < 0 || strcmp(fd.out, want) != 0) {
            diag("kept, chunk %zu: rc %d (%s) held %zu got '%s'", chunk, fd.rc, fd.err, fd.max_held,
                 fd.out);
            kept = 0;
            break;
        }
    }
    ok(kept, "%s, in every split, the unfinished frame kept aside", what);
}

static void
test_framing(void)
{
    /* logger -T --octet-count --rfc5424 and --rfc3164, then an LF-framed one. */
    static const char logger_bytes[] =
        "100 <13>1 2026-12-06T02:03:21.384915+00:00 vm myapp - - [timeQuality tzKnown=\"1\" "
        "isSynced=\"0\"] octet one"
        "40 <13>Dec  6 02:03:21 vm myapp: octet 3164"
        "<13>Dec  6 02:03:21 vm myapp: lf framed\n";
    /* rsyslog omfwd TCP_Framing="octet-counted" with RSYSLOG_SyslogProtocol23Format. */
    static const char rsyslog_bytes[] =
        "60 <13>1 2026-12-06T02:26:17+00:00 vm myapp - - -  via rsyslog\n108 <13>1 "
        "2026-12-06T02:26:17.464335+00:00 vm app5 - M1 [timeQuality tzKnown=\"1\" "
        "isSynced=\"0\"] five via rsyslog\n";
    static const char mixed[] = "5 hello3 abc<13>line one\n\n<13>line\r\n\r\n0 zero\n";
    struct gw_syslog_framer f;
    struct feed fd;

    feed_all_splits(256, 0, logger_bytes, sizeof(logger_bytes) - 1,
                    "<13>1 2026-12-06T02:03:21.384915+00:00 vm myapp - - [timeQuality "
                    "tzKnown=\"1\" isSynced=\"0\"] octet one|"
                    "<13>Dec  6 02:03:21 vm myapp: octet 3164|"
                    "<13>Dec  6 02:03:21 vm myapp: lf framed|",
                    "logger octet-counted 5424 and 3164, then LF framing");
    feed_all_splits(256, 0, rsyslog_bytes, sizeof(rsyslog_bytes) - 1,
                    "<13>1 2026-12-06T02:26:17+00:00 vm myapp - - -  via rsyslog\n|<13>1 "
                    "2026-12-06T02:26:17.464335+00:00 vm app5 - M1 [timeQuality tzKnown=\"1\" "
                    "isSynced=\"0\"] five via rsyslog\n|",
                    "rsyslog octet-counted frames (LF inside the count)");
    feed_all_splits(64, 0, mixed, sizeof(mixed) - 1, "hello|abc|<13>line one|<13>line\r|0 zero|",
                    "octet counting and LF mixed per frame; blank lines skipped; '0' is LF");
    feed_all_splits(8, 0, "0123456789abcdef\nshort\n01234567\n", 32, "T:01234567|short|01234567|",
                    "LF frame over max_line truncated, exactly max_line kept whole");
    feed_all_splits(8, 0, "20 0123456789abcdefghij5 hello", 30, "T:01234567|hello|",
                    "octet-counted frame over max_line truncated, rest skipped");
    feed_all_splits(16, GW_SYSLOG_FRAME_NUL, "a\0b\nc\0", 6, "a|b|c|",
                    "with GW_SYSLOG_FRAME_NUL, NUL ends frames");
    feed_all_splits(16, 0, "a\0b\nc", 5, "a\\0b|c|", "by default NUL is content");
    feed_all_splits(16, 0, "tail without LF", 15, "tail without LF|",
                    "end of stream delivers an unfinished LF frame");
    feed_all_splits(16, 0, "10 abc", 6, "T:abc|",
                    "end of stream delivers a short counted frame as truncated");

    gw_syslog_framer_init(&f, 64, 0, 0);
    run_feed(&f, "3 abc12x hello", 14, 14, 128, &fd);
    ok(fd.rc == -1 && strcmp(fd.out, "abc|") == 0, "non-digit in a count: error after good frames");
    is_str(fd.err, "bad octet count: byte 0x78 where SP belongs", "non-digit: reason");
    gw_syslog_framer_init(&f, 64, 0, 0);
    run_feed(&f, "12345678901 x", 13, 13, 128, &fd);
    ok(fd.rc == -1, "11-digit count: error");
    is_str(fd.err, "octet count longer than 10 digits", "11 digits: reason");
    gw_syslog_framer_init(&f, 64, 100, 0);
    run_feed(&f, "101 x", 5, 5, 128, &fd);
    is_str(fd.err, "octet count 101 over the limit of 100", "count over max_count: error");
    gw_syslog_framer_init(&f, 64, 0, 0);
    run_feed(&f, "9999999999 x", 12, 12, 128, &fd);
    ok(fd.rc == -1, "count over the default hard cap: error");
    gw_syslog_framer_init(&f, 64, 0, 0);
    run_feed(&f, "12", 2, 2, 128, &fd);
    ok(fd.rc == 0 && strcmp(fd.err, "stream ended inside an octet count") == 0,
       "end of stream inside a count is reported");

    gw_syslog_framer_init(&f, 8, 0, 0);
    run_feed(&f, "0123456789\nab\n20 0123456789abcdefghij", 37, 5, 24, &fd);
    ok(f.frames == 3 && f.truncated == 2, "framer counts frames and truncations");
}

/* A 10 MiB line through a 64 KiB max_line never makes the buffer hold more than max_line +
 * slack: the rest is skipped as it arrives. */
static void
test_framing_huge(void)
{
    size_t big = 10u << 20, max_line = 65536;
    char *in = malloc(big + 64);
    struct gw_syslog_framer f;
    struct feed fd;

    memset(in, 'x', big);
    memcpy(in + big, "\nnext\n", 6);
    gw_syslog_framer_init(&f, max_line, 0, 0);
    run_feed(&f, in, big + 6, 4096, max_line + GW_SYSLOG_FRAME_SLACK, &fd);
    ok(fd.rc >= 0, "10 MiB LF line: no error (%s)", fd.err);
    ok(f.truncated == 1 && f.frames == 2, "10 MiB LF line: one truncated frame, then the next");
    is_str(fd.last, "next", "the line after it arrives intact");
    ok(fd.max_held <= max_line + GW_SYSLOG_FRAME_SLACK, "buffer stayed within max_line + slack");
    gw_syslog_framer_init(&f, max_line, 0, 0);
    run_feed_kept(&f, in, big + 6, 4096, max_line + GW_SYSLOG_FRAME_SLACK, &fd);
    ok(fd.rc >= 0 && f.truncated == 1 && f.frames == 2 && strcmp(fd.last, "next") == 0 &&
           fd.max_held <= max_line + 1,
       "10 MiB LF line, unfinished frame kept aside: the same, never more than max_line + 1 kept");

    snprintf(in, 64, "%zu ", big);
    size_t pre = strlen(in);
    memset(in + pre, 'y', big);
    memcpy(in + pre + big, "4 next", 6);
    gw_syslog_framer_init(&f, max_line, 0, 0);
    run_feed(&f, in, pre + big + 6, 4096, max_line + GW_SYSLOG_FRAME_SLACK, &fd);
    ok(fd.rc >= 0 && f.truncated == 1 && f.frames == 2,
       "10 MiB counted frame: truncated once, next frame intact");
    free(in);
}

/* Lines of the same second reuse the last date and clock read (a per-thread cache): the
 * answers must be those of a fresh parse, whatever came before. */
static void
test_stamp_cache(void)
{
    static const char *const lines[] = {
        "<13>1 2026-12-06T04:46:45+00:00 h a - - - one",
        "<13>1 2026-12-06T04:46:45.5Z h a - - - two",
        "<13>1 2026-12-06T04:46:45+01:30 h a - - - three",
        "<13>1 2026-12-06T04:46:45 h a - - - no zone",
        "<13>1 2026-12-06T04:46:45.1234567Z h a - - - seven digits",
        "<13>1 2026-12-06t04:46:45Z h a - - - lower t",
        "<13>1 2026-02-29T04:46:45Z h a - - - not a leap year",
        "<13>1 2026-12-06T04:46:46Z h a - - - next second",
        "<13>1 2026-12-06T04:46:45Z h a - - - back",
    };
    static const int64_t want[] = {
        1796532405000000000LL, 1796532405500000000LL, 1796527005000000000LL, -1, -1, -1, -1,
        1796532406000000000LL, 1796532405000000000LL,
    };
    struct gw_logrec rec;
    char err[GW_ERR_LEN];
    int all = 1;

    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < GW_ARRAY_LEN(lines); i++) {
            memset(&rec, 0, sizeof(rec));
            int rc = gw_syslog_parse_5424(&rec, lines[i], strlen(lines[i]), err);
            int64_t got = rc == 0 ? rec.time_ns : -1;
            if (got != want[i]) {
                diag("round %d '%s': got %lld want %lld", round, lines[i], (long long)got,
                     (long long)want[i]);
                all = 0;
            }
        }
    }
    ok(all, "the same second in a row: every time as a fresh parse gives, bad ones refused");
}

int
main(void)
{
    test_5424_examples();
    test_5424_logger();
    test_5424_bad();
    test_3164_logger();
    test_3164_lenient();
    test_year();
    test_escape();
    test_sd_walk();
    test_format();
    test_copy();
    test_framing();
    test_framing_huge();
    test_stamp_cache();
    return done_testing();
}
