/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret.c - app secrets in their human form: 64 hex digits, the way
 * APP_CREATE results are shown and <data-dir>/admin.secret is written
 * (64 lowercase digits and a newline). Pure functions; any thread.
 */
#include "include/herald.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define SECRET_HEX_DIGITS (2 * HRL_SECRET_BYTES)

/* A secret file is the digits, optional whitespace, and nothing more. */

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_hex(const char *hex, size_t len, uint8_t secret[HRL_SECRET_BYTES])
{
	uint8_t out[HRL_SECRET_BYTES];

	if (len < SECRET_HEX_DIGITS)
		return -EINVAL;
	for (size_t i = 0; i < HRL_SECRET_BYTES; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	for (size_t i = SECRET_HEX_DIGITS; i < len; i++)
		if (!strchr(" \t\r\n", hex[i]))
			return -EINVAL;
	memcpy(secret, out, HRL_SECRET_BYTES);
	return 0;
}

int herald_secret_parse(const char *hex, uint8_t secret[HRL_SECRET_BYTES])
{
	return parse_hex(hex, strlen(hex), secret);
}

void herald_secret_format(const uint8_t secret[HRL_SECRET_BYTES],
			  char out[2 * HRL_SECRET_BYTES + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < HRL_SECRET_BYTES; i++) {
		out[2 * i] = digits[secret[i] >> 4];
		out[2 * i + 1] = digits[secret[i] & 15];
	}
	out[SECRET_HEX_DIGITS] = '\0';
}

int herald_secret_read_file(const char *path, uint8_t secret[HRL_SECRET_BYTES])
{
	char text[HRL_SECRET_FILE_BYTES_MAX + 1];
	size_t len = 0;
	int rc = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(text)) {
		ssize_t n = read(fd, text + len, sizeof(text) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out_close_fd;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > HRL_SECRET_FILE_BYTES_MAX || memchr(text, '\0', len)) {
		rc = -EINVAL;
		goto out_close_fd;
	}
	rc = parse_hex(text, len, secret);

out_close_fd:
	close(fd);
	return rc;
}
