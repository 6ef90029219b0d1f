/*
 * conf.h -- gwkit.conf: INI (libinih underneath) checked against schema tables.
 *
 * Each program declares its keys once, in a table of struct gw_conf_key (name, type, default,
 * min, max, doc, flags, and the struct field it fills). From that table come parsing,
 * validation, defaults, GWKIT_<SECTION>_<KEY> environment overrides, the effective config as
 * JSON, the key list of gwkit.conf(5), the program's settings struct (gw_conf_bind: no key name
 * typed twice) and the keys a reload cannot change (GW_CONF_RESTART).
 *
 * A file may hold sections of programs this one does not validate: a gw_conf validates the
 * sections in its schema, skips the other known gwkit sections (gw_prog_sections in progs.h)
 * without looking at them, and reports any other section as unknown, with a did-you-mean.
 *
 * Syntax (libinih's): "[section]" or "[section NAME]" for a named section, "key = value"
 * (or "key: value"), comments on lines starting with ';' or '#', and after a value behind
 * " ;" (even inside quotes: write "a;b", not "a ; b"). Leading blanks are ignored, so indented
 * files work; continuation lines are not supported. A line holds at most GW_CONF_MAX_LINE bytes
 * (libinih's buffer); a longer line is an error, never cut. Instance names are 1..GW_CONF_MAX_NAME
 * letters, digits, '.', '_' or '-'.
 *
 * Values (leading/trailing blanks trimmed, one pair of surrounding "quotes" removed):
 *   int       decimal integer, optional sign
 *   bool      yes/no, true/false, on/off, 1/0 (any case)
 *   string    printable UTF-8 text
 *   duration  integer with unit ms, s, m, h, d ("500ms", "30s", "5m"); a bare number is
 *             seconds. Stored as milliseconds.
 *   size      integer with unit k, m, g (powers of 1024, case-insensitive, optional "b"/"ib":
 *             "64k", "16M", "1GiB"); a bare number (or "b") is bytes. Stored as bytes.
 *   addr      "host:port", "[v6]:port", "*:port", "unix:/path" (see net.h); checked, kept as
 *             text. Host names are checked for form only: they are resolved when used.
 *   enum      one of the schema's choices ("debug|info|warning|error", any case); stored as
 *             its index, gw_conf_str gives the choice as the schema spells it
 *
 * Errors are collected, not fatal, each "file:line: message" (or "env GWKIT_X_Y: message"),
 * at most GW_CONF_MAX_ERRORS of them (then "too many errors"):
 *   path: cannot open: No such file or directory
 *   path: read error: Is a directory
 *   syntax error: expected key = value
 *   syntax error: missing ']'
 *   line too long (max 1024 bytes)
 *   line contains a NUL byte
 *   too many lines (max 1000000)
 *   key 'listen' outside a section
 *   unknown section [hdb], did you mean [hbd]?
 *   empty section name []
 *   section name too long (max 48 bytes)
 *   [backend] needs a name: [backend NAME]
 *   [hbd] takes no name
 *   bad name 'a b' for [backend] (use up to 32 letters, digits, '.', '_' or '-')
 *   duplicate section [backend chat-1] (first at line 3)
 *   too many [backend] sections (max 1024)
 *   unknown key 'listn' in [hbd], did you mean 'listen'?
 *   duplicate key 'listen' in [hbd] (first at line 3)
 *   'workers': expected an integer, got 'many'
 *   'workers': 0 is out of range (1..1024)
 *   'workers': 99999999999999999999 is too large
 *   'fsync': expected yes/no, true/false, on/off or 1/0, got 'maybe'
 *   'client_timeout': bad duration '5x' (use ms, s, m, h or d)
 *   'client_timeout': 2h is out of range (1s..1h)
 *   'client_timeout': duration '9999999999999d' is too large
 *   'max_line': bad size '4q' (use k, m or g)
 *   'max_line': size '99999999999g' is too large
 *   'listen': bad address: missing port in '1.2.3.4'   (the reason from gw_net_parse_addr)
 *   'listen': bad address: bad host name '-x-' in '-x-:80'
 *   'listen': bad address: not printable UTF-8 text
 *   'log_level': 'loud' is not one of debug, info, warning, error
 *   'motd': not printable UTF-8 text
 *   'motd': missing closing quote          ("a ; b": inih ends a value at " ;", quotes or not)
 *   value too long (max 1024 bytes)         (environment only)
 * A did-you-mean is offered only for a close name (edit distance at most 2, or a third of the
 * name's length for long names). Ranges print in the key's units: "(1s..1h)", "(4KiB..16MiB)",
 * "(at least 1)", "(at most 10)".
 *
 * Sources: gw_conf_new sets the schema's defaults; each load (a file, a string, the
 * environment) replaces the values it names. Within one file a key or a named section may
 * appear once; reopening an unnamed section ([hbd] twice) is fine.
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

/* Longest line a file may hold, without its end of line: room for a few webhook URLs. libinih's
 * compiled-in 200-byte stack buffer is replaced by a heap one of this size (Debian builds inih
 * with its limits as run-time globals). */
