/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c.c - CRC32C with an SSE4.2 path and a portable table path.
 *
 * Both compute the same function; tests/crc32c.c checks them against the
 * published check value (crc32c("123456789") == 0xE3069283) and against
 * each other on random input. The hardware path is chosen once, at the
 * first call, with __builtin_cpu_supports.
 */
#include "base/crc32c.h"

#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc32c_table[8][256];
static int crc32c_table_ready;

static void crc32c_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (c & 1u)));
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
					     crc32c_table[0][crc32c_table[t - 1][i] & 0xFF];
	__atomic_store_n(&crc32c_table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t base_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!__atomic_load_n(&crc32c_table_ready, __ATOMIC_ACQUIRE))
		crc32c_table_init(); /* idempotent: racing threads write equal values */
	crc = ~crc;
	while (len >= 8) { /* slicing by 8 */
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc32c_table[7][w & 0xFF] ^ crc32c_table[6][(w >> 8) & 0xFF] ^
		      crc32c_table[5][(w >> 16) & 0xFF] ^ crc32c_table[4][(w >> 24) & 0xFF] ^
		      crc32c_table[3][(w >> 32) & 0xFF] ^ crc32c_table[2][(w >> 40) & 0xFF] ^
		      crc32c_table[1][(w >> 48) & 0xFF] ^ crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xFF];
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t base_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	if (len & 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		c32 = __builtin_ia32_crc32si(c32, w);
		p += 4;
	}
	if (len & 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		c32 = __builtin_ia32_crc32hi(c32, w);
		p += 2;
	}
	if (len & 1)
		c32 = __builtin_ia32_crc32qi(c32, *p);
	return ~c32;
}

int base_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t base_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return base_crc32c_sw(crc, buf, len);
}

int base_crc32c_hw_available(void)
{
	return 0;
}
#endif

static uint32_t (*crc32c_impl)(uint32_t, const void *, size_t);

uint32_t base_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t (*f)(uint32_t, const void *, size_t) =
		__atomic_load_n(&crc32c_impl, __ATOMIC_ACQUIRE);
	if (!f) {
		f = base_crc32c_hw_available() ? base_crc32c_hw : base_crc32c_sw;
		__atomic_store_n(&crc32c_impl, f, __ATOMIC_RELEASE);
	}
	return f(crc, buf, len);
}
