/*
 * logfile.c -- tests for lib/logfile.c in a temporary directory: one file, templates fed
 * hostile values, size and time rotation with retention, zstd output and crash leftovers,
 * reopen after logrotate, failed writes (RLIMIT_FSIZE) with exactly-once retries, ticks.
 */
#define _XOPEN_SOURCE 700
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "../tap.h"

static char root[PATH_MAX];
static int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static int64_t
utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static const char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A path under the test's root (one static buffer of a ring, so two may be used at once). */
static const char *
at(const char *fmt, ...)
{
    static char bufs[4][PATH_MAX];
    static int i;
    char *b = bufs[i++ % 4];
    va_list ap;
    int n = snprintf(b, PATH_MAX, "%s/", root);

    va_start(ap, fmt);
    vsnprintf(b + n, (size_t)(PATH_MAX - n), fmt, ap);
    va_end(ap);
    return b;
}

/* Whole file into a malloc'd NUL-terminated buffer; NULL when it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static int
file_is(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    int same = got && strcmp(got, want) == 0;

    if (!same)
        diag("%s holds '%s', wanted '%s'", path, got ? got : "(missing)", want);
    free(got);
    return same;
}

static int
exists(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

/* Decompresses a .zst file with libzstd; NULL when it is not a valid frame. */
static char *
unzstd(const char *path)
{
    size_t n, out_cap = 1 << 16, out_len = 0;
    char *in = slurp(path, &n), *out = malloc(out_cap);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer ib = {in, n, 0};
    size_t r = 1;

    while (in && ib.pos < ib.size) {
        ZSTD_outBuffer ob = {out + out_len, out_cap - out_len - 1, 0};
        r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r))
            break;
        out_len += ob.pos;
        if (out_cap - out_len < 2)
            out = realloc(out, out_cap *= 2);
    }
    ZSTD_freeDCtx(d);
    free(in);
    if (!in || r != 0) {
        free(out);
        return NULL;
    }
    out[out_len] = '\0';
    return out;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
clean(void)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(root, 0700);
}

static int
append(struct gw_logfile *lf, const char *app, const char *line)
{
    struct gw_logfile_fields f = {
        .app = app, .app_len = app ? strlen(app) : 0, .facility = -1, .severity = -1};
    char err[GW_ERR_LEN];
    int rc = gw_logfile_append(lf, &f, line, strlen(line), err);

    if (rc == -1)
        diag("append: %s", err);
    return rc;
}

static int
commit(struct gw_logfile *lf)
{
    char err[GW_ERR_LEN];
    int rc = gw_logfile_commit(lf, err);

    if (rc == -1)
        diag("commit: %s", err);
    return rc;
}

static struct gw_logfile *
make(struct gw_logfile_config *cfg)
{
    char err[GW_ERR_LEN];
    struct gw_logfile *lf;

    cfg->clock_ms = fake_clock;
    lf = gw_logfile_new(cfg, err);
    if (!lf)
        diag("new: %s", err);
    return lf;
}

