/*
 * logfile.c -- durable file output: path templates, batched writes with an fsync policy,
 * rollback of torn or unsynced writes, rotation, and the zstd compressor thread.
 *
 * Each file queues its lines in one contiguous buffer (append copies them: the caller's
 * memory does not live until the commit), so a commit is one write(2) per file, or a few when
 * rotation cuts the batch; writev would only add an iovec per line.
 */
#include "logfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

/* Room a rotated name adds to a path: ".20261206T030000Z-999.zst.tmp" and some. */
#define SUFFIX_MAX 40
/* Closed files without queued lines remembered (their size counts in bytes_on_disk). */
#define IDLE_MAX 1024
/* Compressor jobs queued; past it a job is dropped, and the next rotation of that path (or
 * its first use after a restart) scans the directory again and does the work. */
#define JOBS_MAX 256
/* A failed rename is not tried again for this long; the file grows meanwhile. */
#define ROTATE_HOLD_MS 10000
#define ROTATED_TS_LEN 16 /* 20261206T030000Z */

enum seg_kind { SEG_LIT, SEG_APP, SEG_HOST, SEG_FACILITY, SEG_SEVERITY, SEG_DATE, SEG_HOUR };

static const char *const seg_names[] = {
    [SEG_APP] = "app",           [SEG_HOST] = "host", [SEG_FACILITY] = "facility",
    [SEG_SEVERITY] = "severity", [SEG_DATE] = "date", [SEG_HOUR] = "hour",
};

struct seg {
    enum seg_kind kind;
    const char *text; /* SEG_LIT: into gw_logfile.tmpl */
    size_t len;
};

enum { ON_NONE, ON_OPEN, ON_IDLE };

/*
 * One current file. Its buffer holds [0, written) written but not yet durable (only inside
 * flush_file: every other time written == 0) and [written, len) queued. size is what the
 * file holds as far as we know; synced_size the size at its last durable point, where a
 * failure rolls it back to.
 */
struct lf_file {
    struct lf_file *hnext;
    struct lf_file *prev, *next; /* open or idle list */
    struct lf_file *dirty_next;
    int on, on_dirty;
    int fd;
    int scanned;       /* leftovers of earlier runs queued for the compressor */
    int dir_unsynced;  /* created; its directory entry is not durable yet */
    int trunc_pending; /* a rollback could not truncate: do it at the next open */
    int tail_checked;  /* its end was checked for a torn line at its first open */
    uint64_t trunc_to;
    dev_t dev;
    ino_t ino;
    uint64_t hash;
    uint64_t size, synced_size;
    int64_t period;
    uint64_t rotate_hold_until; /* mono ms */
    char *buf;
    size_t len, cap, written;
    size_t lines;  /* lines in buf[0..len) */
    size_t wlines; /* of them, in buf[0..written) */
    char path[];
};

struct lf_list {
    struct lf_file *head, *tail;
    size_t n;
};

struct lf_job {
    char dir[PATH_MAX];
    char base[NAME_MAX + 1];
};

struct lf_compressor {
    pthread_mutex_t mu;
    pthread_cond_t cv, idle_cv;
    pthread_t thread;
    int started;
    struct lf_job *jobs; /* ring of JOBS_MAX */
    unsigned head, count;
    int busy;
    atomic_int stop;
    int compress, level;
    unsigned retention;
    atomic_uint_fast64_t compressed, removed, errors[GW_LOGFILE_ERR_COUNT];
};

struct gw_logfile {
    struct gw_logfile_config cfg;
    char *tmpl;
    struct seg *segs;
    size_t nsegs, prefix_len;
    struct lf_file **buckets;
    size_t nbuckets, nfiles;
    struct lf_list open, idle;
    struct lf_file *dirty_head, *dirty_tail;
    /* A template without fields names one file: found once, not rendered and looked up for
     * every line. */
    int one_path;
    struct lf_file *one_file;
    size_t pending_bytes;
    uint64_t pending_lines;
    uint64_t oldest_pending_ms; /* mono; when pending went from 0 to more */
    int failed;
    uint64_t retry_at_ms;
    int64_t now_wall; /* read once per commit or tick */
    struct gw_logfile_stats st;
    struct lf_compressor cz;
};

static const char *const facility_names[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};
static const char *const severity_names[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
static const char *const err_names[] = {"nospace", "io", "readonly", "toobig", "access", "other"};

static enum gw_logfile_err
err_reason(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return GW_LOGFILE_ERR_NOSPACE;
    case EIO:
        return GW_LOGFILE_ERR_IO;
    case EROFS:
        return GW_LOGFILE_ERR_READONLY;
    case EFBIG:
        return GW_LOGFILE_ERR_TOOBIG;
    case EACCES:
    case EPERM:
        return GW_LOGFILE_ERR_ACCESS;
    default:
        return GW_LOGFILE_ERR_OTHER;
    }
}

const char *
gw_logfile_err_name(enum gw_logfile_err e)
{
    return (unsigned)e < GW_LOGFILE_ERR_COUNT ? err_names[e] : "other";
}

int
gw_logfile_fsync_parse(const char *s, enum gw_logfile_fsync *out)
{
    static const char *const names[] = {"never", "batch", "always"};

    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum gw_logfile_fsync)i;
            return 0;
        }
    }
    return -1;
}

/* Counts the failure and formats err; errno is preserved. */
static int
fail(struct gw_logfile *lf, char *err, const char *what, const char *path)
{
    int e = errno;

    lf->st.errors[err_reason(e)]++;
    gw_err_errno(err, "%s %s", what, path);
    errno = e;
    return -1;
}

/* ---- templates ---- */

static int
is_safe_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

size_t
gw_logfile_sanitize(const char *in, size_t len, char *out)
{
    size_t n = 0;

    if (in == NULL || len == 0) {
        memcpy(out, "unknown", 8);
        return 7;
    }
    for (size_t i = 0; i < len && n < GW_LOGFILE_FIELD_MAX; i++) {
        char c = is_safe_byte((unsigned char)in[i]) ? in[i] : '_';
        /* A leading '.' would allow ".", ".." and hidden files; "a..b" is harmless inside a
         * name but refused anyway so that no ".." ever appears. */
        if (c == '.' && (n == 0 || out[n - 1] == '.'))
            c = '_';
        out[n++] = c;
    }
    /* Nor a trailing one: next to a template's ".log" it would make "..". */
    if (out[n - 1] == '.')
        out[n - 1] = '_';
    out[n] = '\0';
    return n;
}

