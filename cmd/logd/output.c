/*
 * output.c -- logd's records into lib/logfile: the config mapping, and the fields a path
 * template picks a file by.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
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
    struct gw_logfile_fields f = {0};

    f.app = logd_rec_field(b, r, LOGD_F_APP, &f.app_len);
    f.host = logd_rec_field(b, r, LOGD_F_HOST, &f.host_len);
    f.facility = r->facility;
    f.severity = r->severity;
    /* The receive time, not the sender's clock: a sender with a wild clock must not make a
     * file per hour of its fancy. */
    f.time_ms = r->recv_ms;
    return gw_logfile_append(lf, &f, line, len, err);
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

/* A crash in the middle of a commit's write can leave the start of a line at the end of the
 * file: it was never acknowledged (a commit acknowledges whole lines once written), and the
 * next line appended after a restart would be glued to it. Cut it off. */
void
logd_output_repair(const char *path)
{
    char buf[65536];
    struct stat st;
    off_t end, cut = -1;
    int fd;

    if (strstr(path, "%{") || (fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
        return;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
        pread(fd, buf, 1, st.st_size - 1) != 1 || buf[0] == '\n') {
        close(fd);
        return;
    }
    for (end = st.st_size; end > 0 && cut < 0;) {
        off_t start = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - start), start);
        if (n <= 0)
            break;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') {
                cut = start + i + 1;
                break;
            }
        end = start;
    }
    if (cut < 0)
        cut = 0;
    if (ftruncate(fd, cut) == 0)
        GW_LOG_WARN("cut an unfinished last line left by a crash", "path=%s bytes=%lld", path,
                    (long long)(st.st_size - cut));
    close(fd);
}