static void
test_single_file(void)
{
    struct gw_logfile_config cfg = {.path = at("sub/dir/app.log"), .fsync = GW_LOGFILE_FSYNC_BATCH};
    struct gw_logfile *lf = make(&cfg);
    struct gw_logfile_stats st;
    struct stat sb;
    char err[GW_ERR_LEN];

    ok(lf != NULL, "single file: created");
    is(commit(lf), 0, "commit with nothing queued succeeds");
    is(append(lf, "x", "one\n"), 0, "append a line");
    is(append(lf, "y", "two\n"), 0, "append another (fields do not matter for one file)");
    ok(!exists(at("sub")), "nothing is opened or created before commit");
    is(gw_logfile_pending_bytes(lf), 8, "pending bytes before commit");
    is(commit(lf), 0, "commit");
    ok(file_is(at("sub/dir/app.log"), "one\ntwo\n"), "file holds the lines in order");
    ok(stat(at("sub/dir/app.log"), &sb) == 0 && (sb.st_mode & 0777) == 0640, "file mode 0640");
    ok(stat(at("sub/dir"), &sb) == 0 && (sb.st_mode & 0777) == 0750, "directory mode 0750");
    ok(append(lf, "x", "three\n") == 0 && commit(lf) == 0, "second batch");
    ok(file_is(at("sub/dir/app.log"), "one\ntwo\nthree\n"), "second batch appended");
    is(gw_logfile_append(lf, NULL, "no newline", 10, err), -1, "a line without '\\n' refused");
    is(errno, EINVAL, "EINVAL for a line without '\\n'");
    gw_logfile_stats(lf, &st);
    is(st.lines, 3, "stats: 3 lines");
    is(st.bytes, 14, "stats: 14 bytes");
    is(st.bytes_on_disk, 14, "stats: bytes on disk");
    is(st.open_files, 1, "stats: one open file");
    ok(st.fsyncs >= 2, "stats: batch fsyncs each commit (%llu)", (unsigned long long)st.fsyncs);
    is(st.pending_lines, 0, "stats: nothing pending");
    gw_logfile_free(lf);

    cfg = (struct gw_logfile_config){.path = at("cap.log"), .max_pending_bytes = 40};
    lf = make(&cfg);
    for (int i = 0; i < 4; i++)
        append(lf, NULL, "123456789\n");
    is(gw_logfile_append(lf, NULL, "x\n", 2, err), -1, "append past max_pending_bytes refused");
    is(errno, ENOBUFS, "ENOBUFS when the pending bound is reached");
    gw_logfile_stats(lf, &st);
    ok(st.refused == 1 && st.pending_lines == 4 && st.pending_bytes == 40,
       "stats: one refusal, 4 lines pending");
    ok(commit(lf) == 0 && append(lf, NULL, "x\n") == 0, "after a commit appends succeed again");
    {
        char big[64];
        memset(big, 'b', sizeof(big));
        big[63] = '\n';
        is(gw_logfile_append(lf, NULL, big, sizeof(big), err), -1,
           "a line longer than max_pending_bytes refused");
        is(errno, EMSGSIZE, "EMSGSIZE: it would never fit");
    }
    gw_logfile_free(lf);
    clean();
}

/* Every regular file under root must be under prefix, and its name free of hostile bytes. */
static const char *walk_prefix;
static int walk_bad, walk_files;

static int
walk_check(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_F) {
        walk_files++;
        if (strncmp(path, walk_prefix, strlen(walk_prefix)) != 0) {
            diag("file outside the prefix: %s", path);
            walk_bad++;
        }
        for (const char *p = path + strlen(root); *p; p++) {
            if (!(*p == '/' || *p == '.' || *p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
                diag("hostile byte in %s", path);
                walk_bad++;
                break;
            }
        }
        if (strstr(path + strlen(root), "/.") || strstr(path + strlen(root), "..")) {
            diag("dot file or '..' in %s", path);
            walk_bad++;
        }
    }
    return 0;
}

