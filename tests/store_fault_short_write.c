/* SPDX-License-Identifier: Apache-2.0 */
/* Store fault "write_short@4" (see tests/store_faults.h for the scenario and checks). */
#include "tests/store_faults.h"

int main(void)
{
	return run_fault_case("write_short@4", FE_OK);
}
