/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit.h - the counting CHECK of the unit tests: a failed check is printed
 * and counted, the test goes on, and main() exits 1 if any failed (unlike
 * testlib.h's CHECK, which stops an integration test at the first failure).
 */
#ifndef HERALD_TESTS_UNIT_H
#define HERALD_TESTS_UNIT_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			failures++;                                                      \
		}                                                                        \
	} while (0)

#endif
