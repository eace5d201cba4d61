/* SPDX-License-Identifier: Apache-2.0 */
/*
 * assert.h - assertions that stay on in release builds.
 *
 * ALWAYS(x): x must hold; if not, print where and abort.
 * NEVER(x):  x must not hold; same.
 * Both evaluate x exactly once, in every build.
 */
#ifndef BASE_ASSERT_H
#define BASE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define ALWAYS(x)                                                                         \
	do {                                                                              \
		if (__builtin_expect(!(x), 0)) {                                          \
			fprintf(stderr, "level=fatal msg=\"assertion failed\" expr=\"%s\" at=%s:%d\n", \
				#x, __FILE__, __LINE__);                                  \
			abort();                                                          \
		}                                                                         \
	} while (0)

#define NEVER(x) ALWAYS(!(x))

#endif
