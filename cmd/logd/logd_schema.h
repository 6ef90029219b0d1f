/*
 * logd_schema.h -- logd's config schema, shared with gwctl (validate).
 */
#ifndef LOGD_SCHEMA_H
#define LOGD_SCHEMA_H

#include "conf.h"

extern const struct gw_conf_section logd_conf_section;
/* [global] and [logd], NULL-terminated. */
extern const struct gw_conf_section *const logd_schema[];

/* What the schema cannot say (zmq_listen is a ZeroMQ endpoint, output a path or template
 * without "..", listeners may be "off"), for a config without schema errors; the message starts
 * with the key's origin ("file:line: ..."). 0 or -1 with err. */
int logd_conf_check(const struct gw_conf *c, char *err);

#endif
