/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The opcode table covers every opcode of the protocol and nothing else:
 * each named opcode has a handler and roles, each handler has a name, and
 * every error code has a name.
 */
#include "net/server.h"
#include "tests/testlib.h"

int main(void)
{
	static const unsigned ops[] = {
		HRL_OP_HELLO, HRL_OP_AUTH, HRL_OP_PING, HRL_OP_STATS, HRL_OP_STORE_STATS, HRL_OP_APP_CREATE,
		HRL_OP_APP_LIST, HRL_OP_APP_ROTATE, HRL_OP_BIND, HRL_OP_UNBIND, HRL_OP_ALIAS_SET,
		HRL_OP_ALIAS_DEL, HRL_OP_ALIAS_LOOKUP, HRL_OP_TAG_ADD, HRL_OP_TAG_DEL,
		HRL_OP_ATTR_SET, HRL_OP_USER_SHOW, HRL_OP_RECEIPT_PUT, HRL_OP_HISTORY, HRL_OP_CAMPAIGN_COUNTERS,
		HRL_OP_CAMPAIGN_CREATE, HRL_OP_CAMPAIGN_STATUS, HRL_OP_CAMPAIGN_CONTROL, HRL_OP_VENDOR_SET, HRL_OP_VENDOR_LIST,
		HRL_OP_CAMPAIGN_UPLOAD,
	};
	unsigned handlers = 0;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		CHECK(ops[i] < HRL_OP_TABLE_SIZE);
		CHECK(net_ops[ops[i]].fn != NULL && net_ops[ops[i]].roles != 0);
		CHECK(net_op_name(ops[i]) != NULL);
	}
	for (unsigned op = 0; op < HRL_OP_TABLE_SIZE; op++) {
		if (net_ops[op].fn)
			handlers++;
		CHECK((net_ops[op].fn != NULL) == (net_op_name(op) != NULL));
	}
	CHECK(handlers == sizeof(ops) / sizeof(ops[0]));
	for (int e = 1; e < HRL_E_COUNT; e++)
		CHECK(strcmp(net_err_name(e), "E_UNKNOWN") != 0);
	CHECK(strcmp(net_err_name(HRL_E_COUNT), "E_UNKNOWN") == 0);
	return 0;
}
