/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - structured log lines (logfmt) on stderr:
 *   ts=2026-11-22T02:45:14.123Z level=info core=0 msg="listening" addr=127.0.0.1:7600
 * The caller writes the key=value pairs after msg in its format string.
 * Any thread; one write(2) per line so lines from cores do not interleave.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

enum base_log_level { BASE_LOG_DEBUG, BASE_LOG_INFO, BASE_LOG_WARN, BASE_LOG_ERROR };

extern enum base_log_level base_log_min;
extern __thread int base_log_core; /* -1 outside a core thread */

__attribute__((format(printf, 2, 3))) void base_log(enum base_log_level lvl, const char *fmt, ...);
/* Parse "debug", "info", "warn", "error". 0 or -EINVAL. */
int base_log_parse_level(const char *s, enum base_log_level *out);

#endif