static void
test_template_hostile(void)
{
    struct gw_logfile_config cfg = {.path = at("logs/%%{host}/%%{app}.log"), .max_open_files = 4};
    struct gw_logfile *lf = make(&cfg);
    char ctl[32], big[300], path[PATH_MAX], val[GW_LOGFILE_FIELD_MAX + 1], err[GW_ERR_LEN];
    struct {
        const char *s;
        size_t len;
    } values[] = {{"../../etc/passwd", 16},
                  {"", 0},
                  {"a/b", 3},
                  {".hidden", 7},
                  {ctl, sizeof(ctl)},
                  {big, 300},
                  {"..", 2},
                  {".", 1},
                  {"/", 1},
                  {NULL, 0},
                  {"ok-name_1.2", 11}};
    struct gw_logfile_stats st;
    size_t nv = sizeof(values) / sizeof(values[0]);

    for (int i = 0; i < 32; i++)
        ctl[i] = (char)i;
    memset(big, 'x', sizeof(big));
    ok(lf != NULL, "template: created");
    for (size_t i = 0; i < nv; i++) {
        for (size_t j = 0; j < nv; j++) {
            struct gw_logfile_fields f = {.app = values[i].s,
                                          .app_len = values[i].len,
                                          .host = values[j].s,
                                          .host_len = values[j].len,
                                          .facility = -1,
                                          .severity = -1};
            gw_logfile_append(lf, &f, "hostile\n", 8, err);
        }
    }
    is(commit(lf), 0, "commit to files named by hostile values");
    gw_logfile_stats(lf, &st);
    ok(st.open_files <= 4, "at most max_open_files open (%llu)", (unsigned long long)st.open_files);
    is(st.lines, nv * nv, "every line written");
    walk_prefix = at("logs/");
    walk_bad = walk_files = 0;
    nftw(root, walk_check, 16, FTW_PHYS);
    is(walk_bad, 0, "no file escapes the prefix or has a hostile name");
    ok(walk_files > 0 && walk_files <= (int)(nv * nv), "files made (%d)", walk_files);

    is(gw_logfile_sanitize("../../etc/passwd", 16, val), strlen(val), "sanitize returns length");
    ok(!strchr(val, '/') && !strstr(val, "..") && val[0] != '.', "'../../etc/passwd' -> '%s'", val);
    gw_logfile_sanitize("", 0, val);
    is_str(val, "unknown", "empty value -> unknown");
    gw_logfile_sanitize(big, 300, val);
    is(strlen(val), GW_LOGFILE_FIELD_MAX, "300-byte value cut to 64");
    gw_logfile_sanitize(".hidden", 7, val);
    is_str(val, "_hidden", "leading dot replaced");
    gw_logfile_sanitize(ctl, sizeof(ctl), val);
    ok(strspn(val, "_") == 32, "control bytes (NUL included) replaced");
    gw_logfile_sanitize("a/b", 3, val);
    is_str(val, "a_b", "slash replaced");
    {
        struct gw_logfile_fields f = {.app = "web", .app_len = 3, .host = "h1", .host_len = 2};
        is(gw_logfile_path(lf, &f, path, sizeof(path), err), 0, "render a path");
        is_str(path, at("logs/h1/web.log"), "rendered path");
    }
    gw_logfile_free(lf);

    cfg = (struct gw_logfile_config){.path = at("%%{facility}/%%{severity}-%%{date}-%%{hour}.log")};
    lf = make(&cfg);
    {
        struct gw_logfile_fields f = {
            .facility = 16, .severity = 3, .time_ms = utc_ms(2026, 12, 6, 3, 4, 5)};
        gw_logfile_path(lf, &f, path, sizeof(path), err);
        is_str(path, at("local0/err-2026-12-06-03.log"), "facility, severity, date, hour");
        f.facility = 99;
        f.severity = -1;
        f.time_ms = -5;
        gw_logfile_path(lf, &f, path, sizeof(path), err);
        is_str(path, at("99/unknown-unknown-unknown.log"), "out-of-range codes and time");
    }
    gw_logfile_free(lf);

    static const char *const bad[] = {
        "/x/%{foo}.log",
        "/x/%{app.log",
        "/x/%{app}",
        "/x/%{app}.log.1",
        "/x/%{app}/../a.log",
        "/x/%{app}//a.log",
        "/x/",
        "/x/%{app}.zst",
        "",
        "/x/%{app}%{app}%{app}%{app}.log",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg = (struct gw_logfile_config){.path = bad[i]};
        lf = gw_logfile_new(&cfg, err);
        ok(lf == NULL, "template '%s' refused: %s", bad[i], lf ? "" : err);
        gw_logfile_free(lf);
    }
    cfg = (struct gw_logfile_config){.path = "/x/%{host}/app.log"};
    lf = gw_logfile_new(&cfg, err);
    ok(lf != NULL, "template with a fixed file name accepted");
    gw_logfile_free(lf);
    clean();
}

/* Names of the rotated files of base in dir, sorted, into names (at most max). */
static int
rotated(const char *dir, const char *base, char names[][128], int max)
{
    char cmd[PATH_MAX + 256];
    FILE *p;
    int n = 0;

    snprintf(cmd, sizeof(cmd), "ls -1 '%s' | grep '^%s\\.' | sort", dir, base);
    if ((p = popen(cmd, "r")) == NULL)
        return -1;
    while (n < max && fgets(names[n], 128, p)) {
        names[n][strcspn(names[n], "\n")] = '\0';
        n++;
    }
    pclose(p);
    return n;
}

static void
lines_into(char *out, int from, int to)
{
    out[0] = '\0';
    for (int i = from; i <= to; i++)
        sprintf(out + strlen(out), "line %04d\n", i);
}

