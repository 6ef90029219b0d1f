/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum of logd's native protocol.
 *
 * Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final xor 0xFFFFFFFF, as in
 * iSCSI, ext4 and SCTP: gw_crc32c(0, "123456789", 9) == 0xE3069283. The SSE4.2 crc32
 * instruction is used when the CPU has it (checked once, at first use), otherwise a
 * table-driven slicing-by-8 loop; both give the same result. Thread-safe.
 */
#ifndef GW_CRC32C_H
#define GW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes at p, continuing from crc: pass 0 to start, and the previous result to
 * extend, so gw_crc32c(gw_crc32c(0, a, na), b, nb) is the CRC of a followed by b. */
uint32_t gw_crc32c(uint32_t crc, const void *p, size_t n);

/* The same with the portable loop only, whatever the CPU: for tests and benchmarks. */
uint32_t gw_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* 1 when gw_crc32c() uses the CPU's crc32 instruction. */
int gw_crc32c_hw(void);

#endif
