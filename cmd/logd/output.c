/*
 * output.c -- the output files: a path or a template, one open file per name, lines gathered
 * between commits and written, synced or cut back together.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logd.h"

#define MAX_FILES 256

struct ofile {
    char *path;
    int fd;
    off_t committed; /* size after the last commit: a failed commit is cut back to it */
    char *buf;       /* lines appended since the last commit */
    size_t len, cap;
    uint64_t used_ms; /* last append, to close the least recently used */
};

struct logd_output {
    char *tmpl;
    int is_template;
    struct ofile files[MAX_FILES];
    unsigned nfiles;
    atomic_uint_fast64_t disk_bytes;
    atomic_uint nopen;
};

static void
sanitise(char *dst, size_t *off, size_t len, const char *v, size_t vlen)
{
    if (vlen == 0) {
        v = "unknown";
        vlen = 7;
    }
    for (size_t i = 0; i < vlen && i < 128 && *off + 1 < len; i++) {
        char c = v[i];
        int okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && i > 0);
        dst[(*off)++] = okc ? c : '_';
    }
}

static int
field_of(const char *name, size_t n)
{
    for (int f = 0; f < LOGD_NFIELDS; f++)
        if (strlen(logd_field_names[f]) == n && memcmp(logd_field_names[f], name, n) == 0)
            return f;
    return -1;
}

int
logd_output_path(const char *tmpl, const struct logd_batch *b, const struct logd_rec *r, char *buf,
                 size_t len)
{
    size_t off = 0;

    for (const char *p = tmpl; *p; p++) {
        const char *end;
        if (p[0] == '%' && p[1] == '{' && (end = strchr(p + 2, '}')) != NULL) {
            const char *name = p + 2, *v = "";
            size_t n = (size_t)(end - name), vlen = 0;
            char tmp[32];
            int f = field_of(name, n);
            if (f >= 0 && f != LOGD_F_MSG && f != LOGD_F_RAW && f != LOGD_F_SD) {
                v = logd_rec_field(b, r, f, &vlen);
            } else if (n == 5 && memcmp(name, "input", 5) == 0) {
                v = logd_input_names[r->input];
                vlen = strlen(v);
            } else if (n == 8 && memcmp(name, "facility", 8) == 0) {
                v = logd_facility_name(r->facility);
                vlen = strlen(v);
            } else if (n == 8 && memcmp(name, "severity", 8) == 0) {
                v = logd_severity_name(r->severity);
                vlen = strlen(v);
            } else if (n == 4 && memcmp(name, "date", 4) == 0) {
                time_t t = (time_t)(r->recv_ms / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                vlen = strftime(tmp, sizeof(tmp), "%Y-%m-%d", &tm);
                v = tmp;
            }
            sanitise(buf, &off, len, v, vlen);
            p = end;
            continue;
        }
        if (off + 1 >= len)
            return -1;
        buf[off++] = *p;
    }
    if (off >= len)
        return -1;
    buf[off] = '\0';
    return (int)off;
}

struct logd_output *
logd_output_open(const struct logd_config *cfg, char *err)
{
    struct logd_output *o = calloc(1, sizeof(*o));

    if (!o || (o->tmpl = strdup(cfg->output)) == NULL) {
        free(o);
        gw_err(err, "out of memory");
        return NULL;
    }
    o->is_template = strstr(cfg->output, "%{") != NULL;
    return o;
}

static void
close_file(struct logd_output *o, struct ofile *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        atomic_fetch_sub(&o->nopen, 1);
    }
    free(f->path);
    free(f->buf);
    *f = o->files[--o->nfiles];
    memset(&o->files[o->nfiles], 0, sizeof(o->files[0]));
}

static int
open_fd(struct ofile *f, char *err)
{
    char dir[4096], *slash;
    struct stat st;

    gw_strlcpy(dir, f->path, sizeof(dir));
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (gw_mkdir_p(dir, 0755, err) == -1)
            return -1;
    }
    f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (f->fd < 0)
        return gw_err_errno(err, "open %s", f->path);
    if (fstat(f->fd, &st) == 0)
        f->committed = st.st_size;
    return 0;
}

