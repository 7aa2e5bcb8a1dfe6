/*
 * libFuzzer target: the command line. The input is split at NUL bytes into arguments
 * after "tide"; every option, -device and -object parser and their cross-checks run,
 * as before anything starts. Sizes get a second look on their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cmdline.h"
#include "util/size.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2] = { "tide" };
	FILE *out = fopen("/dev/null", "w");
	struct vm_config cfg;
	struct error err;
	uint64_t value;
	int argc = 1;

	if (!copy || !out) {
		free(copy);
		if (out)
			fclose(out);
		return 0;
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	parse_size(copy, 1, &value, &err);
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i += strlen(copy + i) + 1)
		argv[argc++] = copy + i;
	argv[argc] = NULL;
	cmdline_parse(argc, argv, &cfg, out, &err);
	cmdline_free(&cfg);
	fclose(out);
	free(copy);
	return 0;
}
