/*
 * util.h -- small things every module needs: error strings, clocks, string helpers.
 */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Size of the caller-provided error buffer every library function writes a reason into. */
#define GW_ERR_LEN 256

#define GW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GW_MAX(a, b) ((a) > (b) ? (a) : (b))
#define GW_UNUSED __attribute__((unused))
#define GW_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Writes a formatted reason into err (GW_ERR_LEN bytes) when err is not NULL; returns -1 so
 * callers can write `return gw_err(err, "...")`. Thread-safe. */
int gw_err(char *err, const char *fmt, ...) GW_PRINTF(2, 3);

/* Like gw_err, with ": strerror(errno)" appended. errno is preserved. */
int gw_err_errno(char *err, const char *fmt, ...) GW_PRINTF(2, 3);

/* Monotonic clock in milliseconds, microseconds and nanoseconds. */
uint64_t gw_mono_ms(void);
uint64_t gw_mono_us(void);
uint64_t gw_mono_ns(void);

/* Wall clock in milliseconds since the epoch. */
int64_t gw_wall_ms(void);

/* Formats a wall-clock time (ms since the epoch, negative before 1970) as RFC 3339 UTC with
 * milliseconds, "2026-11-23T10:00:00.123Z", into buf (at least 25 bytes). Returns buf. */
char *gw_time_rfc3339(int64_t wall_ms, char *buf, size_t len);

/* Copies src into dst (size n), always NUL-terminating; returns strlen(src) (truncated if >= n). */
size_t gw_strlcpy(char *dst, const char *src, size_t n);

/* Levenshtein distance, for "did you mean" suggestions. Strings longer than 64 bytes give a
 * large distance. */
unsigned gw_edit_distance(const char *a, const char *b);

/* Number of online CPUs, at least 1. */
unsigned gw_ncpus(void);

/* Creates a directory and its parents with the given mode; 0 if it exists already. -1 with
 * err ("mkdir /a/f/x: Not a directory") when a component cannot be made or the path names
 * something other than a directory. */
int gw_mkdir_p(const char *path, unsigned mode, char *err);

/* Process resident set size in bytes, read from /proc/self/statm; 0 when unknown. */
uint64_t gw_rss_bytes(void);

#endif