static int
field_kind(const char *name, size_t len)
{
    for (size_t k = SEG_APP; k < GW_ARRAY_LEN(seg_names); k++) {
        if (strlen(seg_names[k]) == len && memcmp(seg_names[k], name, len) == 0)
            return (int)k;
    }
    return -1;
}

static int
add_seg(struct gw_logfile *lf, enum seg_kind kind, const char *text, size_t len)
{
    struct seg *s;

    if (kind == SEG_LIT && len == 0)
        return 0;
    s = realloc(lf->segs, (lf->nsegs + 1) * sizeof(*s));
    if (!s)
        return -1;
    lf->segs = s;
    s[lf->nsegs++] = (struct seg){kind, text, len};
    return 0;
}

/* The part of the template after the fixed prefix: each component non-empty, never "." or
 * "..", and short enough with fields at their longest; the file name ends in fixed text that
 * no rotated name ends in. */
static int
check_rest(const struct gw_logfile *lf, const char *rest, size_t nfields, char *err)
{
    size_t comp_max = 0, total = lf->prefix_len;
    const char *p = rest, *last_field_end = NULL;

    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return gw_err(err, "%s: empty path component", lf->tmpl);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return gw_err(err, "%s: \".\" or \"..\" after the fixed prefix", lf->tmpl);
        comp_max = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '%' && p[i + 1] == '{') {
                const char *close = memchr(p + i, '}', len - i);
                comp_max += GW_LOGFILE_FIELD_MAX;
                i = (size_t)(close - p);
                last_field_end = p + i + 1;
            } else {
                comp_max++;
            }
        }
        total += comp_max + 1;
        if (comp_max + SUFFIX_MAX > NAME_MAX)
            return gw_err(err, "%s: a rendered path component could pass %d bytes", lf->tmpl,
                          NAME_MAX);
        if (!end)
            break;
        p = end + 1;
    }
    if (total + SUFFIX_MAX >= PATH_MAX)
        return gw_err(err, "%s: a rendered path could pass %d bytes", lf->tmpl, PATH_MAX);
    if (nfields && last_field_end && !strchr(last_field_end, '/')) {
        size_t n = strlen(last_field_end);
        char c = n ? last_field_end[n - 1] : '\0';
        if (n == 0 || (c >= '0' && c <= '9') || c == 'Z' ||
            (n >= 4 && (strcmp(last_field_end + n - 4, ".zst") == 0 ||
                        strcmp(last_field_end + n - 4, ".tmp") == 0)))
            return gw_err(err,
                          "%s: the file name must end in fixed text after its last field "
                          "(like %%{app}.log) that does not end in a digit, 'Z', .zst or .tmp",
                          lf->tmpl);
    }
    return 0;
}

static int
parse_template(struct gw_logfile *lf, char *err)
{
    const char *t = lf->tmpl, *lit = t, *first = strstr(t, "%{"), *slash;
    size_t nfields = 0;

    if (*t == '\0' || t[strlen(t) - 1] == '/')
        return gw_err(err, "%s: no file name", *t ? t : "output path");
    /* The fixed prefix ends at the last '/' before the first field: values never reach it. */
    for (slash = first ? first : t + strlen(t); slash > t && slash[-1] != '/'; slash--)
        ;
    lf->prefix_len = (size_t)(slash - t);
    for (const char *p = t; *p; p++) {
        if (p[0] != '%' || p[1] != '{')
            continue;
        const char *close = strchr(p, '}');
        int kind = close ? field_kind(p + 2, (size_t)(close - p - 2)) : -1;
        if (!close)
            return gw_err(err, "%s: unterminated %%{", t);
        if (kind < 0)
            return gw_err(err, "%s: unknown field %%{%.*s}", t, (int)(close - p - 2), p + 2);
        if (add_seg(lf, SEG_LIT, lit, (size_t)(p - lit)) == -1 ||
            add_seg(lf, (enum seg_kind)kind, NULL, 0) == -1)
            return gw_err(err, "out of memory");
        nfields++;
        p = close;
        lit = close + 1;
    }
    if (add_seg(lf, SEG_LIT, lit, strlen(lit)) == -1)
        return gw_err(err, "out of memory");
    return check_rest(lf, t + lf->prefix_len, nfields, err);
}

/* UTC date or hour of ms; "unknown" outside years 1970..9999. */
static size_t
render_time(int64_t ms, int hour, char *out)
{
    struct tm tm;
    time_t s = (time_t)(ms / 1000);

    if (ms < 0 || ms > 253402300799999LL || !gmtime_r(&s, &tm))
        return gw_logfile_sanitize(NULL, 0, out);
    if (hour)
        return (size_t)snprintf(out, GW_LOGFILE_FIELD_MAX + 1, "%02d", tm.tm_hour);
    return (size_t)snprintf(out, GW_LOGFILE_FIELD_MAX + 1, "%04d-%02d-%02d", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday);
}

static size_t
render_code(int v, const char *const *names, int n, char *out)
{
    char num[16];

    if (v < 0)
        return gw_logfile_sanitize(NULL, 0, out);
    if (v < n)
        return gw_logfile_sanitize(names[v], strlen(names[v]), out);
    snprintf(num, sizeof(num), "%d", v);
    return gw_logfile_sanitize(num, strlen(num), out);
}

static size_t
render_field(const struct seg *s, const struct gw_logfile_fields *f, char *out)
{
    switch (s->kind) {
    case SEG_APP:
        return gw_logfile_sanitize(f ? f->app : NULL, f ? f->app_len : 0, out);
    case SEG_HOST:
        return gw_logfile_sanitize(f ? f->host : NULL, f ? f->host_len : 0, out);
    case SEG_FACILITY:
        return render_code(f ? f->facility : -1, facility_names, 24, out);
    case SEG_SEVERITY:
        return render_code(f ? f->severity : -1, severity_names, 8, out);
    case SEG_DATE:
        return render_time(f ? f->time_ms : -1, 0, out);
    case SEG_HOUR:
        return render_time(f ? f->time_ms : -1, 1, out);
    default:
        return 0;
    }
}