static struct ofile *
get_file(struct logd_output *o, const char *path, char *err)
{
    struct ofile *f;

    for (unsigned i = 0; i < o->nfiles; i++)
        if (strcmp(o->files[i].path, path) == 0)
            return &o->files[i];
    if (o->nfiles == MAX_FILES) {
        /* Close the least recently used file that has nothing pending. */
        unsigned victim = MAX_FILES;
        for (unsigned i = 0; i < o->nfiles; i++)
            if (o->files[i].len == 0 &&
                (victim == MAX_FILES || o->files[i].used_ms < o->files[victim].used_ms))
                victim = i;
        if (victim == MAX_FILES) {
            gw_err(err, "more than %d files in one commit", MAX_FILES);
            return NULL;
        }
        close_file(o, &o->files[victim]);
    }
    f = &o->files[o->nfiles];
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if ((f->path = strdup(path)) == NULL) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if (open_fd(f, err) == -1) {
        free(f->path);
        f->path = NULL;
        return NULL;
    }
    atomic_fetch_add(&o->nopen, 1);
    o->nfiles++;
    return f;
}

int
logd_output_append(struct logd_output *o, const struct logd_batch *b, const struct logd_rec *r,
                   const char *line, size_t len, char *err)
{
    char path[4096];
    struct ofile *f;

    if (o->is_template) {
        if (logd_output_path(o->tmpl, b, r, path, sizeof(path)) < 0)
            return gw_err(err, "output path too long");
    } else {
        gw_strlcpy(path, o->tmpl, sizeof(path));
    }
    if ((f = get_file(o, path, err)) == NULL)
        return -1;
    if (f->len + len > f->cap) {
        size_t n = f->cap ? f->cap : 65536;
        char *p;
        while (n < f->len + len)
            n *= 2;
        if ((p = realloc(f->buf, n)) == NULL)
            return gw_err(err, "out of memory");
        f->buf = p;
        f->cap = n;
    }
    memcpy(f->buf + f->len, line, len);
    f->len += len;
    f->used_ms = gw_mono_ms();
    return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
logd_output_commit(struct logd_output *o, int sync, struct logd_output_result *res, char *err)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < o->nfiles; i++) {
        struct ofile *f = &o->files[i];
        if (!f->len)
            continue;
        if (f->fd < 0 && open_fd(f, err) == -1)
            return -1;
        if (write_all(f->fd, f->buf, f->len) == -1) {
            res->enospc = errno == ENOSPC || errno == EDQUOT;
            return gw_err_errno(err, "write %s", f->path);
        }
        if (sync) {
            if (fdatasync(f->fd) == -1) {
                res->enospc = errno == ENOSPC || errno == EDQUOT;
                return gw_err_errno(err, "fsync %s", f->path);
            }
            res->fsyncs++;
        }
    }
    for (unsigned i = 0; i < o->nfiles; i++) {
        struct ofile *f = &o->files[i];
        f->committed += (off_t)f->len;
        f->len = 0;
        total += (uint64_t)f->committed;
    }
    atomic_store(&o->disk_bytes, total);
    return 0;
}

void
logd_output_rollback(struct logd_output *o)
{
    for (unsigned i = 0; i < o->nfiles; i++) {
        struct ofile *f = &o->files[i];
        /* A write that got part of the way leaves bytes past the commit point. */
        if (f->fd >= 0 && ftruncate(f->fd, f->committed) == -1) {
            close(f->fd);
            f->fd = -1;
            atomic_fetch_sub(&o->nopen, 1);
        }
        f->len = 0;
    }
}

int
logd_output_reopen(struct logd_output *o, const struct logd_config *cfg, char *err)
{
    char *t = strdup(cfg->output);

    if (!t)
        return gw_err(err, "out of memory");
    while (o->nfiles)
        close_file(o, &o->files[o->nfiles - 1]);
    free(o->tmpl);
    o->tmpl = t;
    o->is_template = strstr(t, "%{") != NULL;
    return 0;
}

void
logd_output_stats(struct logd_output *o, uint64_t *disk_bytes, unsigned *files_open)
{
    *disk_bytes = atomic_load(&o->disk_bytes);
    *files_open = atomic_load(&o->nopen);
}

void
logd_output_close(struct logd_output *o)
{
    if (!o)
        return;
    while (o->nfiles)
        close_file(o, &o->files[o->nfiles - 1]);
    free(o->tmpl);
    free(o);
}
