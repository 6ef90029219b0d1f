/*
 * hbd_schema.h -- hbd's config schema, shared with gwctl (validate).
 */
#ifndef HBD_SCHEMA_H
#define HBD_SCHEMA_H

#include "conf.h"

extern const struct gw_conf_section hbd_conf_section;
/* [global] and [hbd], NULL-terminated. */
extern const struct gw_conf_section *const hbd_schema[];

/* What the schema cannot say (alert_url holds http(s) URLs), for a config without schema
 * errors; the message starts with the key's origin ("file:line: ..."). 0 or -1 with err. */
int hbd_conf_check(const struct gw_conf *c, char *err);

#endif