int
gw_logfile_path(const struct gw_logfile *lf, const struct gw_logfile_fields *f, char *out,
                size_t size, char *err)
{
    char val[GW_LOGFILE_FIELD_MAX + 1];
    size_t n = 0;

    for (size_t i = 0; i < lf->nsegs; i++) {
        const struct seg *s = &lf->segs[i];
        const char *p = s->text;
        size_t len = s->len;
        if (s->kind != SEG_LIT) {
            len = render_field(s, f, val);
            p = val;
        }
        if (n + len >= size)
            return gw_err(err, "%s: rendered path too long", lf->tmpl);
        memcpy(out + n, p, len);
        n += len;
    }
    if (n >= size)
        return gw_err(err, "%s: rendered path too long", lf->tmpl);
    out[n] = '\0';
    return 0;
}

/* ---- lists and the file table ---- */

static void
list_remove(struct lf_list *l, struct lf_file *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
    l->n--;
}

static void
list_push(struct lf_list *l, struct lf_file *f)
{
    f->prev = NULL;
    f->next = l->head;
    if (l->head)
        l->head->prev = f;
    else
        l->tail = f;
    l->head = f;
    l->n++;
}

static void
unlist(struct gw_logfile *lf, struct lf_file *f)
{
    if (f->on == ON_OPEN)
        list_remove(&lf->open, f);
    else if (f->on == ON_IDLE)
        list_remove(&lf->idle, f);
    f->on = ON_NONE;
}

static uint64_t
hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static void
table_remove(struct gw_logfile *lf, struct lf_file *f)
{
    struct lf_file **pp = &lf->buckets[f->hash & (lf->nbuckets - 1)];

    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    lf->nfiles--;
}

static void
free_file(struct gw_logfile *lf, struct lf_file *f)
{
    unlist(lf, f);
    table_remove(lf, f);
    if (lf->one_file == f)
        lf->one_file = NULL;
    lf->st.bytes_on_disk -= GW_MIN(lf->st.bytes_on_disk, f->size);
    free(f->buf);
    free(f);
}

/* A closed file with nothing queued joins the idle list; past IDLE_MAX the oldest idle one is
 * forgotten, so hostile template values cannot grow the table without bound. */
static void
park(struct gw_logfile *lf, struct lf_file *f)
{
    if (f->fd >= 0 || f->len > 0 || f->on_dirty || f->on != ON_NONE)
        return;
    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    list_push(&lf->idle, f);
    f->on = ON_IDLE;
    while (lf->idle.n > IDLE_MAX)
        free_file(lf, lf->idle.tail);
}

static void
close_file(struct gw_logfile *lf, struct lf_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    unlist(lf, f);
    park(lf, f);
}

static int
table_grow(struct gw_logfile *lf)
{
    size_t n = lf->nbuckets * 2;
    struct lf_file **b = calloc(n, sizeof(*b));

    if (!b)
        return -1;
    for (size_t i = 0; i < lf->nbuckets; i++) {
        struct lf_file *f = lf->buckets[i], *next;
        for (; f; f = next) {
            next = f->hnext;
            f->hnext = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
        }
    }
    free(lf->buckets);
    lf->buckets = b;
    lf->nbuckets = n;
    return 0;
}

static struct lf_file *
lookup(struct gw_logfile *lf, const char *path)
{
    uint64_t h = hash_path(path);
    size_t len = strlen(path);
    struct lf_file *f;

    for (f = lf->buckets[h & (lf->nbuckets - 1)]; f; f = f->hnext) {
        if (f->hash == h && strcmp(f->path, path) == 0)
            return f;
    }
    if (lf->nfiles >= lf->nbuckets * 2 && table_grow(lf) == -1)
        return NULL;
    if ((f = calloc(1, sizeof(*f) + len + 1)) == NULL)
        return NULL;
    memcpy(f->path, path, len + 1);
    f->hash = h;
    f->fd = -1;
    f->hnext = lf->buckets[h & (lf->nbuckets - 1)];
    lf->buckets[h & (lf->nbuckets - 1)] = f;
    lf->nfiles++;
    return f;
}

/* ---- the compressor thread ---- */

enum { ROT_PLAIN = 1, ROT_ZST = 2, ROT_TMP = 4 };

struct rotated {
    char ts[ROTATED_TS_LEN + 1];
    unsigned seq;
    int have;
};

/* Recognises base.YYYYMMDDTHHMMSSZ[-N][.zst[.tmp]]; 0 for any other name. */
static int
parse_rotated(const char *base, const char *name, struct rotated *r)
{
    size_t blen = strlen(base);
    const char *p = name + blen + 1;

    if (strncmp(name, base, blen) != 0 || name[blen] != '.')
        return 0;
    for (int i = 0; i < ROTATED_TS_LEN; i++) {
        char c = p[i];
        int ok = i == 8 ? c == 'T' : i == 15 ? c == 'Z' : (c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    memcpy(r->ts, p, ROTATED_TS_LEN);
    r->ts[ROTATED_TS_LEN] = '\0';
    p += ROTATED_TS_LEN;
    r->seq = 0;
    if (*p == '-') {
        char *end;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || end - p > 5 || p[1] == '0' || v == 0)
            return 0;
        r->seq = (unsigned)v;
        p = end;
    }
    if (*p == '\0')
        return ROT_PLAIN;
    if (strcmp(p, ".zst") == 0)
        return ROT_ZST;
    if (strcmp(p, ".zst.tmp") == 0)
        return ROT_TMP;
    return 0;
}

static void
rotated_name(const char *base, const struct rotated *r, int kind, char *out, size_t size)
{
    char seq[16] = "";

    if (r->seq)
        snprintf(seq, sizeof(seq), "-%u", r->seq);
    snprintf(out, size, "%s.%s%s%s", base, r->ts, seq,
             kind == ROT_ZST   ? ".zst"
             : kind == ROT_TMP ? ".zst.tmp"
                               : "");
}

static int
rotated_newest_first(const void *a, const void *b)
{
    const struct rotated *x = a, *y = b;
    int c = strcmp(y->ts, x->ts);

    return c ? c : (y->seq > x->seq) - (y->seq < x->seq);
}

static void
cz_error(struct lf_compressor *cz)
{
    atomic_fetch_add(&cz->errors[err_reason(errno)], 1);
}

static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Streams in into out; -1 on an error or when asked to stop. */
static int
zstd_stream(struct lf_compressor *cz, ZSTD_CCtx *cc, int in, int out)
{
    size_t in_size = ZSTD_CStreamInSize(), out_size = ZSTD_CStreamOutSize();
    char *ibuf = malloc(in_size), *obuf = malloc(out_size);
    int rc = -1;

    if (!ibuf || !obuf)
        goto done;
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_only);
    for (;;) {
        ssize_t r = read(in, ibuf, in_size);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || atomic_load(&cz->stop))
            goto done;
        ZSTD_EndDirective mode = r == 0 ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer ib = {ibuf, (size_t)r, 0};
        int finished;
        do {
            ZSTD_outBuffer ob = {obuf, out_size, 0};
            size_t left = ZSTD_compressStream2(cc, &ob, &ib, mode);
            if (ZSTD_isError(left)) {
                errno = EINVAL;
                goto done;
            }
            if (write_all(out, obuf, ob.pos) == -1)
                goto done;
            finished = mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size;
        } while (!finished);
        if (r == 0)
            break;
    }
    rc = 0;
