/* SPDX-License-Identifier: Apache-2.0 */
/* Store fault "crash_torn@4" (see tests/store_faults.h for the scenario and checks). */
#include "tests/store_faults.h"

int main(void)
{
	return run_fault_case("crash_torn@4", FE_CRASH);
}
