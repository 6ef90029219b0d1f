/*
 * util.c -- error strings, clocks and string helpers shared by every module.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
gw_err(char *err, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err, GW_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int
gw_err_errno(char *err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    size_t n;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err, GW_ERR_LEN, fmt, ap);
        va_end(ap);
        n = strlen(err);
        snprintf(err + n, GW_ERR_LEN - n, ": %s", strerror(saved));
    }
    errno = saved;
    return -1;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
gw_mono_ns(void)
{
    return mono_ns();
}

uint64_t
gw_mono_us(void)
{
    return mono_ns() / 1000;
}

uint64_t
gw_mono_ms(void)
{
    return mono_ns() / 1000000;
}

int64_t
gw_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
gw_time_rfc3339(int64_t wall_ms, char *buf, size_t len)
{
    /* Floor division: a time before 1970 has a positive millisecond part too. */
    int64_t ms = wall_ms % 1000;
    time_t secs = (time_t)(wall_ms / 1000 - (ms < 0));
    struct tm tm;

    ms += ms < 0 ? 1000 : 0;
    memset(&tm, 0, sizeof(tm));
    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
    return buf;
}

size_t
gw_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);

    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return len;
}

unsigned
gw_edit_distance(const char *a, const char *b)
{
    unsigned row[65], i, j, la = strlen(a), lb = strlen(b);

    if (la > 64 || lb > 64)
        return 1000;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

unsigned
gw_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (unsigned)n : 1;
}

int
gw_mkdir_p(const char *path, unsigned mode, char *err)
{
    char tmp[4096];
    size_t len = gw_strlcpy(tmp, path, sizeof(tmp));

    if (len >= sizeof(tmp))
        return gw_err(err, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) == -1 && errno != EEXIST)
            return gw_err_errno(err, "mkdir %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) == -1) {
        struct stat sb;
        if (errno != EEXIST)
            return gw_err_errno(err, "mkdir %s", tmp);
        /* Something is there already: fine only when it is a directory. */
        if (stat(tmp, &sb) == -1)
            return gw_err_errno(err, "stat %s", tmp);
        if (!S_ISDIR(sb.st_mode)) {
            errno = ENOTDIR;
            return gw_err_errno(err, "mkdir %s", tmp);
        }
    }
    return 0;
}

uint64_t
gw_rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}
