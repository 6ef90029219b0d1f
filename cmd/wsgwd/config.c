/*
 * config.c -- wsgwd's run-time settings, built from a validated gw_conf and published as an
 * immutable snapshot so workers never see a half-applied reload; and the backend table.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wsgwd.h"

/* Splits a space-separated list into a NULL-terminated array (one allocation); NULL for an
 * empty list or out of memory (*oom set). */
static char **
split_list(const char *s, int *oom)
{
    size_t n = 0, len = strlen(s);
    char **v, *text;
    int in = 0;

    for (const char *p = s; *p; p++) {
        if (*p != ' ' && !in)
            n++;
        in = *p != ' ';
    }
    if (n == 0)
        return NULL;
    if ((v = malloc((n + 1) * sizeof(*v) + len + 1)) == NULL) {
        *oom = 1;
        return NULL;
    }
    text = (char *)(v + n + 1);
    memcpy(text, s, len + 1);
    n = 0;
    for (char *save = NULL, *t = strtok_r(text, " ", &save); t; t = strtok_r(NULL, " ", &save))
        v[n++] = t;
    v[n] = NULL;
    return v;
}

static int
any_origin(char **origins)
{
    for (char **o = origins; o && *o; o++)
        if (strcmp(*o, "*") == 0)
            return 1;
    return 0;
}

struct wsgw_config *
wsgw_config_new(const struct gw_conf *c, char *err)
{
    struct wsgw_config *cfg = calloc(1, sizeof(*cfg));
    int oom = 0;

    if (!cfg) {
        gw_err(err, "out of memory");
        return NULL;
    }
    if (gw_conf_bind(c, wsgw_conf_section.name, NULL, cfg, err) == -1) {
        free(cfg);
        return NULL;
    }
    cfg->origins = split_list(cfg->allowed_origins, &oom);
    if (any_origin(cfg->origins)) {
        free(cfg->origins);
        cfg->origins = NULL;
    }
    cfg->subprotocols = split_list(cfg->subprotocols_text, &oom);
    if (oom) {
        wsgw_config_free(cfg);
        gw_err(err, "out of memory");
        return NULL;
    }
    if ((cfg->auth = wsgw_auth_new(c, err)) == NULL && err[0]) {
        wsgw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void
wsgw_config_free(struct wsgw_config *cfg)
{
    while (cfg) {
        struct wsgw_config *older = cfg->older;
        free(cfg->origins);
        free(cfg->subprotocols);
        wsgw_auth_free(cfg->auth);
        gw_conf_unbind(&wsgw_conf_section, cfg);
        free(cfg);
        cfg = older;
    }
}

int
wsgw_reload(void *arg, const struct gw_conf *c, char *err)
{
    struct wsgw *w = arg;
    const struct gw_conf *old = gw_daemon_conf(w->daemon);
    struct wsgw_config *cfg;

    err[0] = '\0';
    if ((cfg = wsgw_config_new(c, err)) == NULL)
        return -1;
    if (gw_conf_instances(old, "backend", NULL, 0) != gw_conf_instances(c, "backend", NULL, 0))
        GW_LOG_WARN("backends change at restart only", "key=%s", "[backend]");
    cfg->older = wsgw_cfg(w);
    atomic_store_explicit(&w->cfg, cfg, memory_order_release);
    return 0;
}

int
wsgw_backends_load(struct wsgw *w, const struct gw_conf *c, char *err)
{
    static const char *names[GW_CONF_MAX_INSTANCES];
    size_t n = gw_conf_instances(c, "backend", names, GW_ARRAY_LEN(names));

    if (n > WSGW_MAX_BACKENDS)
        return gw_err(err, "too many backends (%zu, max %d)", n, WSGW_MAX_BACKENDS);
    if (n && (w->backends = calloc(n, sizeof(*w->backends))) == NULL)
        return gw_err(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct wsgw_backend *b = &w->backends[i];
        b->id = (uint32_t)i + 1;
        gw_strlcpy(b->name, names[i], sizeof(b->name));
        gw_strlcpy(b->addr_str, gw_conf_str(c, "backend", names[i], "address"),
                   sizeof(b->addr_str));
        b->proto = gw_conf_int(c, "backend", names[i], "protocol") == 1 ? WSGW_RAW : WSGW_FRAMES;
        if (gw_net_parse_addr(b->addr_str, 0, &b->addr, err) == -1)
            return -1;
        w->nbackends++;
    }
    return 0;
}

struct wsgw_backend *
wsgw_backend_find(struct wsgw *w, const char *name, size_t len)
{
    for (unsigned i = 0; i < w->nbackends; i++)
        if (strlen(w->backends[i].name) == len && memcmp(w->backends[i].name, name, len) == 0)
            return &w->backends[i];
    return NULL;
}
