/*
 * wsgwd_schema.h -- wsgwd's config schema, shared with gwctl (validate, gwkit.conf(5)).
 */
#ifndef WSGWD_SCHEMA_H
#define WSGWD_SCHEMA_H

#include "conf.h"

extern const struct gw_conf_section wsgw_conf_section;
extern const struct gw_conf_section wsgw_backend_section;
/* [global], [wsgwd] and [backend NAME], NULL-terminated. */
extern const struct gw_conf_section *const wsgw_schema[];

/* What the schema cannot say, for a config without schema errors: every [backend NAME] has an
 * address, jwt_alg has its key (HS256: jwt_secret; RS256, ES256: a readable jwt_public_key),
 * allowed_origins and subprotocols are well-formed lists. The message starts with the key's
 * origin ("file:line: ..."). 0 or -1 with err. */
int wsgw_conf_check(const struct gw_conf *c, char *err);

#endif
