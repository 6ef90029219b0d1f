/*
 * wsgwd_ctl.h -- wsgwd's own control commands: their names, argument keys and reply fields,
 * declared once for wsgwd (ctl.c, client.c) and gwctl (commands.c, print.c). The commands every
 * daemon answers are lib/daemon.c's.
 */
#ifndef WSGWD_CTL_H
#define WSGWD_CTL_H

/* clients {} -> {clients: [client, ...]}: the WebSocket clients past the handshake. */
#define WSGW_CMD_CLIENTS "clients"
/* kick {id, code?} -> {id, code}; not_found for an unknown id. */
#define WSGW_CMD_KICK "kick"
/* backends {} -> {backends: [backend, ...]}, in config order. */
#define WSGW_CMD_BACKENDS "backends"

/* Arguments. */
#define WSGW_ARG_ID "id"     /* kick: the client id */
#define WSGW_ARG_CODE "code" /* kick: the close code, default WSGW_KICK_CODE */
#define WSGW_KICK_CODE 1008

/* A client of the clients reply. */
#define WSGW_F_CLIENTS "clients"
#define WSGW_F_ID "id"
#define WSGW_F_ADDR "addr"
#define WSGW_F_PATH "path" /* "path?query" of the upgrade */
#define WSGW_F_BACKEND "backend"
#define WSGW_F_STATE "state" /* open or closing */
#define WSGW_F_WORKER "worker"
#define WSGW_F_CONNECTED_S "connected_s"
#define WSGW_F_MESSAGES "messages" /* both ways */
#define WSGW_F_MESSAGES_IN "messages_in"
#define WSGW_F_BYTES_IN "bytes_in"
#define WSGW_F_BYTES_OUT "bytes_out"

/* The kick reply: WSGW_F_ID and WSGW_F_CODE. */
#define WSGW_F_CODE "code"

/* A backend of the backends reply. */
#define WSGW_F_BACKENDS "backends"
#define WSGW_F_NAME "name"
#define WSGW_F_ADDRESS "address"
#define WSGW_F_PROTOCOL "protocol" /* frames or raw */
#define WSGW_F_LINKS "links"       /* framed links up */
#define WSGW_F_WORKERS "workers"
#define WSGW_F_CONNECT_FAILURES "connect_failures"
#define WSGW_F_FRAMES_IN "frames_in"
#define WSGW_F_FRAMES_OUT "frames_out"
/* and WSGW_F_ID, WSGW_F_STATE (up or down), WSGW_F_CLIENTS (a count here) */

#endif
