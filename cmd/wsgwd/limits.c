/*
 * limits.c -- per source address bookkeeping for max_clients_per_ip and handshakes_per_ip:
 * one table shared by the workers, taken at connect, handshake and close only, never on the
 * message path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsgwd.h"

#define BUCKETS 4096

struct entry {
    struct entry *next;
    unsigned conns;
    unsigned handshakes; /* in the second `second` */
    uint64_t second;
    char ip[48];
};

struct wsgw_limits {
    pthread_mutex_t lock;
    struct entry *buckets[BUCKETS];
};

struct wsgw_limits *
wsgw_limits_new(void)
{
    struct wsgw_limits *l = calloc(1, sizeof(*l));

    if (l)
        pthread_mutex_init(&l->lock, NULL);
    return l;
}

void
wsgw_limits_free(struct wsgw_limits *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct entry *e = l->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static size_t
hash(const char *s)
{
    size_t h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % BUCKETS;
}

/* The entry of ip (created when create is set), with the lock held. Entries that count no
 * connection and no handshake of this second are dropped on the way. */
static struct entry *
lookup(struct wsgw_limits *l, const char *ip, int create)
{
    struct entry **pp = &l->buckets[hash(ip)], *e;
    uint64_t now = gw_mono_ms() / 1000;

    while ((e = *pp) != NULL) {
        if (strcmp(e->ip, ip) == 0)
            return e;
        if (e->conns == 0 && e->second != now) {
            *pp = e->next;
            free(e);
            continue;
        }
        pp = &e->next;
    }
    if (!create || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    gw_strlcpy(e->ip, ip, sizeof(e->ip));
    e->second = now;
    e->next = l->buckets[hash(ip)];
    l->buckets[hash(ip)] = e;
    return e;
}

unsigned
wsgw_limits_open(struct wsgw_limits *l, const char *ip)
{
    struct entry *e;
    unsigned n = 0;

    pthread_mutex_lock(&l->lock);
    if ((e = lookup(l, ip, 1)) != NULL)
        n = ++e->conns;
    pthread_mutex_unlock(&l->lock);
    return n;
}

void
wsgw_limits_close(struct wsgw_limits *l, const char *ip)
{
    struct entry *e;

    pthread_mutex_lock(&l->lock);
    if ((e = lookup(l, ip, 0)) != NULL && e->conns > 0)
        e->conns--;
    pthread_mutex_unlock(&l->lock);
}

unsigned
wsgw_limits_count(struct wsgw_limits *l, const char *ip)
{
    struct entry *e;
    unsigned n = 0;

    pthread_mutex_lock(&l->lock);
    if ((e = lookup(l, ip, 0)) != NULL)
        n = e->conns;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int
wsgw_limits_handshake(struct wsgw_limits *l, const char *ip, unsigned per_second)
{
    uint64_t now = gw_mono_ms() / 1000;
    struct entry *e;
    int ok = 1;

    pthread_mutex_lock(&l->lock);
    if ((e = lookup(l, ip, 1)) != NULL) {
        if (e->second != now) {
            e->second = now;
            e->handshakes = 0;
        }
        e->handshakes++;
        ok = per_second == 0 || e->handshakes <= per_second;
    }
    pthread_mutex_unlock(&l->lock);
    return ok;
}