done:
    free(ibuf);
    free(obuf);
    return rc;
}

/* name -> name.zst through name.zst.tmp; the original goes only once the copy is durable. */
static void
compress_one(struct lf_compressor *cz, ZSTD_CCtx *cc, int dfd, const char *name)
{
    char tmp[NAME_MAX + 16 + 8], zst[NAME_MAX + 16 + 8];
    struct stat sb;
    int in, out = -1;

    snprintf(tmp, sizeof(tmp), "%s.zst.tmp", name);
    snprintf(zst, sizeof(zst), "%s.zst", name);
    if ((in = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 || fstat(in, &sb) == -1)
        goto fail;
    out =
        openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, sb.st_mode & 0777);
    if (out == -1 || zstd_stream(cz, cc, in, out) == -1 || fsync(out) == -1)
        goto fail;
    close(out);
    out = -1;
    if (renameat(dfd, tmp, dfd, zst) == -1 || fsync(dfd) == -1)
        goto fail;
    close(in);
    unlinkat(dfd, name, 0);
    atomic_fetch_add(&cz->compressed, 1);
    return;
fail:
    if (!atomic_load(&cz->stop))
        cz_error(cz);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    unlinkat(dfd, tmp, 0);
}

static int
collect_rotated(DIR *d, const char *base, struct rotated **out, size_t *count)
{
    struct rotated *v = NULL, r;
    size_t n = 0, cap = 0;
    struct dirent *de;

    while ((de = readdir(d)) != NULL) {
        int kind = parse_rotated(base, de->d_name, &r);
        size_t i;
        if (kind == 0)
            continue;
        if (kind == ROT_TMP) {
            /* Only this thread writes .tmp files, one at a time: any found is a leftover. */
            unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        for (i = 0; i < n && (strcmp(v[i].ts, r.ts) != 0 || v[i].seq != r.seq); i++)
            ;
        if (i == n) {
            if (n == cap) {
                struct rotated *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
                if (!nv) {
                    free(v);
                    return -1;
                }
                v = nv;
                cap = cap ? cap * 2 : 16;
            }
            v[n] = r;
            v[n++].have = 0;
        }
        v[i].have |= kind;
    }
    *out = v;
    *count = n;
    return 0;
}

/* Retention, leftovers of a crash, then compression, for one path's rotated files. */
static void
process_job(struct lf_compressor *cz, ZSTD_CCtx *cc, const struct lf_job *j)
{
    DIR *d = opendir(j->dir);
    struct rotated *v = NULL;
    size_t n = 0;
    char name[NAME_MAX + 16];

    if (!d) {
        cz_error(cz);
        return;
    }
    if (collect_rotated(d, j->base, &v, &n) == -1) {
        cz_error(cz);
        closedir(d);
        return;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), rotated_newest_first);
    for (size_t i = 0; i < n && !atomic_load(&cz->stop); i++) {
        if (cz->retention && i >= cz->retention) {
            for (int kind = ROT_PLAIN; kind <= ROT_ZST; kind <<= 1) {
                rotated_name(j->base, &v[i], kind, name, sizeof(name));
                if ((v[i].have & kind) && unlinkat(dirfd(d), name, 0) == -1 && errno != ENOENT)
                    cz_error(cz);
            }
            atomic_fetch_add(&cz->removed, 1);
            continue;
        }
        rotated_name(j->base, &v[i], ROT_PLAIN, name, sizeof(name));
        /* Both forms: the .zst was renamed into place only once complete and durable. */
        if (v[i].have == (ROT_PLAIN | ROT_ZST))
            unlinkat(dirfd(d), name, 0);
        else if (v[i].have == ROT_PLAIN && cz->compress)
            compress_one(cz, cc, dirfd(d), name);
    }
    free(v);
    closedir(d);
}

static void *
compressor_main(void *arg)
{
    struct lf_compressor *cz = arg;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    struct lf_job job;

    /* Compression must not steal CPU from the writer and the network threads. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    if (cc) {
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, cz->level);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    }
    pthread_mutex_lock(&cz->mu);
    for (;;) {
        while (cz->count == 0 && !atomic_load(&cz->stop)) {
            cz->busy = 0;
            pthread_cond_broadcast(&cz->idle_cv);
            pthread_cond_wait(&cz->cv, &cz->mu);
        }
        if (atomic_load(&cz->stop))
            break;
        job = cz->jobs[cz->head];
        cz->head = (cz->head + 1) % JOBS_MAX;
        cz->count--;
        cz->busy = 1;
        pthread_mutex_unlock(&cz->mu);
        if (cc)
            process_job(cz, cc, &job);
        pthread_mutex_lock(&cz->mu);
    }
    cz->busy = 0;
    pthread_cond_broadcast(&cz->idle_cv);
    pthread_mutex_unlock(&cz->mu);
    ZSTD_freeCCtx(cc);
    return NULL;
}

static int
compressor_start(struct lf_compressor *cz)
{
    sigset_t all, old;
    int rc;

    if (!cz->jobs && (cz->jobs = calloc(JOBS_MAX, sizeof(*cz->jobs))) == NULL)
        return -1;
    /* The thread takes no signals: daemons read theirs through signalfd in the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&cz->thread, NULL, compressor_main, cz);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    cz->started = 1;
    return 0;
}

/* Queues work on path's rotated files. Never blocks on the compressor's I/O: the lock is held
 * by the thread only between jobs. */
static void
enqueue_job(struct gw_logfile *lf, const char *path)
{
    struct lf_compressor *cz = &lf->cz;
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    const char *base = slash ? slash + 1 : path;
    struct lf_job *j;

    if (!cz->compress && cz->retention == 0)
        return;
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)GW_MAX(slash - path, 1), path);
    pthread_mutex_lock(&cz->mu);
    if (!cz->started && compressor_start(cz) == -1) {
        lf->st.errors[GW_LOGFILE_ERR_OTHER]++;
        goto done;
    }
    for (unsigned i = 0; i < cz->count; i++) {
        j = &cz->jobs[(cz->head + i) % JOBS_MAX];
        if (strcmp(j->base, base) == 0 && strcmp(j->dir, dir) == 0)
            goto done;
    }
    if (cz->count == JOBS_MAX)
        goto done;
    j = &cz->jobs[(cz->head + cz->count) % JOBS_MAX];
    gw_strlcpy(j->dir, dir, sizeof(j->dir));
    gw_strlcpy(j->base, base, sizeof(j->base));
    cz->count++;
    cz->busy = 1;
    pthread_cond_signal(&cz->cv);