static void
test_size_rotation(void)
{
    char path[PATH_MAX];
    struct gw_logfile_config cfg = {
        .path = strcpy(path, at("app.log")), .rotate_size = 100, .retention = 3};
    struct gw_logfile *lf;
    struct gw_logfile_stats st;
    char names[16][128], want[1024], line[32];
    int n, next = 1;

    fake_now = utc_ms(2026, 12, 6, 3, 0, 0);
    lf = make(&cfg);
    /* 47 lines of 10 bytes in batches of 7: files of exactly 100 bytes, cut between lines. */
    for (int b = 0; b < 7; b++) {
        for (int i = 0; i < 7 && next <= 47; i++, next++) {
            snprintf(line, sizeof(line), "line %04d\n", next);
            append(lf, NULL, line);
        }
        commit(lf);
    }
    ok(gw_logfile_compress_wait(lf, 10000) == 0, "retention pass finished");
    n = rotated(root, "app.log", names, 16);
    is(n, 3, "retention 3 keeps three rotated files");
    ok(n == 3 && strcmp(names[0], "app.log.20261206T030000Z-1") == 0 &&
           strcmp(names[2], "app.log.20261206T030000Z-3") == 0,
       "timestamped names, -N when taken (%s .. %s)", names[0], n == 3 ? names[2] : "");
    for (int i = 0; i < n && i < 3; i++) {
        char p[PATH_MAX + 128];
        if (snprintf(p, sizeof(p), "%s/%s", root, names[i]) >= (int)sizeof(p))
            continue;
        lines_into(want, 11 + 10 * i, 20 + 10 * i);
        ok(file_is(p, want), "rotated file %d holds exactly 10 whole lines", i + 1);
    }
    lines_into(want, 41, 47);
    ok(file_is(at("app.log"), want), "current file holds the rest");
    gw_logfile_stats(lf, &st);
    is(st.rotations, 4, "stats: 4 rotations");
    is(st.removed, 1, "stats: 1 rotated file removed by retention");
    is(st.bytes_on_disk, 70, "stats: bytes on disk counts the current file only");
    is(st.lines, 47, "stats: 47 lines");

    /* One batch larger than rotate_size into an empty file: cut into files too. */
    gw_logfile_free(lf);
    clean();
    lf = make(&cfg);
    for (int i = 1; i <= 25; i++) {
        snprintf(line, sizeof(line), "line %04d\n", i);
        append(lf, NULL, line);
    }
    ok(commit(lf) == 0, "a 250-byte batch into an empty file");
    ok(gw_logfile_compress_wait(lf, 10000) == 0, "retention pass finished");
    n = rotated(root, "app.log", names, 16);
    is(n, 2, "the batch was cut into two full files");
    for (int i = 0; i < n && i < 2; i++) {
        char p[PATH_MAX + 128];
        if (snprintf(p, sizeof(p), "%s/%s", root, names[i]) >= (int)sizeof(p))
            continue;
        lines_into(want, 1 + 10 * i, 10 + 10 * i);
        ok(file_is(p, want), "cut file %d holds 10 whole lines", i + 1);
    }
    lines_into(want, 21, 25);
    ok(file_is(at("app.log"), want), "and the rest is current");

    /* A line longer than rotate_size gets a file of its own. */
    memset(want, 'L', 250);
    want[250] = '\n';
    want[251] = '\0';
    ok(append(lf, NULL, want) == 0 && commit(lf) == 0, "a 251-byte line is written");
    ok(file_is(at("app.log"), want), "a line longer than rotate_size: a file to itself");
    gw_logfile_free(lf);
    clean();
}

