/*
 * page.c -- tests for lib/page.c: value formats, state colours, the program's tables.
 */
#include <stdlib.h>
#include <string.h>

#include "page.h"
#include "../tap.h"

static void
check_fmt(json_t *v, enum gw_page_fmt fmt, const char *want, const char *what)
{
    char out[128];

    gw_page_format(v, fmt, out, sizeof(out));
    is_str(out, want, "%s", what);
    json_decref(v);
}

static void
test_formats(void)
{
    check_fmt(json_integer(1234567), GW_PAGE_NUM, "1,234,567", "thousands separators");
    check_fmt(json_integer(-1000), GW_PAGE_NUM, "-1,000", "negative number grouped");
    check_fmt(json_integer(999), GW_PAGE_NUM, "999", "small number as is");
    check_fmt(json_real(3.14159), GW_PAGE_NUM, "3.14", "small real: two decimals");
    check_fmt(json_real(42.25), GW_PAGE_NUM, "42.2", "real under 100: one decimal");
    check_fmt(json_real(12345.6), GW_PAGE_NUM, "12,346", "large real rounded and grouped");
    check_fmt(json_integer(512), GW_PAGE_BYTES, "512 B", "bytes");
    check_fmt(json_integer(1234567), GW_PAGE_BYTES, "1.2 MB", "megabytes");
    check_fmt(json_integer(45), GW_PAGE_SECS, "45 s", "seconds");
    check_fmt(json_integer(192), GW_PAGE_SECS, "3 m 12 s", "minutes and seconds");
    check_fmt(json_integer(7500), GW_PAGE_SECS, "2 h 5 m", "hours and minutes");
    check_fmt(json_integer(273600), GW_PAGE_SECS, "3 d 4 h", "days and hours");
    check_fmt(json_integer(850), GW_PAGE_MS, "850 ms", "milliseconds");
    check_fmt(json_integer(60000), GW_PAGE_MS, "1 m 0 s", "ms past a second as a duration");
    check_fmt(json_pack("{s:s,s:s}", "team", "core", "tier", "1"), GW_PAGE_KV, "team=core tier=1",
              "labels as k=v");
    check_fmt(json_pack("[i,i,i]", 1, 2, 3), GW_PAGE_KV, "3", "an array as its count");
    check_fmt(json_string("up"), GW_PAGE_NUM, "up", "a string under a number format as is");
    check_fmt(json_null(), GW_PAGE_TEXT, "", "null as empty");
    check_fmt(json_true(), GW_PAGE_TEXT, "true", "booleans");
    is_str(gw_page_state_class("up"), "st-ok", "up is green");
    is_str(gw_page_state_class("LATE"), "st-warn", "late is amber, any case");
    is_str(gw_page_state_class("dead"), "st-bad", "dead is red");
    is_str(gw_page_state_class("open"), "st-bad", "an open circuit is red");
    is_str(gw_page_state_class("whatever"), "", "other words uncoloured");
}

static const struct gw_page_col svc_cols[] = {
    {"name", "service", GW_PAGE_TEXT},
    {"state", "state", GW_PAGE_STATE},
    {"silent_s", "last beat", GW_PAGE_SECS},
    {"labels", "labels", GW_PAGE_KV},
    {NULL, NULL, 0},
};
static const struct gw_page_table tables[] = {
    {"Services", "service_list", svc_cols},
    {"Backends", "backend_list", svc_cols},
    {NULL, NULL, NULL},
};

static void
test_render(void)
{
    struct gw_page p = {.prog = "hbd", .version = "9", .has_metrics = 1, .tables = tables};
    json_t *st =
        json_pack("{s:i, s:[{s:s,s:s,s:i,s:{s:s}},{s:s,s:s,s:i,s:{}}], s:i, s:[]}", "uptime_s",
                  3700, "service_list", "name", "<script>x</script>", "state", "dead", "silent_s",
                  75, "labels", "team", "a&b", "name", "web", "state", "up", "silent_s", 1,
                  "labels", "service_list_more", 1500, "backend_list");
    json_t *checks = json_pack("{s:{s:b,s:s}}", "accepting", "ok", 1, "detail", "</script>");
    struct gw_buf b;
    const char *s;

    gw_buf_init(&b, 1 << 20);
    ok(gw_page_render(&b, &p, checks, 1, st) == 0, "rendered");
    gw_buf_append(&b, "", 1);
    s = gw_buf_data(&b);
    ok(strstr(s, "<h2>Services</h2>") != NULL, "program table first, with its title");
    ok(strstr(s, "<thead><tr><th>service</th><th>state</th><th>last beat</th><th>labels</th>") !=
           NULL,
       "its column labels");
    ok(strstr(s, "<tr class=\"st-bad\"><td>&lt;script&gt;x&lt;/script&gt;</td><td><span "
                 "class=\"st-bad\">dead</span></td><td class=\"n\">1 m 15 s</td><td>team=a&amp;b"
                 "</td></tr>") != NULL,
       "a dead service: red row, escaped name, age, labels");
    ok(strstr(s, "<tr class=\"st-ok\"><td>web</td>") != NULL, "an up service: green row");
    ok(strstr(s, "1,500 more not shown") != NULL, "rows left out are said");
    ok(strstr(s, "<h2>Backends</h2><p class=\"empty\">none</p>") != NULL, "an empty table says so");
    ok(strstr(s, "<th>uptime_s</th><td class=\"n\">1 h 1 m</td>") != NULL,
       "status scalars formatted by their key");
    ok(strstr(s, "<h3>service_list") == NULL, "a described array is not drawn twice");
    ok(strstr(s, "<script>x") == NULL, "no value reaches the page unescaped");
    ok(strstr(s, "id=\"gw-ready\" class=\"st-ok\">ready<") != NULL, "ready shown");
    ok(strstr(s, "\"refresh_ms\":3000") != NULL, "refresh period in the description");
    ok(strstr(s, "<meta name=\"viewport\"") != NULL, "readable on a phone");
    ok(strstr(s, "src=") == NULL && strstr(s, "http://") == NULL, "no external assets");
    gw_buf_reset(&b);

    gw_buf_init(&b, 1 << 20);
    ok(gw_page_render(&b, &p, NULL, 0, NULL) == 0, "rendered with status unavailable");
    gw_buf_append(&b, "", 1);
    ok(strstr(gw_buf_data(&b), "status unavailable") != NULL &&
           strstr(gw_buf_data(&b), "NOT READY") != NULL,
       "says so, and not ready");
    gw_buf_reset(&b);

    gw_buf_init(&b, 512);
    ok(gw_page_render(&b, &p, checks, 1, st) == -1, "a buffer too small is an error, not a cut");
    gw_buf_reset(&b);
    json_decref(st);
    json_decref(checks);
}

int
main(void)
{
    test_formats();
    test_render();
    return done_testing();
}