done:
    pthread_mutex_unlock(&cz->mu);
}

int
gw_logfile_compress_wait(struct gw_logfile *lf, int timeout_ms)
{
    struct lf_compressor *cz = &lf->cz;
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cz->mu);
    while (cz->started && (cz->count > 0 || cz->busy) && rc == 0)
        rc = pthread_cond_timedwait(&cz->idle_cv, &cz->mu, &until);
    rc = cz->started && (cz->count > 0 || cz->busy) ? -1 : 0;
    pthread_mutex_unlock(&cz->mu);
    return rc;
}

/* ---- opening, writing, syncing, rotating ---- */

static int64_t
period_of(const struct gw_logfile *lf, int64_t wall_ms)
{
    int64_t iv = (int64_t)lf->cfg.rotate_interval_s * 1000;

    /* Floor division, so that periods stay aligned to the epoch (UTC) before 1970 too. */
    return wall_ms >= 0 ? wall_ms / iv : -((-wall_ms + iv - 1) / iv);
}

static int
fsync_dir_of(struct gw_logfile *lf, const char *path, size_t dirlen, char *err)
{
    char dir[PATH_MAX];
    int fd, rc;

    if (dirlen == 0)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)dirlen, path);
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
        return fail(lf, err, "open", dir);
    rc = fsync(fd);
    if (rc == -1)
        fail(lf, err, "fsync", dir);
    close(fd);
    lf->st.fsyncs += rc == 0;
    return rc;
}

static size_t
dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
}

/* Creates the directories of f's path, each made durable in its parent under always/batch.
 * Rendered values hold no '/', so below the prefix these are the template's own components. */
static int
make_dirs(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    char dir[PATH_MAX];
    const char *p = f->path;

    while ((p = strchr(p + 1, '/')) != NULL) {
        size_t len = (size_t)(p - f->path);
        snprintf(dir, sizeof(dir), "%.*s", (int)len, f->path);
        if (mkdir(dir, lf->cfg.dir_mode) == -1) {
            if (errno == EEXIST)
                continue;
            return fail(lf, err, "mkdir", dir);
        }
        if (lf->cfg.fsync != GW_LOGFILE_FSYNC_NEVER &&
            fsync_dir_of(lf, dir, dir_len(dir), err) == -1)
            return -1;
    }
    return 0;
}

static void
make_room(struct gw_logfile *lf)
{
    while (lf->open.n >= lf->cfg.max_open_files && lf->open.tail)
        close_file(lf, lf->open.tail);
}

/* A process killed in the middle of a write can leave the start of a line at the end of a
 * file: never acknowledged (a commit acknowledges whole lines once written), and the first line
 * appended after a restart would be glued to it. Cut back to the last complete line, once per
 * file per run, before appending. Returns the bytes cut (0 when the end is whole). */
static uint64_t
cut_torn_tail(const char *path)
{
    char buf[65536];
    struct stat st;
    off_t end, cut = -1;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

    if (fd == -1)
        return 0;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
        pread(fd, buf, 1, st.st_size - 1) != 1 || buf[0] == '\n') {
        close(fd);
        return 0;
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
    if (ftruncate(fd, cut) == -1)
        cut = st.st_size;
    close(fd);
    return (uint64_t)(st.st_size - cut);
}

static int
open_fd(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
    int fd = open(f->path, flags);

    if (fd == -1 && errno == ENOENT) {
        if (make_dirs(lf, f, err) == -1)
            return -1;
        fd = open(f->path, flags | O_CREAT | O_EXCL, lf->cfg.file_mode);
        if (fd >= 0)
            f->dir_unsynced = lf->cfg.fsync != GW_LOGFILE_FSYNC_NEVER;
        else if (errno == EEXIST)
            fd = open(f->path, flags);
    }
    if (fd == -1)
        return fail(lf, err, "open", f->path);
    return fd;
}

static int
open_file(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    struct stat sb;
    int fd;

    make_room(lf);
    if (!f->tail_checked) {
        f->tail_checked = 1;
        lf->st.torn_cut += cut_torn_tail(f->path);
    }
    if ((fd = open_fd(lf, f, err)) == -1)
        return -1;
    if (fstat(fd, &sb) == -1) {
        fail(lf, err, "fstat", f->path);
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        errno = EINVAL;
        fail(lf, err, "not a regular file:", f->path);
        goto fail;
    }
    if (f->trunc_pending && sb.st_dev == f->dev && sb.st_ino == f->ino &&
        (uint64_t)sb.st_size > f->trunc_to) {
        if (ftruncate(fd, (off_t)f->trunc_to) == -1) {
            fail(lf, err, "ftruncate", f->path);
            goto fail;
        }
        sb.st_size = (off_t)f->trunc_to;
    }
    f->trunc_pending = 0;
    if (f->dir_unsynced && fsync_dir_of(lf, f->path, dir_len(f->path), err) == -1)
        goto fail;
    f->dir_unsynced = 0;
    f->fd = fd;
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    lf->st.bytes_on_disk += (uint64_t)sb.st_size;
    lf->st.bytes_on_disk -= GW_MIN(lf->st.bytes_on_disk, f->size);
    f->size = f->synced_size = (uint64_t)sb.st_size;
    if (lf->cfg.rotate_interval_s)
        f->period = period_of(lf, sb.st_size > 0 ? (int64_t)sb.st_mtime * 1000 : lf->now_wall);
    unlist(lf, f);
    list_push(&lf->open, f);
    f->on = ON_OPEN;
    if (!f->scanned) {
        f->scanned = 1;
        enqueue_job(lf, f->path);
    }
    return 0;
fail:
    close(fd);
    return -1;
}

