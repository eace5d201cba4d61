/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c.h - CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * base_crc32c(0, p, n) is the standard CRC32C of n bytes (init ~0, final ~).
 * Chaining: base_crc32c(base_crc32c(0, a, na), b, nb) == crc of a||b.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
 * Any thread may call it.
 */
#ifndef BASE_CRC32C_H
#define BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t base_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t base_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t base_crc32c_hw(uint32_t crc, const void *buf, size_t len);
int base_crc32c_hw_available(void);

#endif