static void
test_compression(void)
{
    char path[PATH_MAX];
    struct gw_logfile_config cfg = {.path = strcpy(path, at("z/app.log")),
                                    .rotate_size = 100,
                                    .retention = 2,
                                    .compress = 1,
                                    .fsync = GW_LOGFILE_FSYNC_ALWAYS};
    struct gw_logfile *lf;
    struct gw_logfile_stats st;
    char names[16][128], want[1024], line[32], p[PATH_MAX + 128];
    int n;

    fake_now = utc_ms(2026, 12, 6, 3, 0, 0);
    lf = make(&cfg);
    for (int i = 1; i <= 40; i++) {
        snprintf(line, sizeof(line), "line %04d\n", i);
        append(lf, NULL, line);
        if (i % 10 == 0) {
            commit(lf);
            fake_now += 1000; /* distinct names, one a second */
        }
    }
    ok(gw_logfile_compress_wait(lf, 10000) == 0, "compressor finished");
    n = rotated(at("z"), "app.log", names, 16);
    is(n, 2, "two rotated files kept");
    for (int i = 0; i < n && i < 2; i++) {
        char *got;
        if (snprintf(p, sizeof(p), "%s/z/%s", root, names[i]) >= (int)sizeof(p))
            continue;
        ok(strstr(names[i], ".zst") && !strstr(names[i], ".tmp"), "%s is compressed", names[i]);
        got = unzstd(p);
        lines_into(want, 11 + 10 * i, 20 + 10 * i);
        ok(got && strcmp(got, want) == 0, "%s decompresses to its lines", names[i]);
        free(got);
    }
    gw_logfile_stats(lf, &st);
    ok(st.compressed >= 2, "stats: compressed files (%llu)", (unsigned long long)st.compressed);
    gw_logfile_free(lf);

    /* Leftovers of a crash: an uncompressed rotated file with a stale .tmp, and a file
     * whose .zst was complete before the crash. The first use of the path fixes both. */
    clean();
    mkdir(at("z"), 0700);
    {
        FILE *f = fopen(at("z/app.log.20261206T010000Z"), "w");
        fputs("old 1\nold 2\n", f);
        fclose(f);
        f = fopen(at("z/app.log.20261206T010000Z.zst.tmp"), "w");
        fputs("garbage", f);
        fclose(f);
        f = fopen(at("z/app.log.20261206T020000Z"), "w");
        fputs("old 3\n", f);
        fclose(f);
    }
    cfg.retention = 0; /* keeps all */
    lf = make(&cfg);
    ok(gw_logfile_compress_wait(lf, 1000) == 0, "no compressor before any use");
    ok(append(lf, NULL, "new\n") == 0 && commit(lf) == 0, "first use of the path");
    ok(gw_logfile_compress_wait(lf, 10000) == 0, "leftovers processed");
    ok(!exists(at("z/app.log.20261206T010000Z.zst.tmp")), "stale .tmp removed");
    ok(!exists(at("z/app.log.20261206T010000Z")), "uncompressed leftover replaced");
    {
        char *got = unzstd(at("z/app.log.20261206T010000Z.zst"));
        ok(got && strcmp(got, "old 1\nold 2\n") == 0, "leftover compressed again, valid zstd");
        free(got);
        got = unzstd(at("z/app.log.20261206T020000Z.zst"));
        ok(got && strcmp(got, "old 3\n") == 0, "every leftover compressed");
        free(got);
    }
    gw_logfile_free(lf);
    clean();
}

static void
test_time_rotation(void)
{
    char path[PATH_MAX];
    struct gw_logfile_config cfg = {.path = strcpy(path, at("t.log")), .rotate_interval_s = 3600};
    struct gw_logfile *lf;
    struct gw_logfile_stats st;
    char err[GW_ERR_LEN];
    struct timeval tv[2];

    fake_now = utc_ms(2026, 12, 6, 2, 59, 59);
    lf = make(&cfg);
    ok(append(lf, NULL, "at 02:59\n") == 0 && commit(lf) == 0, "write at 02:59:59");
    ok(gw_logfile_next_tick_ms(lf) == 1000, "next tick at the hour (%lld ms)",
       (long long)gw_logfile_next_tick_ms(lf));
    is(gw_logfile_tick(lf, err), 0, "tick before the hour: nothing");
    ok(!exists(at("t.log.20261206T025959Z")), "no rotation before the hour");
    fake_now = utc_ms(2026, 12, 6, 3, 0, 0);
    is(gw_logfile_next_tick_ms(lf), 0, "at the hour a tick is due");
    is(gw_logfile_tick(lf, err), 0, "tick rotates an idle file (nothing committed)");
    ok(file_is(at("t.log.20261206T030000Z"), "at 02:59\n"), "rotated on the hour, UTC name");
    ok(file_is(at("t.log"), ""), "a new current file");
    ok(append(lf, NULL, "at 03:00\n") == 0 && commit(lf) == 0, "write at 03:00");
    fake_now = utc_ms(2026, 12, 6, 2, 30, 0);
    ok(append(lf, NULL, "at 03:00\n") == 0 && commit(lf) == 0, "clock stepped back to 02:30");
    ok(!exists(at("t.log.20261206T023000Z")), "a clock stepped back does not rotate");
    fake_now = utc_ms(2026, 12, 6, 3, 59, 0);
    ok(append(lf, NULL, "at 03:59\n") == 0 && commit(lf) == 0, "write at 03:59");
    fake_now = utc_ms(2026, 12, 6, 4, 0, 5);
    ok(append(lf, NULL, "at 04:00\n") == 0 && commit(lf) == 0, "write at 04:00:05");
    ok(file_is(at("t.log.20261206T040005Z"), "at 03:00\nat 03:00\nat 03:59\n"),
       "the 03 hour rotated at the first commit after 04:00");
    ok(file_is(at("t.log"), "at 04:00\n"), "the 04 hour in the current file");
    gw_logfile_stats(lf, &st);
    is(st.rotations, 2, "stats: 2 rotations");
    gw_logfile_free(lf);

    /* A file left by an earlier run in an earlier period is rotated before the first write. */
    tv[0].tv_sec = tv[1].tv_sec = utc_ms(2026, 12, 6, 1, 30, 0) / 1000;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    utimes(at("t.log"), tv);
    lf = make(&cfg);
    ok(append(lf, NULL, "restarted\n") == 0 && commit(lf) == 0, "write after a restart");
    ok(file_is(at("t.log"), "restarted\n"), "the old period's file was rotated first");
    gw_logfile_free(lf);
    clean();

    /* Days are aligned to UTC midnight. */
    cfg.rotate_interval_s = 86400;
    fake_now = utc_ms(2026, 12, 6, 0, 0, 1);
    lf = make(&cfg);
    append(lf, NULL, "day 6\n");
    commit(lf);
    fake_now = utc_ms(2026, 12, 6, 23, 59, 59);
    append(lf, NULL, "day 6 late\n");
    commit(lf);
    ok(file_is(at("t.log"), "day 6\nday 6 late\n"), "daily: no rotation within the day");
    fake_now = utc_ms(2026, 12, 7, 0, 0, 0);
    append(lf, NULL, "day 7\n");
    commit(lf);
    ok(file_is(at("t.log.20261207T000000Z"), "day 6\nday 6 late\n"), "daily: rotated at 00:00Z");
    gw_logfile_free(lf);
    clean();
}