/* Drops the durable head of f's buffer and counts it. */
static void
made_durable(struct gw_logfile *lf, struct lf_file *f)
{
    lf->st.lines += f->wlines;
    lf->st.bytes += f->written;
    lf->pending_bytes -= f->written;
    lf->pending_lines -= f->wlines;
    f->lines -= f->wlines;
    f->len -= f->written;
    memmove(f->buf, f->buf + f->written, f->len);
    f->written = f->wlines = 0;
    f->synced_size = f->size;
}

/* Cuts the file back to its last durable size, so nothing torn or unsynced stays in it and
 * everything in the buffer is queued again. When even that fails, the fd is closed and the
 * cut is made at the next open of the same file. */
static void
rollback(struct gw_logfile *lf, struct lf_file *f)
{
    int e = errno;

    if (f->fd >= 0 && ftruncate(f->fd, (off_t)f->synced_size) == -1) {
        lf->st.errors[err_reason(errno)]++;
        f->trunc_pending = 1;
        f->trunc_to = f->synced_size;
        close(f->fd);
        f->fd = -1;
        unlist(lf, f);
    }
    lf->st.bytes_on_disk -= GW_MIN(lf->st.bytes_on_disk, f->size - f->synced_size);
    f->size = f->synced_size;
    f->written = f->wlines = 0;
    errno = e;
}

