/*
 * output.c -- logd's records into lib/logfile: the config mapping, and the fields a path
 * template picks a file by.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "logd.h"
#include "logfile.h"

struct gw_logfile *
logd_output_open(const struct logd_config *cfg, char *err)
{
    static const enum gw_logfile_fsync policy[] = {
        [LOGD_FSYNC_ALWAYS] = GW_LOGFILE_FSYNC_ALWAYS,
        [LOGD_FSYNC_BATCH] = GW_LOGFILE_FSYNC_BATCH,
        [LOGD_FSYNC_NEVER] = GW_LOGFILE_FSYNC_NEVER,
    };
    struct gw_logfile_config lc = {
        .path = cfg->output,
        .fsync = policy[cfg->fsync],
        .fsync_interval_ms = (unsigned)cfg->fsync_interval_ms,
        .rotate_size = cfg->rotate_bytes,
        .rotate_interval_s = (unsigned)(cfg->rotate_interval_ms / 1000),
        .retention = cfg->retention,
        .compress = cfg->compress,
        /* Room for a whole batch even when escaping makes every byte four. */
        .max_pending_bytes = cfg->batch_bytes * 4 + cfg->max_line_bytes * 4 + 4096,
    };

    return gw_logfile_new(&lc, err);
}

int
logd_output_append(struct gw_logfile *lf, const struct logd_batch *b, const struct logd_rec *r,
                   const char *line, size_t len, char *err)
{
    struct iovec iov = {(void *)line, len};

    return logd_output_appendv(lf, b, r, &iov, 1, err);
}

int
logd_output_appendv(struct gw_logfile *lf, const struct logd_batch *b, const struct logd_rec *r,
                    const struct iovec *iov, int iovcnt, char *err)
{
    struct gw_logfile_fields f = {0};

    f.app = logd_rec_field(b, r, LOGD_F_APP, &f.app_len);
    f.host = logd_rec_field(b, r, LOGD_F_HOST, &f.host_len);
    f.facility = r->facility;
    f.severity = r->severity;
    /* The receive time, not the sender's clock: a sender with a wild clock must not make a
     * file per hour of its fancy. */
    f.time_ms = r->recv_ms;
    return gw_logfile_appendv(lf, &f, iov, iovcnt, err);
}

int
logd_output_changed(const struct logd_config *a, const struct logd_config *b)
{
    return strcmp(a->output, b->output) != 0 || a->fsync != b->fsync ||
           a->fsync_interval_ms != b->fsync_interval_ms || a->rotate_bytes != b->rotate_bytes ||
           a->rotate_interval_ms != b->rotate_interval_ms || a->retention != b->retention ||
           a->compress != b->compress || a->batch_bytes != b->batch_bytes ||
           a->max_line_bytes != b->max_line_bytes;
}