static void
test_reopen(void)
{
    struct gw_logfile_config cfg = {.path = at("r.log"), .fsync = GW_LOGFILE_FSYNC_BATCH};
    struct gw_logfile *lf = make(&cfg);
    struct gw_logfile_stats st;

    ok(append(lf, NULL, "one\n") == 0 && commit(lf) == 0, "write one");
    ok(rename(at("r.log"), at("r.log.1")) == 0, "logrotate renames the file");
    ok(append(lf, NULL, "two\n") == 0 && commit(lf) == 0, "write two before the reopen");
    gw_logfile_reopen(lf);
    gw_logfile_stats(lf, &st);
    is(st.open_files, 0, "reopen closes every file");
    ok(append(lf, NULL, "three\n") == 0 && commit(lf) == 0, "write three after the reopen");
    ok(file_is(at("r.log.1"), "one\ntwo\n"), "the renamed file kept what came before");
    ok(file_is(at("r.log"), "three\n"), "after reopen lines go to a new file at the path");
    gw_logfile_stats(lf, &st);
    is(st.bytes_on_disk, 6, "bytes on disk follow the new file");
    gw_logfile_free(lf);
    clean();
}

/* A crash mid-write left "partial" without its newline: it was never acknowledged, and the next
 * line must not be glued to it. Also for files named by a template. */
static void
test_torn_tail(void)
{
    struct gw_logfile_config cfg = {.path = at("t-%%{app}.log"), .fsync = GW_LOGFILE_FSYNC_BATCH};
    struct gw_logfile *lf;
    struct gw_logfile_stats st;
    FILE *f = fopen(at("t-web.log"), "w");

    ok(f && fputs("a\nb\npartial", f) >= 0 && fclose(f) == 0, "a file ending in a torn line");
    lf = make(&cfg);
    ok(append(lf, "web", "c\n") == 0 && commit(lf) == 0, "a line appended after the restart");
    ok(file_is(at("t-web.log"), "a\nb\nc\n"), "the torn line is cut, the new line whole");
    gw_logfile_stats(lf, &st);
    is(st.torn_cut, 7, "the bytes cut are counted");
    ok(append(lf, "web", "d\n") == 0 && commit(lf) == 0, "more lines");
    ok(file_is(at("t-web.log"), "a\nb\nc\nd\n"), "a whole end is left alone");
    gw_logfile_free(lf);
    clean();
}

static void
set_fsize(rlim_t n)
{
    struct rlimit rl;

    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = n == RLIM_INFINITY ? rl.rlim_max : n;
    setrlimit(RLIMIT_FSIZE, &rl);
}