#define GW_CONF_MAX_LINE 1024
/* Lines a source may hold; reading stops there with an error. */
#define GW_CONF_MAX_LINES 1000000
/* Longest instance name in [backend NAME]. */
#define GW_CONF_MAX_NAME 32
/* Instances a named section may have. */
#define GW_CONF_MAX_INSTANCES 1024
/* Errors kept; past this, one "too many errors" closes the list. */
#define GW_CONF_MAX_ERRORS 100

enum gw_conf_type {
    GW_CONF_INT,
    GW_CONF_BOOL,
    GW_CONF_STRING,
    GW_CONF_DURATION,
    GW_CONF_SIZE,
    GW_CONF_ADDR,
    GW_CONF_ENUM,
};

/* Read at start only: a reload logs a change of it (lib/daemon.c) instead of applying it. */
#define GW_CONF_RESTART 0x1u

struct gw_conf_key {
    const char *name;
    enum gw_conf_type type;
    const char *def;     /* default as written in a file; NULL = no default (empty) */
    int64_t min, max;    /* bounds for int (value), duration (ms), size (bytes); min == max == 0:
                            unbounded; INT64_MIN / INT64_MAX for an open end. Unused for the
                            other types. */
    const char *choices; /* enum: "a|b|c" */
    const char *doc;     /* one line for gwkit.conf(5) and --help */
    unsigned flags;      /* GW_CONF_RESTART */
    /* The field gw_conf_bind fills, as GW_CONF_FIELD(struct settings, member); 0, 0: none.
     * int, bool, duration (ms), size (bytes) and enum (index) keys fill an integer field of 1,
     * 2, 4 or 8 bytes (signed or unsigned: the key's min..max must fit either way; an unbounded
     * key needs 8); string and addr keys fill a char * with a copy of the text. */
    size_t offset, size;
};

/* The offset and size of a settings struct's member, for a key's last two fields. */
#define GW_CONF_FIELD(type, member) offsetof(type, member), sizeof(((type *)0)->member)

struct gw_conf_section {
    const char *name;               /* "global", "hbd", "backend" */
    int named;                      /* 1: written [backend NAME], may appear many times */
    const struct gw_conf_key *keys; /* terminated by an entry with name NULL */
    const char *doc;                /* one line */
};

struct gw_conf;

/* A config that validates the given sections (NULL-terminated array), holding defaults only.
 * The schema must outlive the gw_conf. NULL on out of memory, and NULL (printing nothing) for a
 * broken schema: a default that does not parse or is out of range, min > max, an enum without
 * choices, a name used twice, a section or key name not made of [a-z0-9_], a bound field whose
 * size does not fit the key (see struct gw_conf_key). */
struct gw_conf *gw_conf_new(const struct gw_conf_section *const *schema);
void gw_conf_free(struct gw_conf *c);

/* Loads and validates a file. A missing or unreadable file is one error
 * ("path: cannot open: No such file or directory"). Values that fail validation are left as
 * they were. Returns 0 when no error was added, -1 otherwise. */
int gw_conf_load_file(struct gw_conf *c, const char *path);

/* Same for text in memory; name is used in error messages. */
int gw_conf_load_string(struct gw_conf *c, const char *name, const char *text);

/* Applies GWKIT_<SECTION>_<KEY>=value overrides from envp (NULL-terminated, like environ) for
 * unnamed sections of the schema; SECTION is the section's name upper-cased, KEY the key's
 * (GWKIT_HBD_CLIENT_TIMEOUT=5s). A GWKIT_ variable naming a schema section but an unknown key
 * is an error with a did-you-mean; other GWKIT_ variables are left alone (they may be another
 * program's). Call it after loading the file: the environment wins. Returns 0 when no error was
 * added, -1 otherwise. */
int gw_conf_apply_env(struct gw_conf *c, char *const *envp);

