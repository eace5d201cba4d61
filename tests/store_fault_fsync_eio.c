/* SPDX-License-Identifier: Apache-2.0 */
/* Store fault "fsync_eio@4" (see tests/store_faults.h for the scenario and checks). */
#include "tests/store_faults.h"

int main(void)
{
	return run_fault_case("fsync_eio@4", FE_ERROR_MAYBE_ON_DISK);
}