static void
test_write_failure(enum gw_logfile_fsync policy, const char *name)
{
    struct gw_logfile_config cfg = {.path = at("e.log"), .fsync = policy, .retry_interval_ms = 1};
    struct gw_logfile *lf = make(&cfg);
    struct gw_logfile_stats st;
    char err[GW_ERR_LEN], want[1024], line[32], *got;
    size_t len;
    int rc;

    lines_into(want, 1, 5);
    for (int i = 1; i <= 5; i++) {
        snprintf(line, sizeof(line), "line %04d\n", i);
        append(lf, NULL, line);
    }
    ok(commit(lf) == 0, "%s: 5 lines written", name);
    for (int i = 6; i <= 15; i++) {
        snprintf(line, sizeof(line), "line %04d\n", i);
        append(lf, NULL, line);
    }
    set_fsize(75); /* room for 2.5 more lines */
    rc = gw_logfile_commit(lf, err);
    is(rc, -1, "%s: commit fails when the file cannot grow", name);
    is(errno, EFBIG, "%s: errno EFBIG", name);
    ok(strstr(err, "write") && strstr(err, "e.log"), "%s: reason names the step and file: %s", name,
       err);
    got = slurp(at("e.log"), &len);
    ok(got && len % 10 == 0 && len <= 75 && (len == 0 || got[len - 1] == '\n'),
       "%s: no partial line in the file (%zu bytes)", name, len);
    free(got);
    gw_logfile_stats(lf, &st);
    ok(st.errors[GW_LOGFILE_ERR_TOOBIG] >= 1, "%s: error counted as %s", name,
       gw_logfile_err_name(GW_LOGFILE_ERR_TOOBIG));
    ok(st.pending_lines > 0, "%s: failed lines kept (%llu)", name,
       (unsigned long long)st.pending_lines);
    is(gw_logfile_commit(lf, err), -1, "%s: a retry still fails while the limit holds", name);
    ok(gw_logfile_next_tick_ms(lf) >= 0, "%s: a retry is scheduled", name);
    set_fsize(RLIM_INFINITY);
    /* Poll the tick (retry_interval 1 ms) instead of sleeping. */
    rc = 0;
    for (uint64_t end = gw_mono_ms() + 5000; rc == 0 && gw_mono_ms() < end;)
        rc = gw_logfile_tick(lf, err);
    is(rc, 1, "%s: the tick retries and commits once space returns", name);
    lines_into(want, 1, 15);
    ok(file_is(at("e.log"), want), "%s: every line exactly once, in order", name);
    gw_logfile_stats(lf, &st);
    ok(st.lines == 15 && st.pending_lines == 0, "%s: stats: 15 lines, none pending", name);
    gw_logfile_free(lf);
    clean();
}

/* Real ENOSPC, in a child with its own mount namespace and a 64 KiB tmpfs. Returns 0, 77 when
 * no tmpfs can be mounted here, or the number of the failed step. */
static int
enospc_child(const char *dir)
{
    struct gw_logfile_config cfg = {.path = NULL, .fsync = GW_LOGFILE_FSYNC_BATCH};
    struct gw_logfile *lf;
    struct gw_logfile_stats st;
    char path[PATH_MAX], filler[PATH_MAX], line[128], want[30000], fill[4096], err[GW_ERR_LEN];
    char *got;
    int fd;

    if (unshare(CLONE_NEWNS) == -1 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == -1 ||
        mkdir(dir, 0700) == -1 || mount("tmpfs", dir, "tmpfs", 0, "size=64k") == -1)
        return 77;
    snprintf(path, sizeof(path), "%s/full.log", dir);
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    cfg.path = path;
    if ((lf = gw_logfile_new(&cfg, err)) == NULL)
        return 1;
    want[0] = '\0';
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof(line), "%-98d\n", i);
        strcat(want, line);
        gw_logfile_append(lf, NULL, line, 99, err);
        if (i == 4 && gw_logfile_commit(lf, err) == -1)
            return 2;
    }
    /* Fill the rest of the tmpfs. */
    if ((fd = open(filler, O_WRONLY | O_CREAT, 0600)) == -1)
        return 3;
    memset(fill, 'f', sizeof(fill));
    while (write(fd, fill, sizeof(fill)) > 0)
        ;
    close(fd);
    if (gw_logfile_commit(lf, err) != -1 || errno != ENOSPC)
        return 4;
    got = slurp(path, NULL);
    if (!got || strlen(got) != 5 * 99 || strncmp(got, want, 5 * 99) != 0)
        return 5;
    free(got);
    gw_logfile_stats(lf, &st);
    if (st.errors[GW_LOGFILE_ERR_NOSPACE] < 1 || st.pending_lines != 295)
        return 6;
    if (unlink(filler) == -1 || gw_logfile_commit(lf, err) == -1)
        return 7;
    got = slurp(path, NULL);
    if (!got || strcmp(got, want) != 0)
        return 8;
    free(got);
    gw_logfile_free(lf);
    umount(dir);
    return 0;
}