/* The errors of every load so far, in order; i < gw_conf_error_count(). */
size_t gw_conf_error_count(const struct gw_conf *c);
const char *gw_conf_error(const struct gw_conf *c, size_t i);

/* Typed getters. instance is the name of a named section ("chat-1"), NULL otherwise; an
 * instance the file does not have (or NULL for a named section) reads as the defaults.
 * Asking for a section or key the schema does not declare, an instance of an unnamed section,
 * or gw_conf_int of a string or addr key is a programming error and aborts.
 * gw_conf_int: int, bool (0/1), duration (ms), size (bytes), enum (index); 0 when unset.
 * gw_conf_str: the value as text (for every type); "" when unset. The pointer is valid until
 * the next load or gw_conf_free. */
int64_t gw_conf_int(const struct gw_conf *c, const char *section, const char *instance,
                    const char *key);
const char *gw_conf_str(const struct gw_conf *c, const char *section, const char *instance,
                        const char *key);

/* Fills the settings struct dst from one section (instance as for the getters): every key
 * bound to a field (GW_CONF_FIELD) gets its value; text fields get a malloc'd copy that
 * gw_conf_unbind frees. dst's text fields must be NULL (a zeroed struct). Returns 0, or -1 with
 * err on out of memory (then the text fields are NULL again). Asking for a section the schema
 * does not declare aborts, as for the getters. */
int gw_conf_bind(const struct gw_conf *c, const char *section, const char *instance, void *dst,
                 char *err);

/* Frees the text fields gw_conf_bind filled in dst from section s, and sets them to NULL. Needs
 * no gw_conf, so a settings struct can outlive the config it came from. */
void gw_conf_unbind(const struct gw_conf_section *s, void *dst);

/* The key of section s bound to the field at offset (offsetof(struct settings, member)), or
 * NULL: lets a program name a key in a message without typing its name again. */
const struct gw_conf_key *gw_conf_field_key(const struct gw_conf_section *s, size_t offset);

/* A restart-only key whose value differs between two configs. */
struct gw_conf_change {
    const char *section; /* "hbd" */
    const char *key;     /* "listen" */
};

/* Compares every GW_CONF_RESTART key of the unnamed sections both configs validate (for a
 * reload: old, the running config, and c, the new one); stores up to max changes in out, in
 * schema order, and returns how many there are. The names live as long as the schema. */
size_t gw_conf_restart_changes(const struct gw_conf *old, const struct gw_conf *c,
                               struct gw_conf_change *out, size_t max);

/* Where the value came from: "file:line", "env GWKIT_HBD_LISTEN" or "default". Valid until the
 * next load or gw_conf_free. */
const char *gw_conf_origin(const struct gw_conf *c, const char *section, const char *instance,
                           const char *key);

/* Names of the instances of a named section, in file order; returns how many there are and
 * stores up to max of them (0 for an unnamed section). The names live as long as c. */
size_t gw_conf_instances(const struct gw_conf *c, const char *section, const char **names,
                         size_t max);

/* The effective config: {"hbd": {"listen": "*:9002", ...}, "backend": {"chat-1": {...}}}.
 * Ints, durations (ms) and sizes (bytes) as numbers, bools as booleans, enums, strings and
 * addrs as strings, unset keys as null; every schema section appears (a named one as an
 * object of its instances). New reference; NULL on out of memory. */
json_t *gw_conf_to_json(const struct gw_conf *c);

/* The same shape with every value a string as written in the file, or the schema's default,
 * units and all ("60s", "64k", "yes"): what people read. */
json_t *gw_conf_to_text_json(const struct gw_conf *c);

/* Parsers shared with command lines ("gwbench -d 10s"); 0, or -1 with err as in the list
 * above without the key ("bad duration '5x' (use ms, s, m, h or d)"). */
int gw_conf_parse_duration(const char *s, int64_t *ms, char *err);
int gw_conf_parse_size(const char *s, int64_t *bytes, char *err);
int gw_conf_parse_bool(const char *s, int *on, char *err);

/* Writes the key list of the given sections as mdoc for gwkit.conf(5): per section a .Ss
 * heading, its doc line, and a .Bl -tag list with ".It Ic key Ar type", the doc line, the
 * range, whether a reload applies it (GW_CONF_RESTART) and the default. Meant to be embedded
 * in a page's DESCRIPTION. */
void gw_conf_schema_mdoc(FILE *out, const struct gw_conf_section *const *schema);

#endif
