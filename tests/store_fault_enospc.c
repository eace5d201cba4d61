/* SPDX-License-Identifier: Apache-2.0 */
/* Store fault "write_enospc@4" (see tests/store_faults.h for the scenario and checks). */
#include "tests/store_faults.h"

int main(void)
{
	return run_fault_case("write_enospc@4", FE_ERROR);
}
