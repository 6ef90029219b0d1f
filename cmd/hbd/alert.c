/*
 * alert.c -- state changes POSTed as JSON to every alert_url, from a thread of its own that
 * drives libcurl's multi interface: a slow, refusing or failing receiver delays only its own
 * deliveries, never a heartbeat. Failed deliveries are retried with exponential backoff and
 * jitter; the queue is bounded and what does not fit is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hbd.h"
#include "log.h"

#define MAX_BACKOFF_FACTOR 60
#define POLL_MAX_MS 1000

struct job {
    struct job *next;
    char *url;
    char *body;
    unsigned attempt;
    uint64_t due_ms;
    CURL *easy;
    struct curl_slist *headers;
};

struct hbd_alerter {
    struct hbd *h;
    pthread_t thread;
    CURLM *multi;
    pthread_mutex_t mu;
    struct job *incoming; /* under mu */
    unsigned queued;      /* every job not yet finished, under mu */
    atomic_int stopping;
    uint64_t stop_deadline_ms;
    struct gw_snap_reader *cfg_reader; /* this thread reads the config (config.c) */
    struct job *waiting;               /* alert thread only */
    struct job *flying;                /* alert thread only */
    unsigned in_flight;
};

static void
job_free(struct job *j)
{
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->url);
    free(j->body);
    free(j);
}

static void
finished(struct hbd_alerter *a, struct job *j)
{
    pthread_mutex_lock(&a->mu);
    a->queued--;
    gw_metrics_set(a->h->m.reg, a->h->m.alerts_queued, a->queued);
    pthread_mutex_unlock(&a->mu);
    job_free(j);
}

void
hbd_alerter_send(struct hbd_alerter *a, json_t *doc)
{
    const struct hbd_config *cfg = hbd_cfg(a->h);
    char *body, *urls, *save = NULL;

    if (!doc)
        return;
    body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!body || !cfg->alert_urls[0] || (urls = strdup(cfg->alert_urls)) == NULL) {
        free(body);
        return;
    }
    for (char *u = strtok_r(urls, " \t", &save); u; u = strtok_r(NULL, " \t", &save)) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j || (j->url = strdup(u)) == NULL || (j->body = strdup(body)) == NULL) {
            if (j)
                job_free(j);
            continue;
        }
        pthread_mutex_lock(&a->mu);
        if (a->queued >= cfg->alert_queue) {
            pthread_mutex_unlock(&a->mu);
            gw_metrics_add(a->h->m.reg, a->h->m.alerts_dropped, 1);
            GW_LOG_WARN("alert dropped: queue full", "url=%s queue=%u", u, cfg->alert_queue);
            job_free(j);
            continue;
        }
        j->next = a->incoming;
        a->incoming = j;
        a->queued++;
        gw_metrics_set(a->h->m.reg, a->h->m.alerts_queued, a->queued);
        pthread_mutex_unlock(&a->mu);
    }
    free(urls);
    free(body);
    curl_multi_wakeup(a->multi);
}

/* The status line is the receiver's whole answer: the body is never read (returning 0 ends the
 * transfer with CURLE_WRITE_ERROR, see done()). Reading it to the end made a 2xx whose body came
 * slower than alert_timeout a failure, and the alert was sent again on every retry. */
static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)size;
    (void)n;
    (void)arg;
    return 0;
}

static int
start(struct hbd_alerter *a, struct job *j)
{
    const struct hbd_config *cfg = hbd_cfg(a->h);

    if ((j->easy = curl_easy_init()) == NULL)
        return -1;
    j->headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(j->easy, CURLOPT_URL, j->url);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)cfg->alert_timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->alert_timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "gwkit-hbd/" GW_VERSION);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(a->multi, j->easy) != CURLM_OK)
        return -1;
    j->next = a->flying;
    a->flying = j;
    a->in_flight++;
    return 0;
}

