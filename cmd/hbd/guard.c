/*
 * guard.c -- who may do what on the heartbeat port: the tokens of auth_tokens_file, and the
 * per-source limits (max_clients_per_ip, new_services_per_ip).
 *
 * Tokens, Redis-style: one "token [service-glob]" per line ('#' starts a comment). A TCP client
 * sends AUTH <token> once; a UDP datagram (or any HB line) carries token=<token>. A token with a
 * glob may beat only for services matching it (fnmatch). Tokens are compared in constant time
 * against every entry, so the time of a refusal tells nothing of how close a guess was.
 *
 * Sources are client addresses without the port, in one table behind one mutex (taken once per
 * connection open and close and once per new service, never per heartbeat). An entry lives
 * while the address has connections open or created services in the last minute; the table
 * holds at most SOURCES_MAX entries (an address past that, spoofed UDP senders say, may not
 * create services until entries expire).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbd.h"

#define SOURCES_BUCKETS 4096
#define SOURCES_MAX 100000
#define WINDOW_MS 60000
#define TOKEN_MAX 256

/* ---- tokens ---- */

void
hbd_tokens_free(struct hbd_tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].token);
        free(t->v[i].glob);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static int
add_token(struct hbd_tokens *t, const char *token, const char *glob)
{
    struct hbd_token *v = realloc(t->v, (t->n + 1) * sizeof(*v));

    if (!v)
        return -1;
    t->v = v;
    v[t->n].token = strdup(token);
    v[t->n].glob = glob ? strdup(glob) : NULL;
    if (!v[t->n].token || (glob && !v[t->n].glob)) {
        free(v[t->n].token);
        free(v[t->n].glob);
        return -1;
    }
    t->n++;
    return 0;
}

int
hbd_tokens_parse(FILE *f, const char *path, struct hbd_tokens *t, char *err)
{
    char line[1024], *tok[3], *save;
    int lineno = 0, n;

    t->v = NULL;
    t->n = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            gw_err(err, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        line[strcspn(line, "#\r\n")] = '\0';
        n = 0;
        for (char *p = strtok_r(line, " \t", &save); p && n < 3; p = strtok_r(NULL, " \t", &save))
            tok[n++] = p;
        if (n == 0)
            continue;
        if (n > 2 || strlen(tok[0]) > TOKEN_MAX) {
            gw_err(err, "%s:%d: want 'token [service-glob]'", path, lineno);
            goto fail;
        }
        if (add_token(t, tok[0], n == 2 ? tok[1] : NULL) == -1) {
            gw_err(err, "out of memory");
            goto fail;
        }
    }
    if (ferror(f)) {
        gw_err_errno(err, "auth_tokens_file %s", path);
        goto fail;
    }
    return 0;
fail:
    hbd_tokens_free(t);
    return -1;
}

int
hbd_tokens_load(const char *path, struct hbd_tokens *t, char *err)
{
    FILE *f = fopen(path, "r");
    int rc;

    t->v = NULL;
    t->n = 0;
    if (!f)
        return gw_err_errno(err, "auth_tokens_file %s", path);
    rc = hbd_tokens_parse(f, path, t, err);
    fclose(f);
    return rc;
}

/* 1 when a and b are equal; the time depends on the lengths only. */
static int
same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);

    for (size_t i = 0; i < TOKEN_MAX; i++)
        diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
    return diff == 0;
}

const struct hbd_token *
hbd_tokens_find(const struct hbd_tokens *t, const char *token)
{
    const struct hbd_token *found = NULL;

    if (!token || strlen(token) > TOKEN_MAX)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (same_secret(t->v[i].token, token) && !found)
            found = &t->v[i];
    return found;
}

int
hbd_token_allows(const char *glob, const char *service)
{
    return !glob || fnmatch(glob, service, 0) == 0;
}

/* ---- sources ---- */

struct source {
    struct source *next;
    uint64_t window_ms; /* start of the current minute of creations */
    unsigned conns, created;
    char ip[48];
};

struct hbd_sources {
    pthread_mutex_t mu;
    size_t count;
    struct source *buckets[SOURCES_BUCKETS];
};

struct hbd_sources *
hbd_sources_new(void)
{
    struct hbd_sources *s = calloc(1, sizeof(*s));

    if (s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

void
hbd_sources_free(struct hbd_sources *s)
{
    if (!s)
        return;
    for (size_t b = 0; b < SOURCES_BUCKETS; b++)
        for (struct source *e = s->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static size_t
bucket_of(const char *ip)
{
    uint64_t h = 1469598103934665603ull;

    while (*ip)
        h = (h ^ (unsigned char)*ip++) * 1099511628211ull;
    return (size_t)(h % SOURCES_BUCKETS);
}

/* Lock held. NULL when absent and (create) the table is full or memory short. */
static struct source *
source_get(struct hbd_sources *s, const char *ip, int create)
{
    size_t b = bucket_of(ip);
    struct source *e;

    for (e = s->buckets[b]; e; e = e->next)
        if (strcmp(e->ip, ip) == 0)
            return e;
    if (!create || s->count >= SOURCES_MAX || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    gw_strlcpy(e->ip, ip, sizeof(e->ip));
    e->next = s->buckets[b];
    s->buckets[b] = e;
    s->count++;
    return e;
}

int
hbd_sources_open(struct hbd_sources *s, const char *ip, unsigned max)
{
    struct source *e;
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if ((e = source_get(s, ip, 1)) == NULL)
        rc = max ? -1 : 1; /* untracked: refused only when there is a limit to keep */
    else if (max && e->conns >= max)
        rc = -1;
    else
        e->conns++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void
hbd_sources_close(struct hbd_sources *s, const char *ip)
{
    struct source *e;

    pthread_mutex_lock(&s->mu);
    if ((e = source_get(s, ip, 0)) != NULL && e->conns)
        e->conns--;
    pthread_mutex_unlock(&s->mu);
}

int
hbd_sources_new_service(struct hbd_sources *s, const char *ip, unsigned per_minute, uint64_t now_ms)
{
    struct source *e;
    int rc = 0;

    if (!per_minute)
        return 0;
    pthread_mutex_lock(&s->mu);
    if ((e = source_get(s, ip, 1)) == NULL) {
        rc = -1;
    } else {
        if (now_ms - e->window_ms >= WINDOW_MS || !e->window_ms) {
            e->window_ms = now_ms;
            e->created = 0;
        }
        if (e->created >= per_minute)
            rc = -1;
        else
            e->created++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void
hbd_sources_sweep(struct hbd_sources *s, uint64_t now_ms)
{
    pthread_mutex_lock(&s->mu);
    for (size_t b = 0; b < SOURCES_BUCKETS; b++)
        for (struct source **p = &s->buckets[b], *e; (e = *p) != NULL;) {
            if (e->conns == 0 && now_ms - e->window_ms >= WINDOW_MS) {
                *p = e->next;
                free(e);
                s->count--;
            } else {
                p = &e->next;
            }
        }
    pthread_mutex_unlock(&s->mu);
}
