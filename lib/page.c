/*
 * page.c -- the HTML stats page: rendered here from /status for the first load (and for readers
 * without JavaScript), redrawn in the browser by the embedded script from the same table
 * description. The script builds the same markup as this file, with textContent for values.
 */
#include "page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 4

static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{font:13px/1.4 system-ui,Arial,Helvetica,sans-serif;margin:0;background:#fff;color:#111}"
    "header{background:#20a0a0;color:#fff;padding:6px 10px;display:flex;flex-wrap:wrap;"
    "gap:4px 14px;align-items:baseline}"
    "header h1{font-size:18px;margin:0}header a{color:#fff}"
    "main{padding:4px 10px 20px}"
    "h2{font-size:14px;margin:16px 0 4px;color:#167a7a;border-bottom:2px solid #20a0a0}"
    "section.grid{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:flex-start}"
    "section.grid h3{font-size:13px;margin:4px 0 2px;color:#167a7a}"
    ".wrap{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;margin:2px 0}"
    "th,td{border:1px solid #bbb;padding:2px 7px;text-align:left;vertical-align:top}"
    "thead th{background:#20a0a0;color:#fff;font-weight:600}"
    "tbody th{background:#eef7f7;font-weight:normal}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.st-ok td{background:#d6f5d6}tr.st-warn td{background:#ffe7a8}"
    "tr.st-bad td{background:#ffb3b3}"
    "span.st-ok,span.st-warn,span.st-bad{padding:0 6px;border-radius:3px;font-weight:600}"
    "span.st-ok{background:#1d8a1d;color:#fff}span.st-warn{background:#c98a00;color:#fff}"
    "span.st-bad{background:#c62020;color:#fff}"
    "p.more{margin:2px 0;color:#555}p.empty{color:#555}"
    "@media (max-width:600px){th,td{padding:2px 4px}body{font-size:12px}}";

/* The script mirrors the C rendering below: same sections, same classes, same formats. */
static const char page_js[] =
    "(function(){'use strict';"
    "var D=JSON.parse(document.getElementById('gw-page').textContent);"
    "function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;"
    "if(x!==undefined)e.textContent=x;return e}"
    "function grp(n){var s=String(Math.floor(Math.abs(n)));var o='';"
    "while(s.length>3){o=','+s.slice(-3)+o;s=s.slice(0,-3)}return (n<0?'-':'')+s+o}"
    "function num(v){if(typeof v!=='number')return String(v);"
    "if(Number.isInteger(v))return grp(v);var a=Math.abs(v);"
    "if(a<10)return v.toFixed(2);if(a<100)return v.toFixed(1);return grp(Math.round(v))}"
    "function bytes(v){if(typeof v!=='number')return String(v);if(v<1000)return grp(v)+' B';"
    "var u=['kB','MB','GB','TB','PB'],i=-1;do{v/=1000;i++}while(v>=1000&&i<4);"
    "return v.toFixed(1)+' '+u[i]}"
    "function secs(s){if(typeof s!=='number')return String(s);s=Math.round(s);"
    "if(s<60)return s+' s';if(s<3600)return Math.floor(s/60)+' m '+(s%60)+' s';"
    "if(s<86400)return Math.floor(s/3600)+' h '+Math.floor(s%3600/60)+' m';"
    "return Math.floor(s/86400)+' d '+Math.floor(s%86400/3600)+' h'}"
    "function ms(v){if(typeof v!=='number')return String(v);"
    "return v<1000?grp(Math.round(v))+' ms':secs(v/1000)}"
    "function kv(v){if(Array.isArray(v))return String(v.length);"
    "if(v&&typeof v==='object')return Object.keys(v).map(function(k){"
    "return k+'='+(typeof v[k]==='object'?JSON.stringify(v[k]):v[k])}).join(' ');"
    "return v===null||v===undefined?'':String(v)}"
    "var OK=D.ok,WARN=D.warn,BAD=D.bad;"
    "function stc(s){s=String(s).toLowerCase();if(OK.indexOf(s)>=0)return 'st-ok';"
    "if(WARN.indexOf(s)>=0)return 'st-warn';if(BAD.indexOf(s)>=0)return 'st-bad';return ''}"
    "function fmt(v,f){if(v===null||v===undefined)return '';switch(f){"
    "case 'num':return num(v);case 'bytes':return bytes(v);case 'secs':return secs(v);"
    "case 'ms':return ms(v);case 'kv':return kv(v);"
    "default:return typeof v==='object'?JSON.stringify(v):String(v)}}"
    "function guess(k,v){if(typeof v!=='number')return (k==='state'||k==='status')?'state':'text';"
    "if(k==='pid'||/port$/.test(k)||/^id$|_id$/.test(k))return 'text';"
    "if(/bytes/.test(k))return 'bytes';if(/_ms$/.test(k))return 'ms';"
    "if(/_s$/.test(k)||k==='uptime')return 'secs';return 'num'}"
    "function cell(tr,v,f){var n=typeof v==='number'&&f!=='text';var td=el('td',n?'n':'');"
    "if(f==='state'){var c=stc(v);td.appendChild(el('span',c,fmt(v,'text')));if(c)tr.className=c}"
    "else td.textContent=fmt(v,f);tr.appendChild(td)}"
    "function listTable(rows,cols){var t=el('table','list'),h=el('thead'),r=el('tr');"
    "cols.forEach(function(c){r.appendChild(el('th','',c[1]))});h.appendChild(r);"
    "t.appendChild(h);var b=el('tbody');rows.forEach(function(o){var tr=el('tr');"
    "cols.forEach(function(c){cell(tr,o?o[c[0]]:null,c[2])});b.appendChild(tr)});"
    "t.appendChild(b);var w=el('div','wrap');w.appendChild(t);return w}"
    "function kvTable(o){var t=el('table'),b=el('tbody');Object.keys(o).forEach(function(k){"
    "var v=o[k];var tr=el('tr');tr.appendChild(el('th','',k));"
    "if(v&&typeof v==='object')cell(tr,JSON.stringify(v),'text');else cell(tr,v,guess(k,v));"
    "b.appendChild(tr)});t.appendChild(b);return t}"
    "function colsOf(a){var c=[];a.forEach(function(o){Object.keys(o).forEach(function(k){"
    "if(!c.some(function(x){return x[0]===k}))c.push([k,k,guess(k,o[k])])})});return c}"
    "function draw(st,rz){var m=el('main');m.id='gw-main';var used={};"
    "D.tables.forEach(function(t){used[t.path]=1;used[t.path+'_more']=1;"
    "var rows=st&&Array.isArray(st[t.path])?st[t.path]:[];m.appendChild(el('h2','',t.title));"
    "if(!rows.length)m.appendChild(el('p','empty','none'));"
    "else m.appendChild(listTable(rows,t.cols));"
    "var more=st?st[t.path+'_more']:0;if(more)m.appendChild(el('p','more',"
    "grp(more)+' more not shown'))});"
    "if(rz&&rz.checks&&Object.keys(rz.checks).length){m.appendChild(el('h2','','Readiness'));"
    "var rows=Object.keys(rz.checks).map(function(k){var c=rz.checks[k];"
    "return {check:k,state:c.ok?'ok':'failed',detail:c.detail}});"
    "m.appendChild(listTable(rows,[['check','check','text'],['state','state','state'],"
    "['detail','detail','text']]))}"
    "if(st){m.appendChild(el('h2','','Status'));var g=el('section','grid'),sc={},any=0;"
    "Object.keys(st).forEach(function(k){var v=st[k];if(used[k]||(v&&typeof v==='object'))return;"
    "sc[k]=v;any=1});if(any){var d=el('div');d.appendChild(kvTable(sc));g.appendChild(d)}"
    "Object.keys(st).forEach(function(k){var v=st[k];if(used[k]||!v||typeof v!=='object')return;"
    "var d=el('div');d.appendChild(el('h3','',k));"
    "if(Array.isArray(v)&&v.length&&v.every(function(o){return o&&typeof o==='object'&&"
    "!Array.isArray(o)}))d.appendChild(listTable(v,colsOf(v)));"
    "else if(Array.isArray(v))d.appendChild(el('p','',v.map(function(x){"
    "return typeof x==='object'?JSON.stringify(x):String(x)}).join(', ')));"
    "else d.appendChild(kvTable(v));g.appendChild(d)});m.appendChild(g)}"
    "else m.appendChild(el('p','empty','status unavailable'));"
    "var old=document.getElementById('gw-main');old.parentNode.replaceChild(m,old);"
    "var r=document.getElementById('gw-ready');r.textContent=rz&&rz.ready?'ready':'NOT READY';"
    "r.className=rz&&rz.ready?'st-ok':'st-bad';"
    "document.getElementById('gw-updated').textContent='updated '+"
    "new Date().toLocaleTimeString()}"
    "function get(p){return fetch(p,{cache:'no-store'}).then(function(r){return r.json()})"
    ".catch(function(){return null})}"
    "function tick(){Promise.all([get('/status'),get('/readyz')]).then(function(a){"
    "draw(a[0],a[1])}).finally(function(){setTimeout(tick,D.refresh_ms)})}"
    "document.getElementById('gw-updated').textContent='updated '+new Date().toLocaleTimeString();"
    "setTimeout(tick,D.refresh_ms)})();";

/* Lower-case state words and their colour; the script gets the same lists. */
static const char *const ok_words[] = {"up",   "ok",    "closed",  "ready", "yes",
                                       "true", "alive", "running", NULL};
static const char *const warn_words[] = {"late",    "half_open", "draining", "degraded",
                                         "warning", "new",       "paused",   NULL};
static const char *const bad_words[] = {"dead",  "open", "down",  "failed",  "critical",
                                        "error", "no",   "false", "refused", NULL};

static int
in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcasecmp(*list, s) == 0)
            return 1;
    return 0;
}

