/*
 * hbd_schema.h -- hbd's config schema, shared with gwctl (validate).
 */
#ifndef HBD_SCHEMA_H
#define HBD_SCHEMA_H

#include "conf.h"

extern const struct gw_conf_section hbd_conf_section;
/* [global] and [hbd], NULL-terminated. */
extern const struct gw_conf_section *const hbd_schema[];

#endif
