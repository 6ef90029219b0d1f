/*
 * net_addr.c -- libFuzzer target for gw_net_parse_addr (numeric forms only: no DNS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[GW_ERR_LEN], shown[GW_ADDR_STRLEN];
    struct gw_addr a;
    char *s;
    int flags;

    if (size == 0 || size > 4096)
        return 0;
    /* First byte picks the flags; the rest is the address string. */
    flags = GW_NET_NO_RESOLVE | (data[0] & 1 ? GW_NET_ALLOW_PORT0 : 0);
    if ((s = malloc(size)) == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    err[0] = '\0';
    if (gw_net_parse_addr(s, flags, &a, err) == 0) {
        gw_net_addr_str((const struct sockaddr *)&a.ss, a.len, shown, sizeof(shown));
        if (gw_net_addr_port(&a) > 65535 || (a.ss.ss_family != AF_UNIX && a.len == 0))
            abort();
    } else if (err[0] == '\0' || strlen(err) >= GW_ERR_LEN) {
        abort();
    }
    free(s);
    return 0;
}