const char *
gw_page_state_class(const char *state)
{
    if (state == NULL)
        return "";
    if (in_list(ok_words, state))
        return "st-ok";
    if (in_list(warn_words, state))
        return "st-warn";
    if (in_list(bad_words, state))
        return "st-bad";
    return "";
}

/* ---- formatting ---- */

static void
group(long long n, char *out, size_t len)
{
    char digits[32], tmp[48];
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    size_t nd, j = 0;

    snprintf(digits, sizeof(digits), "%llu", u);
    nd = strlen(digits);
    if (n < 0)
        tmp[j++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            tmp[j++] = ',';
        tmp[j++] = digits[i];
    }
    tmp[j] = '\0';
    gw_strlcpy(out, tmp, len);
}

static void
fmt_num(double v, int is_int, char *out, size_t len)
{
    double a = fabs(v);

    if (is_int)
        group((long long)v, out, len);
    else if (a < 10)
        snprintf(out, len, "%.2f", v);
    else if (a < 100)
        snprintf(out, len, "%.1f", v);
    else
        group(llround(v), out, len);
}

static void
fmt_bytes(double v, char *out, size_t len)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    char n[32];
    int i = -1;

    if (v < 1000) {
        group((long long)v, n, sizeof(n));
        snprintf(out, len, "%s B", n);
        return;
    }
    do {
        v /= 1000;
        i++;
    } while (v >= 1000 && i < 4);
    snprintf(out, len, "%.1f %s", v, units[i]);
}

