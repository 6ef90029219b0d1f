/*
 * util.c -- tests for lib/util.c: error strings, clocks, RFC 3339 times, gw_strlcpy, the edit
 * distance, gw_mkdir_p and the process figures.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

static char tmpdir[] = "/tmp/gwutil.XXXXXX";

static void
test_err(void)
{
    char err[GW_ERR_LEN], longer[400];

    is(gw_err(err, "bad port %d", 70000), -1, "gw_err returns -1");
    is_str(err, "bad port 70000", "gw_err formats the reason");
    is(gw_err(NULL, "ignored %s", "x"), -1, "gw_err with a NULL buffer returns -1");

    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    gw_err(err, "%s", longer);
    is(strlen(err), GW_ERR_LEN - 1, "a long reason is cut to GW_ERR_LEN - 1 bytes");

    errno = ENOENT;
    is(gw_err_errno(err, "open %s", "/nonexistent"), -1, "gw_err_errno returns -1");
    is_str(err, "open /nonexistent: No such file or directory",
           "gw_err_errno appends ': strerror(errno)'");
    is(errno, ENOENT, "gw_err_errno preserves errno");
    errno = EACCES;
    is(gw_err_errno(NULL, "x"), -1, "gw_err_errno with a NULL buffer returns -1");
    is(errno, EACCES, "gw_err_errno with a NULL buffer preserves errno");
    errno = EINVAL;
    gw_err_errno(err, "%s", longer);
    is(strlen(err), GW_ERR_LEN - 1, "gw_err_errno: a long reason is cut, NUL-terminated");
}

static void
test_clocks(void)
{
    uint64_t ms0 = gw_mono_ms(), us0 = gw_mono_us(), ns0 = gw_mono_ns(), prev = ns0;
    int monotonic = 1;
    struct timespec ts;
    int64_t wall;

    for (int i = 0; i < 100000; i++) {
        uint64_t now = gw_mono_ns();
        monotonic &= now >= prev;
        prev = now;
    }
    ok(monotonic, "gw_mono_ns never goes back");
    ok(gw_mono_ms() >= ms0 && gw_mono_us() >= us0, "gw_mono_ms and gw_mono_us never go back");
    ok(prev > ns0, "gw_mono_ns advances over 100000 reads");
    ok(us0 / 1000 >= ms0 && us0 / 1000 - ms0 <= 1000, "gw_mono_us is in microseconds");
    ok(ns0 / 1000 >= us0 && ns0 / 1000 - us0 <= 1000000, "gw_mono_ns is in nanoseconds");

    clock_gettime(CLOCK_REALTIME, &ts);
    wall = gw_wall_ms();
    ok(wall >= (int64_t)ts.tv_sec * 1000 && wall - (int64_t)ts.tv_sec * 1000 < 2000,
       "gw_wall_ms is the wall clock in ms");
}

static void
test_rfc3339(void)
{
    char buf[64], small[10];
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1795428000123LL, "2026-11-23T10:00:00.123Z"},
        {951782400999LL, "2000-02-29T00:00:00.999Z"},
        {1709251199001LL, "2024-02-29T23:59:59.001Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
    };

    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        is_str(gw_time_rfc3339(cases[i].ms, buf, sizeof(buf)), cases[i].text, "rfc3339 of %lld",
               (long long)cases[i].ms);
    ok(gw_time_rfc3339(5, buf, sizeof(buf)) == buf, "gw_time_rfc3339 returns buf");
    gw_time_rfc3339(1795428000123LL, small, sizeof(small));
    is_str(small, "2026-11-2", "a short buffer gets a cut, terminated text");
}

static void
test_strlcpy(void)
{
    char dst[8];

    is(gw_strlcpy(dst, "abc", sizeof(dst)), 3, "strlcpy returns the source length");
    is_str(dst, "abc", "strlcpy copies a short string");
    is(gw_strlcpy(dst, "abcdefghij", sizeof(dst)), 10, "strlcpy truncating returns strlen(src)");
    is_str(dst, "abcdefg", "strlcpy truncates to n - 1 bytes and terminates");
    is(gw_strlcpy(dst, "1234567", sizeof(dst)), 7, "strlcpy of exactly n - 1 bytes");
    is_str(dst, "1234567", "strlcpy of exactly n - 1 bytes fits");
    is(gw_strlcpy(dst, "", sizeof(dst)), 0, "strlcpy of an empty string");
    is_str(dst, "", "strlcpy of an empty string terminates");
    memcpy(dst, "keepme!", 8);
    is(gw_strlcpy(dst, "xyz", 0), 3, "strlcpy with n = 0 returns strlen(src)");
    is_str(dst, "keepme!", "strlcpy with n = 0 writes nothing");
    is(gw_strlcpy(dst, "xyz", 1), 3, "strlcpy with n = 1");
    is_str(dst, "", "strlcpy with n = 1 writes only the NUL");
}

static void
test_edit_distance(void)
{
    char a[70], b[70];
    static const struct {
        const char *a, *b;
        unsigned d;
    } cases[] = {
        {"", "", 0},
        {"listen", "listen", 0},
        {"listn", "listen", 1},
        {"listen", "listn", 1},
        {"workers", "wokers", 1},
        {"hdb", "hbd", 2},
        {"kitten", "sitting", 3},
        {"", "abc", 3},
        {"abc", "", 3},
        {"flaw", "lawn", 2},
        {"abc", "xyz", 3},
        {"Listen", "listen", 1},
    };

    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        is(gw_edit_distance(cases[i].a, cases[i].b), cases[i].d, "edit distance '%s' '%s'",
           cases[i].a, cases[i].b);
    memset(a, 'a', 64);
    a[64] = '\0';
    memcpy(b, a, 65);
    b[63] = 'b';
    is(gw_edit_distance(a, b), 1, "64-byte strings are compared");
    a[64] = 'a';
    a[65] = '\0';
    ok(gw_edit_distance(a, b) >= 1000, "a string over 64 bytes gives a large distance");
    ok(gw_edit_distance(b, a) >= 1000, "either side over 64 bytes gives a large distance");
}

static int
is_dir(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void
test_mkdir_p(void)
{
    char path[256], file[256], want[512], err[GW_ERR_LEN], longpath[5000];
    struct stat sb;
    FILE *f;

    snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
    is(gw_mkdir_p(path, 0700, err), 0, "mkdir_p makes nested directories");
    ok(is_dir(path), "the nested directory exists");
    ok(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0, "mkdir_p applies the mode");
    is(gw_mkdir_p(path, 0700, err), 0, "mkdir_p of an existing directory succeeds");
    snprintf(path, sizeof(path), "%s/a/b/d/", tmpdir);
    is(gw_mkdir_p(path, 0755, err), 0, "mkdir_p with a trailing slash");
    ok(is_dir(path), "the directory with a trailing slash exists");

    snprintf(file, sizeof(file), "%s/f", tmpdir);
    if ((f = fopen(file, "w")) != NULL)
        fclose(f);
    snprintf(path, sizeof(path), "%s/f/x/y", tmpdir);
    is(gw_mkdir_p(path, 0755, err), -1, "mkdir_p with a file in the way fails");
    snprintf(want, sizeof(want), "mkdir %s/f/x: Not a directory", tmpdir);
    is_str(err, want, "the error names the component and the reason");
    is(gw_mkdir_p(file, 0755, err), -1, "mkdir_p of a path that is a file fails");
    snprintf(want, sizeof(want), "mkdir %s: Not a directory", file);
    is_str(err, want, "a file at the path is not a directory");
    unlink(file);

    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    is(gw_mkdir_p(longpath, 0755, err), -1, "mkdir_p of a path over 4 KiB fails");
    ok(strncmp(err, "path too long", 13) == 0, "a path too long is named");

    snprintf(path, sizeof(path), "%s/a/b/d", tmpdir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/a/b", tmpdir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/a", tmpdir);
    rmdir(path);
}

static void
test_process(void)
{
    ok(gw_rss_bytes() > 0, "gw_rss_bytes > 0");
    ok(gw_rss_bytes() % (uint64_t)sysconf(_SC_PAGESIZE) == 0, "gw_rss_bytes counts whole pages");
    ok(gw_ncpus() >= 1, "gw_ncpus >= 1");
}

int
main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot make a temp dir\n");
        return 1;
    }
    test_err();
    test_clocks();
    test_rfc3339();
    test_strlcpy();
    test_edit_distance();
    test_mkdir_p();
    test_process();
    rmdir(tmpdir);
    return done_testing();
}