static void
test_enospc(void)
{
    int status = 0;
    pid_t pid;

    fflush(stdout);
    if ((pid = fork()) == 0)
        _exit(enospc_child(at("tmpfs")));
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        ok(1, "ENOSPC on a tmpfs # SKIP cannot mount a tmpfs here (needs root)");
        return;
    }
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "ENOSPC on a 64 KiB tmpfs: commit fails with ENOSPC, the file keeps only its durable "
       "lines, and once space returns every line is written exactly once (step %d)",
       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    clean();
}

static void
test_moved(void)
{
    char path[PATH_MAX];
    struct gw_logfile_config cfg = {.path = strcpy(path, at("m.log")), .rotate_size = 30};
    struct gw_logfile *lf = make(&cfg);
    struct gw_logfile_stats st;
    char names[4][128];

    append(lf, NULL, "first 0123456789..\n");
    commit(lf);
    ok(rename(at("m.log"), at("m.moved")) == 0, "the file is moved without a reopen");
    append(lf, NULL, "second 0123456789.\n");
    ok(commit(lf) == 0, "a write that would rotate the moved file");
    ok(file_is(at("m.moved"), "first 0123456789..\n"), "the moved file is not renamed again");
    ok(file_is(at("m.log"), "second 0123456789.\n"), "a new file at the path instead");
    is(rotated(root, "m.log", names, 4), 0, "no rotated file made");
    gw_logfile_stats(lf, &st);
    is(st.rotations, 0, "not counted as a rotation");
    gw_logfile_free(lf);
    clean();
}

static void
test_ticks(void)
{
    struct gw_logfile_config cfg = {
        .path = at("b.log"), .fsync = GW_LOGFILE_FSYNC_BATCH, .fsync_interval_ms = 20};
    struct gw_logfile *lf = make(&cfg);
    char err[GW_ERR_LEN];
    int64_t wait;
    int rc = 0;

    is(gw_logfile_next_tick_ms(lf), -1, "batch: no tick when nothing is queued");
    is(gw_logfile_tick(lf, err), 0, "batch: a tick with nothing queued does nothing");
    append(lf, NULL, "a\n");
    wait = gw_logfile_next_tick_ms(lf);
    ok(wait >= 0 && wait <= 20, "batch: tick due within fsync_interval (%lld)", (long long)wait);
    for (uint64_t end = gw_mono_ms() + 5000; rc == 0 && gw_mono_ms() < end;)
        rc = gw_logfile_tick(lf, err);
    is(rc, 1, "batch: the tick commits the queued line");
    ok(file_is(at("b.log"), "a\n"), "batch: the line is in the file");
    is(gw_logfile_next_tick_ms(lf), -1, "batch: nothing due after the commit");
    gw_logfile_free(lf);

    cfg.fsync = GW_LOGFILE_FSYNC_ALWAYS;
    lf = make(&cfg);
    append(lf, NULL, "b\n");
    is(gw_logfile_next_tick_ms(lf), 0, "always: queued lines are due at once");
    is(gw_logfile_tick(lf, err), 1, "always: the tick commits");
    gw_logfile_free(lf);
    clean();
}

static void
test_names(void)
{
    enum gw_logfile_fsync p;

    ok(gw_logfile_fsync_parse("always", &p) == 0 && p == GW_LOGFILE_FSYNC_ALWAYS, "parse always");
    ok(gw_logfile_fsync_parse("batch", &p) == 0 && p == GW_LOGFILE_FSYNC_BATCH, "parse batch");
    ok(gw_logfile_fsync_parse("never", &p) == 0 && p == GW_LOGFILE_FSYNC_NEVER, "parse never");
    is(gw_logfile_fsync_parse("sometimes", &p), -1, "unknown policy refused");
    is_str(gw_logfile_err_name(GW_LOGFILE_ERR_NOSPACE), "nospace", "error reason name");
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(root, sizeof(root), "%s/gw-logfile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    umask(022);
    signal(SIGXFSZ, SIG_IGN);
    test_names();
    test_single_file();
    test_template_hostile();
    test_size_rotation();
    test_compression();
    test_time_rotation();
    test_reopen();
    test_torn_tail();
    test_write_failure(GW_LOGFILE_FSYNC_BATCH, "batch");
    test_write_failure(GW_LOGFILE_FSYNC_NEVER, "never");
    test_enospc();
    test_moved();
    test_ticks();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return done_testing();
}
