/* SPDX-License-Identifier: Apache-2.0 */
/* The cross-core test again with the eventfd wake-up instead of IORING_OP_MSG_RING. */
#define WAKE_MODE "eventfd"
#include "tests/cross_core.c"
