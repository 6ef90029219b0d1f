/*
 * conf.h -- gwkit.conf: INI (libinih underneath) checked against schema tables.
 *
 * Each program declares its keys once, in a table of struct gw_conf_key (name, type, default,
 * min, max, doc). From that table come parsing, validation, defaults, GWKIT_<SECTION>_<KEY>
 * environment overrides, the effective config as JSON, and the key list of gwkit.conf(5).
 *
 * A file may hold sections of programs this one does not validate: a gw_conf validates the
 * sections in its schema, skips the other known gwkit sections (gw_conf_known_sections), and
 * reports any other section as unknown, with a did-you-mean.
 *
 * Values:
 *   int       decimal integer, optional sign
 *   bool      yes/no, true/false, on/off, 1/0
 *   string    any text (leading/trailing blanks trimmed; "quotes" removed)
 *   duration  integer with unit ms, s, m, h, d ("500ms", "30s", "5m"); a bare number is
 *             seconds. Stored as milliseconds.
 *   size      integer with unit k, m, g (powers of 1024, case-insensitive, optional "b"/"ib":
 *             "64k", "16M", "1GiB"); a bare number is bytes. Stored as bytes.
 *   addr      "host:port", "[v6]:port", "*:port" (see net.h); checked, kept as text
 *   enum      one of the schema's choices ("debug|info|warning|error"); stored as its index
 *
 * Errors are collected, not fatal, each "file:line: message" (or "env GWKIT_X_Y: message"):
 *   unknown section [hdb], did you mean [hbd]?
 *   unknown key 'listn' in [hbd], did you mean 'listen'?
 *   duplicate key 'listen' in [hbd] (first at line 3)
 *   'workers': expected an integer, got 'many'
 *   'workers': 0 is out of range (1..1024)
 *   'client_timeout': bad duration '5x' (use ms, s, m, h or d)
 *   'max_line': bad size '4q' (use k, m or g)
 *   'listen': bad address '1.2.3.4': missing port
 *   'log_level': 'loud' is not one of debug, info, warning, error
 *   syntax error
 *   [backend] needs a name: [backend NAME]
 *
 * Not thread-safe: load and read on one thread (at startup or reload), then copy the values out.
 */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util.h"

enum gw_conf_type {
    GW_CONF_INT,
    GW_CONF_BOOL,
    GW_CONF_STRING,
    GW_CONF_DURATION,
    GW_CONF_SIZE,
    GW_CONF_ADDR,
    GW_CONF_ENUM,
};

struct gw_conf_key {
    const char *name;
    enum gw_conf_type type;
    const char *def;     /* default as written in a file; NULL = no default (empty) */
    int64_t min, max;    /* bounds for int (value), duration (ms), size (bytes); min == max == 0:
                            unbounded */
    const char *choices; /* enum: "a|b|c" */
    const char *doc;     /* one line for gwkit.conf(5) and --help */
};

struct gw_conf_section {
    const char *name;                /* "global", "hbd", "backend" */
    int named;                       /* 1: written [backend NAME], may appear many times */
    const struct gw_conf_key *keys;  /* terminated by an entry with name NULL */
    const char *doc;                 /* one line */
};

/* Every section name a gwkit.conf may hold, NULL-terminated. */
extern const char *const gw_conf_known_sections[];

struct gw_conf;

/* A config that validates the given sections (NULL-terminated array), holding defaults only.
 * The schema must outlive the gw_conf. NULL on out of memory. */
struct gw_conf *gw_conf_new(const struct gw_conf_section *const *schema);
void gw_conf_free(struct gw_conf *c);

/* Loads and validates a file. A missing or unreadable file is one error
 * ("path: cannot open: No such file or directory"). Returns 0 when no error was added. */
int gw_conf_load_file(struct gw_conf *c, const char *path);

/* Same for text in memory; name is used in error messages. */
int gw_conf_load_string(struct gw_conf *c, const char *name, const char *text);

/* Applies GWKIT_<SECTION>_<KEY>=value overrides from envp (NULL-terminated, like environ) for
 * unnamed sections of the schema. A GWKIT_ variable naming a schema section but an unknown key
 * is an error with a did-you-mean. Returns 0 when no error was added. */
int gw_conf_apply_env(struct gw_conf *c, char *const *envp);

size_t gw_conf_error_count(const struct gw_conf *c);
const char *gw_conf_error(const struct gw_conf *c, size_t i);

/* Typed getters. instance is the name of a named section ("chat-1"), NULL otherwise. Asking
 * for a key the schema does not declare is a programming error and aborts.
 * gw_conf_int: int, bool (0/1), duration (ms), size (bytes), enum (index).
 * gw_conf_str: the value as text (for every type); "" when unset. */
int64_t gw_conf_int(const struct gw_conf *c, const char *section, const char *instance,
                    const char *key);
const char *gw_conf_str(const struct gw_conf *c, const char *section, const char *instance,
                        const char *key);

/* Where the value came from: "file:line", "env GWKIT_HBD_LISTEN" or "default". */
const char *gw_conf_origin(const struct gw_conf *c, const char *section, const char *instance,
                           const char *key);

/* Names of the instances of a named section, in file order; returns how many there are and
 * stores up to max of them. */
size_t gw_conf_instances(const struct gw_conf *c, const char *section, const char **names,
                         size_t max);

/* The effective config: {"hbd": {"listen": "*:9002", ...}, "backend": {"chat-1": {...}}}.
 * Ints, durations (ms), sizes and bools as JSON numbers/booleans. New reference. */
json_t *gw_conf_to_json(const struct gw_conf *c);

/* Parsers shared with command lines; 0 or -1 with err. */
int gw_conf_parse_duration(const char *s, int64_t *ms, char *err);
int gw_conf_parse_size(const char *s, int64_t *bytes, char *err);
int gw_conf_parse_bool(const char *s, int *on, char *err);

/* Writes the key list of the given sections as mdoc (.Bl/.It entries with type and default),
 * for gwkit.conf(5). */
void gw_conf_schema_mdoc(FILE *out, const struct gw_conf_section *const *schema);

#endif
