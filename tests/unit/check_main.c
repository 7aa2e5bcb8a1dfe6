/* Shared main() for the unit-test programs: each defines suite_main(). */
#include <check.h>
#include <stdlib.h>

Suite *suite_main(void);

int main(void)
{
	SRunner *runner = srunner_create(suite_main());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