static uint64_t
backoff_ms(const struct hbd_config *cfg, unsigned attempt)
{
    uint64_t d = cfg->alert_backoff_ms, cap = cfg->alert_backoff_ms * MAX_BACKOFF_FACTOR;

    for (unsigned i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* +-25% so receivers coming back are not hit by every retry at once. */
    return d - d / 4 + (uint64_t)rand() % (d / 2 + 1);
}

static void
done(struct hbd_alerter *a, CURLMsg *msg)
{
    const struct hbd_config *cfg = hbd_cfg(a->h);
    struct job *j = NULL;
    long code = 0;
    CURLcode rc = msg->data.result;

    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(a->multi, msg->easy_handle);
    for (struct job **p = &a->flying; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    a->in_flight--;
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    if (rc == CURLE_WRITE_ERROR) /* a reply with a body, cut by discard(): its status counts */
        rc = CURLE_OK;
    if (rc == CURLE_OK && code >= 200 && code < 300) {
        gw_metrics_add(a->h->m.reg, a->h->m.alerts_sent, 1);
        GW_LOG_DEBUG("alert delivered", "url=%s status=%ld", j->url, code);
        finished(a, j);
        return;
    }
    if (j->attempt < cfg->alert_retries && !atomic_load(&a->stopping)) {
        j->attempt++;
        j->due_ms = gw_mono_ms() + backoff_ms(cfg, j->attempt);
        gw_metrics_add(a->h->m.reg, a->h->m.alerts_retried, 1);
        GW_LOG_WARN("alert delivery failed, will retry", "url=%s status=%ld err=%s attempt=%u",
                    j->url, code, rc == CURLE_OK ? "bad status" : curl_easy_strerror(rc),
                    j->attempt);
        j->next = a->waiting;
        a->waiting = j;
        return;
    }
    gw_metrics_add(a->h->m.reg, a->h->m.alerts_failed, 1);
    GW_LOG_ERROR("alert delivery failed, giving up", "url=%s status=%ld err=%s attempts=%u", j->url,
                 code, rc == CURLE_OK ? "bad status" : curl_easy_strerror(rc), j->attempt + 1);
    finished(a, j);
}

/* Starts what is due; returns ms until the next retry is due (capped). */
static int
start_due(struct hbd_alerter *a)
{
    uint64_t now = gw_mono_ms(), next = now + POLL_MAX_MS;
    struct job **p = &a->waiting;

    pthread_mutex_lock(&a->mu);
    while (a->incoming) {
        struct job *j = a->incoming;
        a->incoming = j->next;
        j->due_ms = now;
        j->next = a->waiting;
        a->waiting = j;
    }
    pthread_mutex_unlock(&a->mu);
    while (*p) {
        struct job *j = *p;
        if (j->due_ms > now) {
            if (j->due_ms < next)
                next = j->due_ms;
            p = &j->next;
            continue;
        }
        *p = j->next;
        if (start(a, j) == -1) {
            GW_LOG_ERROR("alert delivery failed, giving up", "url=%s err=%s", j->url,
                         "cannot start request");
            gw_metrics_add(a->h->m.reg, a->h->m.alerts_failed, 1);
            finished(a, j);
        }
    }
    return (int)(next - now);
}

static void *
run(void *arg)
{
    struct hbd_alerter *a = arg;
    int running, timeout;
    CURLMsg *msg;

    gw_metrics_bind_thread(a->h->m.reg, a->h->nworkers + 1);
    for (;;) {
        timeout = start_due(a);
        curl_multi_perform(a->multi, &running);
        while ((msg = curl_multi_info_read(a->multi, &running)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                done(a, msg);
        if (atomic_load(&a->stopping)) {
            pthread_mutex_lock(&a->mu);
            unsigned left = a->queued;
            pthread_mutex_unlock(&a->mu);
            if (left == 0)
                break;
            if (gw_mono_ms() >= a->stop_deadline_ms) {
                GW_LOG_WARN("alerts not delivered at exit", "count=%u", left);
                break;
            }
            if (a->in_flight == 0 && !a->incoming)
                timeout = GW_MIN(timeout, 50);
        }
        gw_snap_offline(a->cfg_reader);
        curl_multi_poll(a->multi, NULL, 0, timeout, NULL);
        gw_snap_online(a->cfg_reader);
    }
    return NULL;
}

struct hbd_alerter *
hbd_alerter_start(struct hbd *h, char *err)
{
    struct hbd_alerter *a = calloc(1, sizeof(*a));

    if (!a) {
        gw_err(err, "out of memory");
        return NULL;
    }
    a->h = h;
    pthread_mutex_init(&a->mu, NULL);
    atomic_init(&a->stopping, 0);
    if ((a->multi = curl_multi_init()) == NULL) {
        gw_err(err, "curl_multi_init failed");
        goto fail;
    }
    if ((a->cfg_reader = gw_snap_reader_add(&h->cfg_readers, err)) == NULL)
        goto fail;
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        gw_err(err, "cannot start the alert thread");
        goto fail;
    }
    return a;
fail:
    gw_snap_reader_remove(&h->cfg_readers, a->cfg_reader);
    if (a->multi)
        curl_multi_cleanup(a->multi);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return NULL;
}

static void
free_list(struct job *j)
{
    while (j) {
        struct job *next = j->next;
        job_free(j);
        j = next;
    }
}

void
hbd_alerter_stop(struct hbd_alerter *a, uint64_t grace_ms)
{
    if (!a)
        return;
    a->stop_deadline_ms = gw_mono_ms() + grace_ms;
    atomic_store(&a->stopping, 1);
    curl_multi_wakeup(a->multi);
    pthread_join(a->thread, NULL);
    gw_snap_reader_remove(&a->h->cfg_readers, a->cfg_reader);
    /* Whatever is still in flight after the grace period is abandoned. */
    for (struct job *j = a->flying; j; j = j->next)
        curl_multi_remove_handle(a->multi, j->easy);
    free_list(a->flying);
    free_list(a->waiting);
    free_list(a->incoming);
    curl_multi_cleanup(a->multi);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
