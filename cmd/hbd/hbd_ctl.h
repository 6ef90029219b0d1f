/*
 * hbd_ctl.h -- hbd's own control commands: their names, argument keys and reply fields,
 * declared once for hbd (ctl.c, registry.c, worker.c) and gwctl (commands.c, print.c), as
 * relayctl builds with relayd.h. The commands every daemon answers are lib/daemon.c's.
 */
#ifndef HBD_CTL_H
#define HBD_CTL_H

/* services {state?, service?, limit?} -> {services: [service, ...]}: the registry, sorted by
 * name, at most limit services. With {stream: true} (gwctl) each service is one stream line
 * instead, in chunks, and the reply is {count, matched}: the size of the listing is then
 * bounded by nothing but the registry, and the daemon holds only the sorted names while it
 * streams. */
#define HBD_CMD_SERVICES "services"
/* clients {} -> {clients: [client, ...]}: the open TCP connections. */
#define HBD_CMD_CLIENTS "clients"
/* forget {service} -> {forgotten: name}; not_found for an unknown service. */
#define HBD_CMD_FORGET "forget"

/* Arguments. */
#define HBD_ARG_STATE "state"     /* services: keep one state, one of HBD_STATE_CHOICES */
#define HBD_ARG_SERVICE "service" /* services: one service; forget: the service */
#define HBD_ARG_LIMIT "limit"     /* services: at most this many (the first by name) */
#define HBD_ARG_STREAM "stream"   /* services: true: one stream line per service */
#define HBD_STATE_CHOICES "up|late|dead"

/* A service of the services reply, and each of its instances (the fields marked [i] too). */
#define HBD_F_SERVICES "services"
#define HBD_F_NAME "name"               /* [i] "" for an unnamed instance */
#define HBD_F_STATE "state"             /* [i] up, late or dead */
#define HBD_F_SINCE "since"             /* RFC 3339, when it entered its state */
#define HBD_F_LAST_SEEN "last_seen"     /* [i] RFC 3339 */
#define HBD_F_SILENT_MS "silent_ms"     /* [i] */
#define HBD_F_INTERVAL_MS "interval_ms" /* [i] */
#define HBD_F_HEARTBEATS "heartbeats"   /* [i] */
#define HBD_F_MIN_UP "min_up"
#define HBD_F_LABELS "labels" /* {key: value} of its last HB */
#define HBD_F_INSTANCES "instances"
#define HBD_F_ADDR "addr" /* [i] the sender of its last HB */

/* The end of a streamed services listing. */
#define HBD_F_COUNT "count"     /* services sent */
#define HBD_F_MATCHED "matched" /* services that matched the filters (before limit) */

/* The forget reply. */
#define HBD_F_FORGOTTEN "forgotten"

/* A client of the clients reply. */
#define HBD_F_CLIENTS "clients"
#define HBD_F_ID "id"
#define HBD_F_WORKER "worker"
#define HBD_F_CONNECTED_S "connected_s"
#define HBD_F_IDLE_S "idle_s"
#define HBD_F_MESSAGES "messages"
#define HBD_F_BYTES_IN "bytes_in"

#endif
