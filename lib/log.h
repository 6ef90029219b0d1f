/*
 * log.h -- structured logging: logfmt (default) or JSON lines, one write(2) per line.
 *
 *   GW_LOG_INFO("listening", "addr=%s workers=%u", addr, n);
 *   -> ts=2026-11-23T10:00:00.123Z level=info prog=hbd msg="listening" addr=0.0.0.0:9002 workers=2
 *
 * The second argument is a list of key=%conv pairs separated by spaces; each value is
 * formatted with its own conversion (%s %d %i %u %x %c %f %g %e with l, ll, z, j, h modifiers,
 * width and precision) and then quoted as the output format requires: logfmt quotes values
 * holding spaces, '=', quotes or control characters and escapes \" \\ \n \r \t; JSON escapes
 * per RFC 8259, and numeric conversions are emitted as JSON numbers. Literal text between
 * pairs is not allowed; "%%" is not supported. msg is always quoted in logfmt.
 *
 * The level check comes first (the macros skip formatting entirely), so debug lines cost one
 * relaxed atomic load when disabled. Thread-safe; the level may change at run time from any
 * thread. Lines longer than 8 KiB are truncated with "truncated=1".
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>

#include "util.h"

enum gw_log_level { GW_LOG_DEBUG = 0, GW_LOG_INFO, GW_LOG_WARNING, GW_LOG_ERROR };
enum gw_log_format { GW_LOG_LOGFMT = 0, GW_LOG_JSON };

/* Sets the program name, format and output fd (2 by default). Call once at startup, before
 * threads; may be called again to change the format. */
void gw_log_init(const char *prog, enum gw_log_format format, int fd);

void gw_log_set_level(enum gw_log_level level);
enum gw_log_level gw_log_get_level(void);
int gw_log_enabled(enum gw_log_level level);

/* "debug", "info", "warning" (also "warn"), "error" -> level; -1 when unknown. */
int gw_log_level_parse(const char *name);
const char *gw_log_level_name(enum gw_log_level level);
/* "logfmt" or "json" -> format; -1 when unknown. */
int gw_log_format_parse(const char *name);

/* Writes one line (level check included). kv may be NULL or "". */
void gw_log_write(enum gw_log_level level, const char *msg, const char *kv, ...) GW_PRINTF(3, 4);
void gw_log_vwrite(enum gw_log_level level, const char *msg, const char *kv, va_list ap);

/* Formats one line into buf without the trailing newline (for tests and for shipping lines
 * elsewhere). wall_ms is the timestamp. Returns the length written (< len). */
size_t gw_log_format_line(char *buf, size_t len, int64_t wall_ms, enum gw_log_level level,
                          const char *msg, const char *kv, va_list ap);

/* Sets a hook that receives every formatted line (without newline) after it is written; used
 * to forward logs. NULL removes it. The hook must be thread-safe. */
typedef void (*gw_log_hook_fn)(enum gw_log_level level, const char *line, size_t len, void *arg);
void gw_log_set_hook(gw_log_hook_fn fn, void *arg);

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
