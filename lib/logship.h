/*
 * logship.h -- `log_to = logd`: every log line also goes to logd's Unix datagram socket as one
 * RFC 5424 message (facility daemon, the line's level as severity, the program as APP-NAME,
 * the pid as PROCID, the logfmt or JSON line as MSG).
 *
 * Best effort and never blocking: a datagram that cannot be sent now (logd not running, its
 * socket full) is dropped and counted; the line still reaches stderr. The destination is
 * looked up by path at each send, so a restarted logd is found again.
 */
#ifndef GW_LOGSHIP_H
#define GW_LOGSHIP_H

#include <stdint.h>

#include "log.h"

struct gw_logship;

/* A shipper to the datagram socket at path for program prog. NULL with err (path too long,
 * no socket). Any thread. */
struct gw_logship *gw_logship_new(const char *path, const char *prog, char *err);
void gw_logship_free(struct gw_logship *s);

/* The gw_log hook (gw_log_set_hook(gw_logship_hook, s)): thread-safe. */
void gw_logship_hook(enum gw_log_level level, const char *line, size_t len, void *arg);

/* Lines not delivered. Any thread. */
uint64_t gw_logship_dropped(const struct gw_logship *s);

#endif
