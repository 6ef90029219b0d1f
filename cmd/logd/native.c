/*
 * native.c -- the native acknowledged protocol over TCP (lib/native.h): one batch per frame,
 * acknowledged with the highest sequence number that is durable.
 */
#include "logd.h"

int
logd_native_start(struct logd_worker *ws, char *err)
{
    (void)ws;
    (void)err;
    return 0;
}

void
logd_native_stop(struct logd_worker *ws)
{
    (void)ws;
}

void
logd_native_acks(struct logd_worker *ws)
{
    (void)ws;
}

void
logd_native_pushed(struct logd_conn *lc, uint64_t seq)
{
    (void)lc;
    (void)seq;
}
