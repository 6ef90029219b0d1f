/*
 * log.h -- structured logging: logfmt (default) or JSON lines, one write(2) per line.
 *
 *   GW_LOG_INFO("listening", "addr=%s workers=%u", addr, n);
 *   -> ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg="listening" addr=0.0.0.0:9002 workers=2
 *   -> {"ts":"2026-11-23T10:00:00.123Z","level":"info","prog":"hbd","msg":"listening",
 *       "addr":"0.0.0.0:9002","workers":2}                                  (log_format = json)
 *
 * The kv argument is a list of key=value pairs separated by spaces, or NULL when there are none
 * (not "": gcc warns about an empty format). A value is normally one conversion, "n=%d"; it
 * may also be literal text ("by=ctl"), "%%" for '%', or a mix ("addr=%s:%u"), which makes one
 * string. Each conversion is formatted alone: d i u x X o c s f F e E g G a A p, and m
 * (strerror(errno), no argument), with flags, width and precision (also '*') and the length
 * modifiers hh h l ll z j t (L for the floating conversions). %s of NULL prints "(null)".
 * Widths and precisions above 4096 are cut to 4096.
 *
 * logfmt: a value is quoted when it is empty or holds a space, '=', '"', '\', a control
 * character or invalid UTF-8; inside quotes \" \\ \n \r \t are escaped, other control bytes
 * and invalid UTF-8 bytes become \xHH. msg is always quoted. Valid UTF-8 passes through.
 * JSON: strings are escaped per RFC 8259 (\" \\ \b \f \n \r \t, \u00XX for other control
 * characters and DEL); each invalid UTF-8 byte becomes \ufffd. A value made of one d i u f F
 * e E g G conversion whose text is a valid JSON number is emitted as a number; anything else
 * (x X o a A c s p m, literal or mixed values, padded or "%+d" numbers, inf and nan) is a
 * string, so non-finite doubles read "inf", "-inf", "nan".
 *
 * A malformed kv never crashes and never misreads the arguments (gcc checks them against kv
 * as a printf format, and the parser follows them the same way): the well-formed pairs are
 * emitted, text without a key ("oops", "=%d") is dropped with its arguments, an unsupported
 * conversion (%n, %q, %hs, ...) stops the parse there, and the line gets log_error="bad format".
 * So does a key byte that would need quoting (it is written as '_').
 *
 * Lines are built in a GW_LOG_LINE_MAX stack buffer (a call uses about 17 KiB of stack); a
 * longer line is cut at a character boundary (quoted strings stay closed, JSON stays valid)
 * and gets truncated=1.
 *
 * The level check comes first (the macros skip formatting entirely), so debug lines cost one
 * relaxed atomic load when disabled. Thread-safe; the level may change at run time from any
 * thread. errno is preserved.
 *
 * Writing never blocks for long: on a pipe or a terminal the library writes through a private
 * non-blocking description of the same file (opened via /proc/self/fd), on a socket with
 * MSG_DONTWAIT; when the reader stalls, a line waits at most GW_LOG_WRITE_TIMEOUT_MS and later
 * lines are dropped (counted by gw_log_dropped) until one gets through. Write errors are
 * ignored. Programs should ignore SIGPIPE.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>

#include "util.h"

/* Longest line written, newline included. */
#define GW_LOG_LINE_MAX 8192
/* Longest wait for a stalled reader, per line. */
#define GW_LOG_WRITE_TIMEOUT_MS 500

enum gw_log_level { GW_LOG_DEBUG = 0, GW_LOG_INFO, GW_LOG_WARNING, GW_LOG_ERROR };
enum gw_log_format { GW_LOG_LOGFMT = 0, GW_LOG_JSON };

/* Sets the program name (NULL keeps it; up to 63 bytes; by default the executable's name),
 * the format and the output fd (-1 means 2; 2 by default). Call it once at startup, before
 * threads; it may be called again to change the format or the fd, but not the name, while
 * other threads log. Call it again after replacing the fd's file (dup2) or before closing the
 * fd, so the private description of the old file is closed. */
void gw_log_init(const char *prog, enum gw_log_format format, int fd);

/* The level below which lines are skipped (info by default). Any thread, any time. */
void gw_log_set_level(enum gw_log_level level);
enum gw_log_level gw_log_get_level(void);
int gw_log_enabled(enum gw_log_level level);

/* "debug", "info", "warning" (also "warn"), "error", any case -> level; -1 when unknown. */
int gw_log_level_parse(const char *name);
/* The level's name as printed ("warning"); "unknown" when out of range. */
const char *gw_log_level_name(enum gw_log_level level);
/* "logfmt" or "json", any case -> format; -1 when unknown. */
int gw_log_format_parse(const char *name);

/* Writes one line (level check included). kv may be NULL. */
void gw_log_write(enum gw_log_level level, const char *msg, const char *kv, ...) GW_PRINTF(3, 4);
void gw_log_vwrite(enum gw_log_level level, const char *msg, const char *kv, va_list ap);

/* Formats one line into buf (len bytes) without the trailing newline, NUL-terminated, in the
 * current format and program name (for tests and for shipping lines elsewhere). wall_ms is the
 * timestamp. Returns the length written (< len); a len under 64 bytes gives a cut line. No
 * level check. */
size_t gw_log_format_line(char *buf, size_t len, int64_t wall_ms, enum gw_log_level level,
                          const char *msg, const char *kv, va_list ap);

/* Sets a hook that receives every formatted line (without newline, NUL-terminated) after it
 * is written; used to forward logs. NULL removes it; once gw_log_set_hook returns, the old
 * hook is not running and will not be called again. The hook may run in any thread at once,
 * so it must be thread-safe; lines it logs itself are written but not passed back to it. It
 * must not call gw_log_set_hook. */
typedef void (*gw_log_hook_fn)(enum gw_log_level level, const char *line, size_t len, void *arg);
void gw_log_set_hook(gw_log_hook_fn fn, void *arg);

/* Lines dropped because the output stayed full for GW_LOG_WRITE_TIMEOUT_MS. */
uint64_t gw_log_dropped(void);

#define GW_LOG(level, msg, ...)                                                                    \
    do {                                                                                           \
        if (gw_log_enabled(level))                                                                 \
            gw_log_write(level, msg, __VA_ARGS__);                                                 \
    } while (0)
#define GW_LOG_DEBUG(msg, ...) GW_LOG(GW_LOG_DEBUG, msg, __VA_ARGS__)
#define GW_LOG_INFO(msg, ...) GW_LOG(GW_LOG_INFO, msg, __VA_ARGS__)
#define GW_LOG_WARN(msg, ...) GW_LOG(GW_LOG_WARNING, msg, __VA_ARGS__)
#define GW_LOG_ERROR(msg, ...) GW_LOG(GW_LOG_ERROR, msg, __VA_ARGS__)

#endif