static void
fmt_secs(double v, char *out, size_t len)
{
    long long s = llround(v);

    if (s < 60)
        snprintf(out, len, "%lld s", s);
    else if (s < 3600)
        snprintf(out, len, "%lld m %lld s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, len, "%lld h %lld m", s / 3600, s % 3600 / 60);
    else
        snprintf(out, len, "%lld d %lld h", s / 86400, s % 86400 / 3600);
}

static void
fmt_kv(json_t *v, char *out, size_t len)
{
    const char *k;
    json_t *x;
    size_t used = 0;

    out[0] = '\0';
    if (json_is_array(v)) {
        snprintf(out, len, "%zu", json_array_size(v));
        return;
    }
    json_object_foreach(v, k, x)
    {
        char *val = json_is_string(x) ? strdup(json_string_value(x))
                                      : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
        int n = snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", k, val ? val : "");
        free(val);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

static void
fmt_text(json_t *v, char *out, size_t len)
{
    char *s;

    if (json_is_string(v)) {
        gw_strlcpy(out, json_string_value(v), len);
    } else if (json_is_true(v) || json_is_false(v)) {
        gw_strlcpy(out, json_is_true(v) ? "true" : "false", len);
    } else if (json_is_integer(v)) {
        snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (v == NULL || json_is_null(v)) {
        out[0] = '\0';
    } else {
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        gw_strlcpy(out, s ? s : "", len);
        free(s);
    }
}

void
gw_page_format(json_t *v, enum gw_page_fmt fmt, char *out, size_t len)
{
    int number = json_is_number(v);
    double d = number ? json_number_value(v) : 0;

    if (len == 0)
        return;
    switch (fmt) {
    case GW_PAGE_NUM:
        if (number)
            return fmt_num(d, json_is_integer(v), out, len);
        break;
    case GW_PAGE_BYTES:
        if (number)
            return fmt_bytes(d, out, len);
        break;
    case GW_PAGE_SECS:
        if (number)
            return fmt_secs(d, out, len);
        break;
    case GW_PAGE_MS:
        if (number && d < 1000) {
            char n[32];
            group(llround(d), n, sizeof(n));
            snprintf(out, len, "%s ms", n);
            return;
        }
        if (number)
            return fmt_secs(d / 1000, out, len);
        break;
    case GW_PAGE_KV:
        if (json_is_object(v) || json_is_array(v))
            return fmt_kv(v, out, len);
        break;
    case GW_PAGE_TEXT:
    case GW_PAGE_STATE:
        break;
    }
    fmt_text(v, out, len);
}

/* The format a /status member gets when no table describes it (the script's guess()). */
static enum gw_page_fmt
guess(const char *key, json_t *v)
{
    size_t n = strlen(key);

    if (!json_is_number(v))
        return strcmp(key, "state") == 0 || strcmp(key, "status") == 0 ? GW_PAGE_STATE
                                                                       : GW_PAGE_TEXT;
    /* Identifiers read better without separators. */
    if (strcmp(key, "pid") == 0 || strcmp(key, "id") == 0 ||
        (n >= 4 && strcmp(key + n - 4, "port") == 0) || (n >= 3 && strcmp(key + n - 3, "_id") == 0))
        return GW_PAGE_TEXT;
    if (strstr(key, "bytes"))
        return GW_PAGE_BYTES;
    if (n > 3 && strcmp(key + n - 3, "_ms") == 0)
        return GW_PAGE_MS;
    if ((n > 2 && strcmp(key + n - 2, "_s") == 0) || strcmp(key, "uptime") == 0)
        return GW_PAGE_SECS;
    return GW_PAGE_NUM;
}

/* ---- markup ---- */

static int
esc(struct gw_buf *b, const char *s)
{
    int rc = 0;

    for (; *s && rc == 0; s++) {
        switch (*s) {
        case '&':
            rc = gw_buf_append(b, "&amp;", 5);
            break;
        case '<':
            rc = gw_buf_append(b, "&lt;", 4);
            break;
        case '>':
            rc = gw_buf_append(b, "&gt;", 4);
            break;
        case '"':
            rc = gw_buf_append(b, "&quot;", 6);
            break;
        case '\'':
            rc = gw_buf_append(b, "&#39;", 5);
            break;
        default:
            rc = gw_buf_append(b, s, 1);
        }
    }
    return rc;
}

/* A cell; a STATE cell also names the class of its row (*row_class). */
static int
cell(struct gw_buf *b, json_t *v, enum gw_page_fmt fmt, const char **row_class)
{
    char text[1024];
    int numeric = json_is_number(v) && fmt != GW_PAGE_TEXT, rc;

    gw_page_format(v, fmt, text, sizeof(text));
    rc = gw_buf_append(b, numeric ? "<td class=\"n\">" : "<td>", numeric ? 14 : 4);
    if (rc == 0 && fmt == GW_PAGE_STATE) {
        const char *c = gw_page_state_class(text);
        if (*c && row_class)
            *row_class = c;
        rc = gw_buf_printf(b, "<span class=\"%s\">", c);
        if (rc == 0)
            rc = esc(b, text);
        if (rc == 0)
            rc = gw_buf_append(b, "</span>", 7);
    } else if (rc == 0) {
        rc = esc(b, text);
    }
    return rc == 0 ? gw_buf_append(b, "</td>", 5) : -1;
}

/* Rows of objects under the given columns; the row's class comes from its STATE cell. */
static int
list_table(struct gw_buf *b, json_t *rows, const struct gw_page_col *cols, size_t ncols)
{
    size_t i, j;
    json_t *o;
    struct gw_buf row;
    int rc = gw_buf_append(b, "<div class=\"wrap\"><table class=\"list\"><thead><tr>", 49);

    for (j = 0; j < ncols && rc == 0; j++) {
        rc = gw_buf_append(b, "<th>", 4);
        if (rc == 0)
            rc = esc(b, cols[j].label);
        if (rc == 0)
            rc = gw_buf_append(b, "</th>", 5);
    }
    if (rc == 0)
        rc = gw_buf_append(b, "</tr></thead><tbody>", 20);
    gw_buf_init(&row, b->max_bytes);
    json_array_foreach(rows, i, o)
    {
        const char *cls = "";
        if (rc == -1)
            break;
        for (j = 0; j < ncols && rc == 0; j++)
            rc = cell(&row, json_object_get(o, cols[j].key), cols[j].fmt, &cls);
        if (rc == 0)
            rc = *cls ? gw_buf_printf(b, "<tr class=\"%s\">", cls) : gw_buf_append(b, "<tr>", 4);
        if (rc == 0)
            rc = gw_buf_append(b, gw_buf_data(&row), gw_buf_len(&row));
        if (rc == 0)
            rc = gw_buf_append(b, "</tr>", 5);
        gw_buf_consume(&row, gw_buf_len(&row));
    }
    gw_buf_reset(&row);
    return rc == 0 ? gw_buf_append(b, "</tbody></table></div>", 22) : -1;
}

static size_t
ncols_of(const struct gw_page_col *cols)
{
    size_t n = 0;

    while (cols && cols[n].key)
        n++;
    return n;
}

static int
program_tables(struct gw_buf *b, const struct gw_page *p, json_t *st)
{
    int rc = 0;

    for (const struct gw_page_table *t = p->tables; t && t->title && rc == 0; t++) {
        json_t *rows = st ? json_object_get(st, t->path) : NULL;
        char key[160];
        json_t *more;

        rc = gw_buf_append(b, "<h2>", 4);
        if (rc == 0)
            rc = esc(b, t->title);
        if (rc == 0)
            rc = gw_buf_append(b, "</h2>", 5);
        if (rc == 0 && (!json_is_array(rows) || json_array_size(rows) == 0))
            rc = gw_buf_append(b, "<p class=\"empty\">none</p>", 25);
        else if (rc == 0)
            rc = list_table(b, rows, t->cols, ncols_of(t->cols));
        snprintf(key, sizeof(key), "%s_more", t->path);
        more = st ? json_object_get(st, key) : NULL;
        if (rc == 0 && json_integer_value(more) > 0) {
            char n[32];
            group(json_integer_value(more), n, sizeof(n));
            rc = gw_buf_printf(b, "<p class=\"more\">%s more not shown</p>", n);
        }
    }
    return rc;
}

static int
checks_table(struct gw_buf *b, json_t *checks)
{
    static const struct gw_page_col cols[] = {
        {"check", "check", GW_PAGE_TEXT},
        {"state", "state", GW_PAGE_STATE},
        {"detail", "detail", GW_PAGE_TEXT},
    };
    json_t *rows = json_array(), *v;
    const char *k;
    int rc;

    if (rows == NULL)
        return -1;
    json_object_foreach(checks, k, v)
    {
        json_array_append_new(rows,
                              json_pack("{s:s, s:s, s:O}", "check", k, "state",
                                        json_is_true(json_object_get(v, "ok")) ? "ok" : "failed",
                                        "detail", json_object_get(v, "detail")));
    }
    rc = gw_buf_append(b, "<h2>Readiness</h2>", 18);
    if (rc == 0)
        rc = list_table(b, rows, cols, GW_ARRAY_LEN(cols));
    json_decref(rows);
    return rc;
}

static int
used_by_table(const struct gw_page *p, const char *key)
{
    size_t n;

    for (const struct gw_page_table *t = p->tables; t && t->title; t++) {
        n = strlen(t->path);
        if (strcmp(key, t->path) == 0 ||
            (strncmp(key, t->path, n) == 0 && strcmp(key + n, "_more") == 0))
            return 1;
    }
    return 0;
}

static int
kv_table(struct gw_buf *b, json_t *o, const struct gw_page *p, int top)
{
    const char *k;
    json_t *v;
    int rc = gw_buf_append(b, "<table><tbody>", 14);

    json_object_foreach(o, k, v)
    {
        if (rc == -1)
            break;
        if (top && (used_by_table(p, k) || json_is_object(v) || json_is_array(v)))
            continue;
        rc = gw_buf_append(b, "<tr><th>", 8);
        if (rc == 0)
            rc = esc(b, k);
        if (rc == 0)
            rc = gw_buf_append(b, "</th>", 5);
        if (rc == 0)
            rc = cell(b, v, json_is_object(v) || json_is_array(v) ? GW_PAGE_TEXT : guess(k, v),
                      NULL);
        if (rc == 0)
            rc = gw_buf_append(b, "</tr>", 5);
    }
    return rc == 0 ? gw_buf_append(b, "</tbody></table>", 16) : -1;
}

static int
is_object_rows(json_t *a)
{
    size_t i;
    json_t *e;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return 0;
    json_array_foreach(a, i, e)
    {
        if (!json_is_object(e))
            return 0;
    }
    return 1;
}

/* An array of objects nobody described: one column per key, first seen first. */
static int
generic_rows(struct gw_buf *b, json_t *a)
{
    struct gw_page_col cols[32];
    size_t n = 0, i, j;
    const char *k;
    json_t *o, *v;

    json_array_foreach(a, i, o)
    {
        json_object_foreach(o, k, v)
        {
            for (j = 0; j < n && strcmp(cols[j].key, k) != 0; j++)
                ;
            if (j == n && n < GW_ARRAY_LEN(cols))
                cols[n++] = (struct gw_page_col){k, k, guess(k, v)};
        }
    }
    return list_table(b, a, cols, n);
}

static int
status_grid(struct gw_buf *b, const struct gw_page *p, json_t *st)
{
    const char *k;
    json_t *v;
    int rc = gw_buf_append(b, "<h2>Status</h2><section class=\"grid\"><div>", 42);

    if (rc == 0)
        rc = kv_table(b, st, p, 1);
    if (rc == 0)
        rc = gw_buf_append(b, "</div>", 6);
    json_object_foreach(st, k, v)
    {
        if (rc == -1)
            break;
        if (used_by_table(p, k) || !(json_is_object(v) || json_is_array(v)))
            continue;
        rc = gw_buf_append(b, "<div><h3>", 9);
        if (rc == 0)
            rc = esc(b, k);
        if (rc == 0)
            rc = gw_buf_append(b, "</h3>", 5);
        if (rc == 0) {
            if (is_object_rows(v)) {
                rc = generic_rows(b, v);
            } else if (json_is_array(v)) {
                char text[4096];
                size_t i, used = 0;
                json_t *e;
                text[0] = '\0';
                json_array_foreach(v, i, e)
                {
                    char one[512];
                    fmt_text(e, one, sizeof(one));
                    used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
                                             i ? ", " : "", one);
                    if (used >= sizeof(text))
                        break;
                }
                rc = gw_buf_append(b, "<p>", 3);
                if (rc == 0)
                    rc = esc(b, text);
                if (rc == 0)
                    rc = gw_buf_append(b, "</p>", 4);
            } else {
                rc = kv_table(b, v, p, 0);
            }
        }
        if (rc == 0)
            rc = gw_buf_append(b, "</div>", 6);
    }
    return rc == 0 ? gw_buf_append(b, "</section>", 10) : -1;
}

static json_t *
words_json(const char *const *words)
{
    json_t *a = json_array();

    for (; *words; words++)
        json_array_append_new(a, json_string(*words));
    return a;
}

static const char *fmt_names[] = {"text", "num", "bytes", "secs", "ms", "state", "kv"};

/* The description the script redraws from. */
static int
page_json(struct gw_buf *b, const struct gw_page *p)
{
    json_t *tables = json_array(), *root;
    char *s, *q;
    int rc;

    for (const struct gw_page_table *t = p->tables; t && t->title; t++) {
        json_t *cols = json_array();
        for (const struct gw_page_col *c = t->cols; c && c->key; c++)
            json_array_append_new(cols, json_pack("[s,s,s]", c->key, c->label, fmt_names[c->fmt]));
        json_array_append_new(
            tables, json_pack("{s:s, s:s, s:o}", "title", t->title, "path", t->path, "cols", cols));
    }
    root = json_pack("{s:o, s:I, s:o, s:o, s:o}", "tables", tables, "refresh_ms",
                     (json_int_t)(p->refresh_ms ? p->refresh_ms : 3000), "ok", words_json(ok_words),
                     "warn", words_json(warn_words), "bad", words_json(bad_words));
    s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (s == NULL)
        return -1;
    /* "</" would end the script element early. */
    rc = 0;
    for (q = s; *q && rc == 0; q++)
        rc = (q[0] == '<' && q[1] == '/') ? gw_buf_append(b, "<\\/", 3) : gw_buf_append(b, q, 1);
    free(s);
    return rc;
}

int
gw_page_render(struct gw_buf *b, const struct gw_page *p, json_t *checks, int ready, json_t *status)
{
    int rc;

    rc = gw_buf_append(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">", 59);
    if (rc == 0)
        rc = gw_buf_printf(b, "<meta name=\"viewport\" content=\"width=device-width,"
                              "initial-scale=1\"><title>");
    if (rc == 0)
        rc = esc(b, p->prog);
    if (rc == 0)
        rc = gw_buf_printf(b, "</title><style>%s</style></head><body><header><h1>", page_css);
    if (rc == 0)
        rc = esc(b, p->prog);
    if (rc == 0)
        rc = gw_buf_printf(b,
                           "</h1><span id=\"gw-ready\" class=\"%s\">%s</span><span>gwkit %s</span>"
                           "<span id=\"gw-updated\"></span><span><a href=\"/status\">status</a> "
                           "<a href=\"/readyz\">readyz</a> %s</span></header><main id=\"gw-main\">",
                           ready ? "st-ok" : "st-bad", ready ? "ready" : "NOT READY",
                           p->version ? p->version : "",
                           p->has_metrics ? "<a href=\"/metrics\">metrics</a>" : "");
    if (rc == 0)
        rc = program_tables(b, p, status);
    if (rc == 0 && checks && json_object_size(checks))
        rc = checks_table(b, checks);
    if (rc == 0 && json_is_object(status))
        rc = status_grid(b, p, status);
    else if (rc == 0)
        rc = gw_buf_append(b, "<p class=\"empty\">status unavailable</p>", 39);
    if (rc == 0)
        rc = gw_buf_append(b, "</main><script type=\"application/json\" id=\"gw-page\">", 52);
    if (rc == 0)
        rc = page_json(b, p);
    if (rc == 0)
        rc = gw_buf_append(b, "</script><script>", 17);
    if (rc == 0)
        rc = gw_buf_append(b, page_js, sizeof(page_js) - 1);
    if (rc == 0)
        rc = gw_buf_append(b, "</script></body></html>\n", 24);
    return rc;
}
