/*
 * logship.c -- log lines to logd's Unix datagram socket as RFC 5424 (see logship.h).
 */
#include "logship.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A datagram holds the header (under 400 bytes) and a whole GW_LOG_LINE_MAX line. */
#define DGRAM_MAX (GW_LOG_LINE_MAX + 512)
#define FACILITY_DAEMON 3

struct gw_logship {
    int fd;
    struct sockaddr_un sa;
    char prog[49];
    char host[256];
    atomic_uint_fast64_t dropped;
};

struct gw_logship *
gw_logship_new(const char *path, const char *prog, char *err)
{
    struct gw_logship *s = calloc(1, sizeof(*s));

    if (!s) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if (strlen(path) >= sizeof(s->sa.sun_path)) {
        free(s);
        gw_err(err, "log socket path too long: %s", path);
        return NULL;
    }
    s->sa.sun_family = AF_UNIX;
    gw_strlcpy(s->sa.sun_path, path, sizeof(s->sa.sun_path));
    gw_strlcpy(s->prog, prog, sizeof(s->prog));
    if (gethostname(s->host, sizeof(s->host)) == -1 || !s->host[0])
        gw_strlcpy(s->host, "-", sizeof(s->host));
    /* RFC 5424 HOSTNAME is printable US-ASCII without spaces. */
    for (char *p = s->host; *p; p++)
        if (*p <= ' ' || *p > '~')
            *p = '_';
    if ((s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
        gw_err_errno(err, "socket");
        free(s);
        return NULL;
    }
    return s;
}

void
gw_logship_free(struct gw_logship *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s);
}

static int
severity_of(enum gw_log_level level)
{
    switch (level) {
    case GW_LOG_DEBUG:
        return 7;
    case GW_LOG_INFO:
        return 6;
    case GW_LOG_WARNING:
        return 4;
    default:
        return 3;
    }
}

void
gw_logship_hook(enum gw_log_level level, const char *line, size_t len, void *arg)
{
    struct gw_logship *s = arg;
    char buf[DGRAM_MAX], ts[40];
    struct timespec now;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(buf, sizeof(buf), "<%d>1 %s.%06ldZ %s %s %d - - ",
                 FACILITY_DAEMON * 8 + severity_of(level), ts, now.tv_nsec / 1000, s->host, s->prog,
                 (int)getpid());
    if (n < 0 || (size_t)n >= sizeof(buf))
        return;
    len = GW_MIN(len, sizeof(buf) - (size_t)n);
    memcpy(buf + n, line, len);
    if (sendto(s->fd, buf, (size_t)n + len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&s->sa,
               sizeof(s->sa)) == -1)
        atomic_fetch_add(&s->dropped, 1);
}

uint64_t
gw_logship_dropped(const struct gw_logship *s)
{
    return atomic_load(&s->dropped);
}
