/* Reading -kernel and -initrd, the same on every architecture; each checks its own format. */
#include "arch/arch.h"

#include <stdlib.h>
#include <string.h>

#include "util/file.h"

int arch_read_boot_files(const char *kernel, const char *initrd, struct boot_files *files,
			 struct error *err)
{
	/* Read errors name the path themselves. */
	if (file_read_all(kernel, &files->kernel, &files->kernel_len, err))
		return error_prefix(err, "-kernel");
	if (arch_check_kernel(files->kernel, files->kernel_len, err))
		return error_prefix(err, "-kernel %s", kernel);
	if (initrd && file_read_all(initrd, &files->initrd, &files->initrd_len, err))
		return error_prefix(err, "-initrd");
	return 0;
}

void arch_free_boot_files(struct boot_files *files)
{
	free(files->kernel);
	free(files->initrd);
	memset(files, 0, sizeof(*files));
}
