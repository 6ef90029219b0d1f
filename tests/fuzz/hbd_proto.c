/*
 * hbd_proto.c -- libFuzzer target for hbd's request line parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hbd/hbd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hbd_req req;
    char *line = malloc(size + 1);

    if (!line)
        return 0;
    memcpy(line, data, size);
    hbd_proto_parse(line, size, &req);
    if (req.kind == HBD_REQ_ERROR &&
        (!req.error || !req.error[0] || (unsigned)req.error_kind >= HBD_ERR_COUNT ||
         (hbd_errs[req.error_kind].reply && strcmp(req.error, hbd_errs[req.error_kind].reply))))
        abort();
    if (req.kind == HBD_REQ_HB) {
        if (!req.service || strlen(req.service) == 0 || strlen(req.service) > HBD_MAX_NAME)
            abort();
        if (req.nlabels > HBD_MAX_LABELS)
            abort();
    }
    free(line);
    return 0;
}