static size_t
count_lines(const char *p, size_t n)
{
    size_t lines = 0;
    const char *end = p + n;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* Writes n queued bytes (whole lines). A short write keeps the whole lines that made it
 * under `never` (they are as durable as that policy gets) and rolls back the rest. */
static int
write_lines(struct gw_logfile *lf, struct lf_file *f, size_t n, char *err)
{
    const char *p = f->buf + f->written;
    size_t done = 0;

    if (f->size == 0 && lf->cfg.rotate_interval_s)
        f->period = period_of(lf, lf->now_wall);
    while (done < n) {
        ssize_t w = write(f->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            break;
        }
        done += (size_t)w;
    }
    if (lf->cfg.fsync == GW_LOGFILE_FSYNC_NEVER && done < n) {
        const char *nl = memrchr(p, '\n', done);
        done = nl ? (size_t)(nl - p) + 1 : 0;
    }
    f->written += done;
    /* Written to the end of what is queued (the usual case): no need to count. */
    f->wlines =
        f->written == f->len ? f->lines : GW_MIN(f->lines, f->wlines + count_lines(p, done));
    f->size += done;
    lf->st.bytes_on_disk += done;
    if (done == n) {
        if (lf->cfg.fsync == GW_LOGFILE_FSYNC_NEVER)
            made_durable(lf, f);
        return 0;
    }
    fail(lf, err, "write", f->path);
    if (lf->cfg.fsync == GW_LOGFILE_FSYNC_NEVER)
        made_durable(lf, f);
    rollback(lf, f);
    return -1;
}

static int
sync_file(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    int rc;

    if (f->written == 0)
        return 0;
    rc = lf->cfg.fsync == GW_LOGFILE_FSYNC_ALWAYS ? fsync(f->fd) : fdatasync(f->fd);
    lf->st.fsyncs++;
    if (rc == -1) {
        /* Linux may have marked the failed pages clean: what they held is not trusted. */
        fail(lf, err, "fsync", f->path);
        rollback(lf, f);
        return -1;
    }
    made_durable(lf, f);
    return 0;
}

/* 1 when neither the rotated name nor its compressed form exists. Only the writer makes plain
 * rotated names, and the compressor makes name.zst only from an existing name, so a free
 * name stays free until the rename. */
static int
free_name(const char *to)
{
    char zst[PATH_MAX + SUFFIX_MAX + 8];

    snprintf(zst, sizeof(zst), "%s.zst", to);
    return access(to, F_OK) == -1 && errno == ENOENT && access(zst, F_OK) == -1 && errno == ENOENT;
}

/* Renames f's file to its rotated name and opens a new one. 0 done; 1 the rename failed (the
 * file stays current; counted; err set); -1 no file is open any more (err set). Requires
 * every written byte durable (written == 0). */
static int
rotate_file(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    char to[PATH_MAX + SUFFIX_MAX], ts[32];
    struct stat sb;
    time_t s = (time_t)(lf->now_wall / 1000);
    struct tm tm;
    size_t n;

    if (stat(f->path, &sb) == -1 || sb.st_dev != f->dev || sb.st_ino != f->ino) {
        /* Moved or replaced behind our back (logrotate before a reopen): a new file it is. */
        close_file(lf, f);
        return open_file(lf, f, err);
    }
    gmtime_r(&s, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    n = (size_t)snprintf(to, sizeof(to), "%s.%s", f->path, ts);
    for (unsigned seq = 1; !free_name(to); seq++) {
        if (seq == 1000) {
            errno = EEXIST;
            goto fail;
        }
        snprintf(to + n, sizeof(to) - n, "-%u", seq);
    }
    if (rename(f->path, to) == -1) {
    fail:
        fail(lf, err, "rename", f->path);
        f->rotate_hold_until = gw_mono_ms() + ROTATE_HOLD_MS;
        return 1;
    }
    lf->st.rotations++;
    f->dir_unsynced = lf->cfg.fsync != GW_LOGFILE_FSYNC_NEVER;
    close(f->fd);
    f->fd = -1;
    unlist(lf, f);
    lf->st.bytes_on_disk -= GW_MIN(lf->st.bytes_on_disk, f->size);
    f->size = f->synced_size = 0;
    /* dir_unsynced: open_file fsyncs the directory, making the rename and the new file
     * durable before any line goes to it. */
    enqueue_job(lf, f->path);
    if (open_file(lf, f, err) == -1) {
        park(lf, f);
        return -1;
    }
    return 0;
}

static int
rotation_due(const struct gw_logfile *lf, const struct lf_file *f)
{
    /* Only forward: a wall clock stepped back must not rotate (nor name files out of order). */
    return lf->cfg.rotate_interval_s && f->size > 0 && period_of(lf, lf->now_wall) > f->period &&
           gw_mono_ms() >= f->rotate_hold_until;
}

/* Bytes of the queued lines at p (n bytes) that fit in room: whole lines only. */
static size_t
cut_lines(const char *p, size_t n, uint64_t room)
{
    const char *nl;

    if (room == 0)
        return 0;
    nl = memrchr(p, '\n', GW_MIN(n, room));
    return nl ? (size_t)(nl - p) + 1 : 0;
}

/* Writes f's queued lines, rotating by size and time, then syncs per policy. */
static int
flush_file(struct gw_logfile *lf, struct lf_file *f, char *err)
{
    char rerr[GW_ERR_LEN];

    if (f->fd < 0 && open_file(lf, f, err) == -1)
        return -1;
    if (f->on == ON_OPEN && lf->open.head != f) {
        list_remove(&lf->open, f);
        list_push(&lf->open, f);
    }
    /* A failed rename sets rotate_hold_until, so the loop below then writes on. */
    if (rotation_due(lf, f) && rotate_file(lf, f, rerr) == -1)
        return gw_err(err, "%s", rerr);
    while (f->written < f->len) {
        size_t n = f->len - f->written;
        uint64_t cap = lf->cfg.rotate_size;
        if (cap && f->size + n > cap && gw_mono_ms() >= f->rotate_hold_until) {
            const char *p = f->buf + f->written;
            size_t fit = cut_lines(p, n, cap > f->size ? cap - f->size : 0);
            /* A line longer than rotate_size gets a file to itself. */
            if (fit == 0 && f->size == 0)
                fit = (size_t)((const char *)memchr(p, '\n', n) - p) + 1;
            if (fit == 0) {
                if (sync_file(lf, f, err) == -1)
                    return -1;
                if (rotate_file(lf, f, rerr) == -1)
                    return gw_err(err, "%s", rerr);
                continue;
            }
            n = fit;
        }
        if (write_lines(lf, f, n, err) == -1)
            return -1;
    }
    return sync_file(lf, f, err);
}

/* ---- public ---- */

struct gw_logfile *
gw_logfile_new(const struct gw_logfile_config *cfg, char *err)
{
    struct gw_logfile *lf;

    if (!cfg->path)
        return gw_err(err, "no output path"), NULL;
    if ((lf = calloc(1, sizeof(*lf))) == NULL)
        return gw_err(err, "out of memory"), NULL;
    lf->cfg = *cfg;
    lf->tmpl = strdup(cfg->path);
    lf->nbuckets = 64;
    lf->buckets = calloc(lf->nbuckets, sizeof(*lf->buckets));
    if (!lf->tmpl || !lf->buckets) {
        gw_err(err, "out of memory");
        goto fail;
    }
    lf->cfg.path = lf->tmpl;
    if (parse_template(lf, err) == -1)
        goto fail;
    lf->one_path = 1;
    for (size_t i = 0; i < lf->nsegs; i++)
        if (lf->segs[i].kind != SEG_LIT)
            lf->one_path = 0;
    if (!lf->cfg.max_open_files)
        lf->cfg.max_open_files = 64;
    if (!lf->cfg.max_pending_bytes)
        lf->cfg.max_pending_bytes = 16 << 20;
    if (!lf->cfg.retry_interval_ms)
        lf->cfg.retry_interval_ms = 1000;
    if (!lf->cfg.file_mode)
        lf->cfg.file_mode = 0640;
    if (!lf->cfg.dir_mode)
        lf->cfg.dir_mode = 0750;
    pthread_mutex_init(&lf->cz.mu, NULL);
    pthread_cond_init(&lf->cz.cv, NULL);
    pthread_cond_init(&lf->cz.idle_cv, NULL);
    lf->cz.compress = cfg->compress;
    lf->cz.level = cfg->compress_level ? cfg->compress_level : 3;
    lf->cz.retention = cfg->retention;
    return lf;
fail:
    free(lf->segs);
    free(lf->buckets);
    free(lf->tmpl);
    free(lf);
    return NULL;
}

void
gw_logfile_free(struct gw_logfile *lf)
{
    if (!lf)
        return;
    if (lf->cz.started) {
        pthread_mutex_lock(&lf->cz.mu);
        atomic_store(&lf->cz.stop, 1);
        pthread_cond_signal(&lf->cz.cv);
        pthread_mutex_unlock(&lf->cz.mu);
        pthread_join(lf->cz.thread, NULL);
    }
    for (size_t i = 0; i < lf->nbuckets; i++) {
        struct lf_file *f = lf->buckets[i], *next;
        for (; f; f = next) {
            next = f->hnext;
            if (f->fd >= 0)
                close(f->fd);
            free(f->buf);
            free(f);
        }
    }
    pthread_mutex_destroy(&lf->cz.mu);
    pthread_cond_destroy(&lf->cz.cv);
    pthread_cond_destroy(&lf->cz.idle_cv);
    free(lf->cz.jobs);
    free(lf->buckets);
    free(lf->segs);
    free(lf->tmpl);
    free(lf);
}

static int64_t
wall_now(const struct gw_logfile *lf)
{
    return lf->cfg.clock_ms ? lf->cfg.clock_ms(lf->cfg.clock_arg) : gw_wall_ms();
}

static int append_parts(struct gw_logfile *lf, const struct gw_logfile_fields *fields,
                        const struct iovec *iov, int iovcnt, size_t lines, char *err);

int
gw_logfile_append(struct gw_logfile *lf, const struct gw_logfile_fields *fields, const char *line,
                  size_t len, char *err)
{
    struct iovec iov = {(void *)line, len};

    return append_parts(lf, fields, &iov, 1, count_lines(line, len), err);
}

int
gw_logfile_appendv(struct gw_logfile *lf, const struct gw_logfile_fields *fields,
                   const struct iovec *iov, int iovcnt, char *err)
{
    /* One line, as documented: not searched for more (a scan of every byte written). */
    return append_parts(lf, fields, iov, iovcnt, 1, err);
}

static int
append_parts(struct gw_logfile *lf, const struct gw_logfile_fields *fields, const struct iovec *iov,
             int iovcnt, size_t lines, char *err)
{
    char path[PATH_MAX];
    struct lf_file *f;
    size_t len = 0;
    const char *last = NULL;

    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
        if (iov[i].iov_len)
            last = (const char *)iov[i].iov_base + iov[i].iov_len - 1;
    }
    if (len == 0 || *last != '\n') {
        errno = EINVAL;
        return gw_err(err, "line does not end in a newline");
    }
    if (len > lf->cfg.max_pending_bytes) {
        errno = EMSGSIZE;
        return gw_err(err, "line of %zu bytes is longer than max_pending_bytes", len);
    }
    if (len > lf->cfg.max_pending_bytes - lf->pending_bytes) {
        lf->st.refused++;
        errno = ENOBUFS;
        return gw_err(err, "%zu bytes queued, the limit: commit first", lf->pending_bytes);
    }
    if ((f = lf->one_file) == NULL) {
        if (gw_logfile_path(lf, fields, path, sizeof(path), err) == -1) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if ((f = lookup(lf, path)) == NULL)
            goto nomem;
        if (lf->one_path)
            lf->one_file = f;
    }
    if (f->len + len > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + len)
            cap *= 2;
        char *b = realloc(f->buf, cap);
        if (!b) {
            park(lf, f);
            goto nomem;
        }
        f->buf = b;
        f->cap = cap;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(f->buf + f->len, iov[i].iov_base, iov[i].iov_len);
        f->len += iov[i].iov_len;
    }
    f->lines += lines;
    if (f->on == ON_IDLE)
        unlist(lf, f);
    if (!f->on_dirty) {
        f->on_dirty = 1;
        if (lf->dirty_tail)
            lf->dirty_tail->dirty_next = f;
        else
            lf->dirty_head = f;
        lf->dirty_tail = f;
    }
    if (lf->pending_bytes == 0)
        lf->oldest_pending_ms = gw_mono_ms();
    lf->pending_bytes += len;
    lf->pending_lines += lines;
    return 0;
nomem:
    errno = ENOMEM;
    return gw_err(err, "out of memory");
}

