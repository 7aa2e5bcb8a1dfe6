/* Scenario "vmem_internal": an access to an unplugged block that KVM cannot emulate.
 *
 * Loads an x87 double at CPL0 (through the #GP handler: hlt at CPL3) from the start of
 * the virtio-mem region, which is unplugged: KVM finds no memslot there, and its
 * instruction emulator has no x87 loads, so this is a KVM internal error. Tide stops
 * the VM (run state internal-error) and goes on serving QMP; the scenario never gets
 * past the load. Prints
 *   # vmem internal: x87 load at CPL0 from unplugged 0x..
 *   # vmem internal: the load came back   (only where a host emulated it: FAIL)
 */
#include "virtio_mem.h"

enum tg_result scenario_vmem_internal(void)
{
	if (!vmem_open())
		return TG_FAIL;
	tg_printf("# vmem internal: x87 load at CPL0 from unplugged 0x%llx\n",
		  (unsigned long long)vmem_cfg.addr);
	__asm__ volatile("hlt" : : "D"(vmem_cfg.addr) : "memory");
	tg_printf("# vmem internal: the load came back\n");
	return TG_FAIL;
}
