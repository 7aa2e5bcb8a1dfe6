/* Scenario "kvmclock": guest time stands still while the VM is stopped (QMP stop, cont).
 *
 * Registers a kvmclock (MSR_KVM_SYSTEM_TIME_NEW), prints "# kvmclock: running", then reads
 * the clock in a loop and keeps the largest step between two reads, until the flag
 * PVCLOCK_GUEST_STOPPED appears (the VMM's KVM_KVMCLOCK_CTRL after a stop) or
 * kvmclock_timeout_s= seconds of guest time pass (default 60). A VMM that stops the clock
 * for the stop leaves a small largest step; one that does not, a step as long as the stop.
 *   # kvmclock: stopped flag after N reads; largest step U us
 */
#include "io.h"
#include "tg.h"

#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define PVCLOCK_GUEST_STOPPED 2

/* The ABI's pvclock_vcpu_time_info. */
struct pvclock_time {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
};

static volatile struct pvclock_time pvclock __attribute__((aligned(64)));

/* Nanoseconds of guest time, and the flags read with them (the version protocol). */
static uint64_t read_clock(uint8_t *flags)
{
	uint32_t version;
	uint64_t ns;

	do {
		version = pvclock.version;
		__asm__ volatile("lfence" ::: "memory");
		uint64_t delta = rdtsc() - pvclock.tsc_timestamp;
		int8_t shift = pvclock.tsc_shift;

		delta = shift < 0 ? delta >> -shift : delta << shift;
		ns = pvclock.system_time +
		     (uint64_t)(((unsigned __int128)delta * pvclock.tsc_to_system_mul) >> 32);
		*flags = pvclock.flags;
		__asm__ volatile("lfence" ::: "memory");
	} while ((version & 1) || version != pvclock.version);
	return ns;
}

enum tg_result scenario_kvmclock(void)
{
	uint64_t timeout_ns = cmdline_get_u64("kvmclock_timeout_s", 60) * 1000000000ull;
	uint64_t start, prev, now, largest = 0, reads = 0;
	uint8_t flags;

	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvclock | 1);
	for (int i = 0; i < 1000000 && pvclock.version == 0; i++)
		cpu_relax();
	if (pvclock.version == 0) {
		tg_printf("# kvmclock: the host never wrote the clock\n");
		return TG_FAIL;
	}
	start = prev = read_clock(&flags);
	tg_printf("# kvmclock: running\n");
	for (;;) {
		now = read_clock(&flags);
		reads++;
		if (now - prev > largest)
			largest = now - prev;
		prev = now;
		if (flags & PVCLOCK_GUEST_STOPPED)
			break;
		if (now - start > timeout_ns) {
			tg_printf("# kvmclock: no stopped flag within %llu s; largest step %llu us\n",
				  (unsigned long long)(timeout_ns / 1000000000ull),
				  (unsigned long long)(largest / 1000));
			return TG_FAIL;
		}
	}
	tg_printf("# kvmclock: stopped flag after %llu reads; largest step %llu us\n",
		  (unsigned long long)reads, (unsigned long long)(largest / 1000));
	return TG_PASS;
}