int
gw_logfile_commit(struct gw_logfile *lf, char *err)
{
    struct lf_file *f = lf->dirty_head, *keep_head = NULL, *keep_tail = NULL;
    char ferr[GW_ERR_LEN];
    int rc = 0, first_errno = 0;

    if (!f)
        return 0;
    lf->now_wall = wall_now(lf);
    lf->dirty_head = lf->dirty_tail = NULL;
    while (f) {
        struct lf_file *next = f->dirty_next;
        f->dirty_next = NULL;
        if (flush_file(lf, f, ferr) == 0) {
            f->on_dirty = 0;
            if (f->cap > 65536 && f->len == 0) {
                free(f->buf);
                f->buf = NULL;
                f->cap = 0;
            }
            park(lf, f);
        } else {
            if (rc == 0) {
                first_errno = errno;
                if (err)
                    gw_strlcpy(err, ferr, GW_ERR_LEN);
            }
            rc = -1;
            if (keep_tail)
                keep_tail->dirty_next = f;
            else
                keep_head = f;
            keep_tail = f;
        }
        f = next;
    }
    lf->dirty_head = keep_head;
    lf->dirty_tail = keep_tail;
    if (rc == -1) {
        lf->failed = 1;
        lf->retry_at_ms = gw_mono_ms() + lf->cfg.retry_interval_ms;
        errno = first_errno;
        return -1;
    }
    lf->failed = 0;
    lf->st.commits++;
    return 0;
}

int
gw_logfile_tick(struct gw_logfile *lf, char *err)
{
    int64_t wait = gw_logfile_next_tick_ms(lf);
    int rc = 0;

    if (wait != 0)
        return 0;
    if (lf->pending_bytes > 0) {
        int64_t due = lf->failed ? (int64_t)lf->retry_at_ms
                      : lf->cfg.fsync == GW_LOGFILE_FSYNC_BATCH
                          ? (int64_t)(lf->oldest_pending_ms + lf->cfg.fsync_interval_ms)
                          : 0;
        if ((int64_t)gw_mono_ms() >= due)
            rc = gw_logfile_commit(lf, err) == 0 ? 1 : -1;
    }
    if (lf->cfg.rotate_interval_s) {
        char rerr[GW_ERR_LEN];
        struct lf_file *f = lf->open.head, *next;
        lf->now_wall = wall_now(lf);
        /* A rotated file goes back to the head of the list (not due again); an open never
         * evicts here, as the rotation closed one fd first. */
        for (; f; f = next) {
            next = f->next;
            if (f->len == 0 && rotation_due(lf, f))
                rotate_file(lf, f, rerr);
        }
    }
    return rc;
}

int64_t
gw_logfile_next_tick_ms(struct gw_logfile *lf)
{
    int64_t best = -1, now = (int64_t)gw_mono_ms();

    if (lf->pending_bytes > 0) {
        int64_t due = now;
        if (lf->failed)
            due = (int64_t)lf->retry_at_ms;
        else if (lf->cfg.fsync == GW_LOGFILE_FSYNC_BATCH)
            due = (int64_t)(lf->oldest_pending_ms + lf->cfg.fsync_interval_ms);
        best = GW_MAX(due - now, 0);
    }
    if (lf->cfg.rotate_interval_s && lf->open.n > 0) {
        int64_t wall = wall_now(lf), iv = (int64_t)lf->cfg.rotate_interval_s * 1000;
        int64_t next = (period_of(lf, wall) + 1) * iv - wall;
        /* Files with queued lines rotate when those are committed (above). */
        lf->now_wall = wall;
        for (struct lf_file *f = lf->open.head; f; f = f->next) {
            if (f->len == 0 && rotation_due(lf, f)) {
                next = 0;
                break;
            }
        }
        best = best < 0 ? next : GW_MIN(best, next);
    }
    return best;
}

size_t
gw_logfile_pending_bytes(const struct gw_logfile *lf)
{
    return lf->pending_bytes;
}

void
gw_logfile_reopen(struct gw_logfile *lf)
{
    while (lf->open.head)
        close_file(lf, lf->open.head);
}

void
gw_logfile_stats(const struct gw_logfile *lf, struct gw_logfile_stats *st)
{
    *st = lf->st;
    st->compressed = atomic_load(&lf->cz.compressed);
    st->removed = atomic_load(&lf->cz.removed);
    for (int i = 0; i < GW_LOGFILE_ERR_COUNT; i++)
        st->errors[i] += atomic_load(&lf->cz.errors[i]);
    st->open_files = lf->open.n;
    st->pending_lines = lf->pending_lines;
    st->pending_bytes = lf->pending_bytes;
}
