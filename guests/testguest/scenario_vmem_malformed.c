/* Scenario "vmem_malformed": protocol violations on the virtio-mem queue.
 *
 * Each case builds one broken request (the payload is a valid STATE
 * request, so a device that misses the violation answers ACK), then
 * requires DEVICE_NEEDS_RESET in device_status and, since MSI-X is never
 * enabled, ISR bit 1 (configuration change; ISR is read once).  Then the
 * device is reset and re-initialized and a normal STATE request must be
 * answered: the device and the VMM survived.  Lines:
 *   # vmem malformed NAME: result=R [used_len=N resp=T] status=0x.. isr=0x..
 *       needs_reset=0|1 config_isr=0|1
 *   # vmem malformed NAME: recovered=0|1 ok|FAIL
 * R is DONE (the device consumed it), DEVICE_NEEDS_RESET or TIMEOUT.
 * vmem_cases=a,b,c runs a subset (default all, in table order).
 */
#include "virtio_mem.h"

static struct virtio_mem_req mreq __attribute__((aligned(64)));
static struct virtio_mem_resp mresp __attribute__((aligned(64)));
static struct vring_desc itable[2] __attribute__((aligned(64)));

#define REQ ((uint64_t)(uintptr_t)&mreq)
#define RESP ((uint64_t)(uintptr_t)&mresp)
#define DEV (&vmem_dev)

/* req -> resp, with the given address/lengths. */
static enum vpci_rc chain(uint64_t req_addr, uint32_t req_len, uint32_t resp_len,
			  struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, req_addr, req_len, VRING_DESC_F_NEXT, 1);
	vpci_set_desc(DEV, 1, RESP, resp_len, VRING_DESC_F_WRITE, 0);
	return vpci_submit(DEV, 0, 1, u);
}

static enum vpci_rc c_short_req(struct vpci_used *u)
{
	return chain(REQ, sizeof(mreq) - 1, sizeof(mresp), u);
}

static enum vpci_rc c_short_resp(struct vpci_used *u)
{
	return chain(REQ, sizeof(mreq), sizeof(mresp) - 1, u);
}

static enum vpci_rc c_write_first(struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, RESP, sizeof(mresp), VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vpci_set_desc(DEV, 1, REQ, sizeof(mreq), 0, 0);
	return vpci_submit(DEV, 0, 1, u);
}

static enum vpci_rc c_loop(struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, REQ, sizeof(mreq), VRING_DESC_F_NEXT, 0);	/* next = itself */
	return vpci_submit(DEV, 0, 1, u);
}

static enum vpci_rc c_next_oob(struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, REQ, sizeof(mreq), VRING_DESC_F_NEXT, DEV->qsize);
	return vpci_submit(DEV, 0, 1, u);
}

static enum vpci_rc c_head_oob(struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, REQ, sizeof(mreq), VRING_DESC_F_NEXT, 1);
	vpci_set_desc(DEV, 1, RESP, sizeof(mresp), VRING_DESC_F_WRITE, 0);
	return vpci_submit(DEV, DEV->qsize, 1, u);
}

static enum vpci_rc c_addr_high(struct vpci_used *u)
{
	return chain(0xFFFFFFFFF000ull, sizeof(mreq), sizeof(mresp), u);
}

/* First byte past the highest RAM entry of the memory map.  Entries that
 * continue it are skipped too (QEMU marks the firmware's top RAM pages as
 * reserved), and so is the virtio-mem region (it might be plugged RAM). */
static uint64_t ram_end(void)
{
	uint64_t end = 0;
	bool moved = true;

	for (uint32_t i = 0; i < tg_boot.nr_memmap; i++) {
		const struct hvm_memmap_table_entry *e = &tg_boot.memmap[i];

		if (e->type == E820_RAM && e->addr + e->size > end)
			end = e->addr + e->size;
	}
	while (moved) {
		moved = false;
		for (uint32_t i = 0; i < tg_boot.nr_memmap; i++) {
			const struct hvm_memmap_table_entry *e = &tg_boot.memmap[i];

			if (e->addr <= end && end < e->addr + e->size) {
				end = e->addr + e->size;
				moved = true;
			}
		}
		if (end >= vmem_cfg.addr && end < vmem_cfg.addr + vmem_cfg.region_size) {
			end = vmem_cfg.addr + vmem_cfg.region_size;
			moved = true;
		}
	}
	return end;
}

static enum vpci_rc c_addr_ram_end(struct vpci_used *u)
{
	uint64_t a = ram_end();

	tg_printf("# vmem malformed addr_ram_end: request at 0x%llx\n", (unsigned long long)a);
	return chain(a, sizeof(mreq), sizeof(mresp), u);
}

static enum vpci_rc c_addr_wrap(struct vpci_used *u)
{
	return chain(0ull - 8, sizeof(mreq), sizeof(mresp), u);	/* addr + 24 wraps */
}

static enum vpci_rc c_indirect(struct vpci_used *u)
{
	/* A well-formed indirect table, but INDIRECT_DESC was not negotiated. */
	itable[0] = (struct vring_desc){ REQ, sizeof(mreq), VRING_DESC_F_NEXT, 1 };
	itable[1] = (struct vring_desc){ RESP, sizeof(mresp), VRING_DESC_F_WRITE, 0 };
	vpci_mb();
	vpci_set_desc(DEV, 0, (uint64_t)(uintptr_t)itable, sizeof(itable), VRING_DESC_F_INDIRECT,
		      0);
	return vpci_submit(DEV, 0, 1, u);
}

static enum vpci_rc c_avail_jump(struct vpci_used *u)
{
	vpci_set_desc(DEV, 0, REQ, sizeof(mreq), VRING_DESC_F_NEXT, 1);
	vpci_set_desc(DEV, 1, RESP, sizeof(mresp), VRING_DESC_F_WRITE, 0);
	/* More new entries than the queue has slots. */
	return vpci_submit(DEV, 0, DEV->qsize + 1, u);
}

static const struct {
	const char *name;
	enum vpci_rc (*run)(struct vpci_used *u);
} cases[] = {
	{ "short_req", c_short_req },		/* request buffer < 24 bytes */
	{ "short_resp", c_short_resp },		/* response buffer < 10 bytes */
	{ "write_first", c_write_first },	/* writable descriptor before readable */
	{ "loop", c_loop },			/* next points back to itself */
	{ "next_oob", c_next_oob },		/* next >= queue size */
	{ "head_oob", c_head_oob },		/* avail ring head >= queue size */
	{ "addr_high", c_addr_high },		/* buffer at 0xFFFFFFFFF000 */
	{ "addr_ram_end", c_addr_ram_end },	/* buffer just past the end of RAM */
	{ "addr_wrap", c_addr_wrap },		/* addr + len wraps past 2^64 */
	{ "indirect", c_indirect },		/* INDIRECT without INDIRECT_DESC */
	{ "avail_jump", c_avail_jump },		/* avail idx moves > queue size */
};

/* Is `name` in vmem_cases= (or is the option absent)? */
static bool selected(const char *name)
{
	size_t len, n = strlen(name);
	const char *v = cmdline_get("vmem_cases", &len), *end;

	if (!v)
		return true;
	for (end = v + len; v < end;) {
		const char *c = v;

		while (c < end && *c != ',')
			c++;
		if ((size_t)(c - v) == n && !memcmp(v, name, n))
			return true;
		v = c + 1;
	}
	return false;
}

/* Every name in vmem_cases= must be known (a typo must not pass). */
static bool cases_known(void)
{
	size_t len;
	const char *v = cmdline_get("vmem_cases", &len), *end;
	bool ok = true;

	if (!v)
		return true;
	for (end = v + len; v < end;) {
		const char *c = v;
		bool known = false;

		while (c < end && *c != ',')
			c++;
		for (unsigned i = 0; i < TG_ARRAY_SIZE(cases); i++)
			if ((size_t)(c - v) == strlen(cases[i].name) &&
			    !memcmp(v, cases[i].name, (size_t)(c - v)))
				known = true;
		if (!known && c > v) {
			tg_printf("# vmem malformed: unknown case \"%.*s\"\n", (int)(c - v), v);
			ok = false;
		}
		v = c + 1;
	}
	return ok;
}

/* One case on a freshly initialized device; false if the device did not
 * come back (no point in running more cases then). */
static bool run_case(unsigned i, bool *case_ok)
{
	struct vpci_used u;
	enum vpci_rc rc;
	uint8_t status, isr;
	bool nr, cfg, recovered;

	memset(&mreq, 0, sizeof(mreq));
	mreq.type = VMEM_REQ_STATE;
	mreq.addr = vmem_cfg.addr;
	mreq.nb_blocks = 1;
	memset(&mresp, 0xA5, sizeof(mresp));
	(void)vpci_isr(DEV);	/* drop stale bits from earlier requests */

	rc = cases[i].run(&u);
	status = vpci_status(DEV);
	isr = vpci_isr(DEV);
	nr = status & VIRTIO_STATUS_NEEDS_RESET;
	cfg = isr & VIRTIO_ISR_CONFIG;
	tg_printf("# vmem malformed %s: result=%s", cases[i].name, vpci_rc_name(rc));
	if (rc == VPCI_DONE)
		tg_printf(" used_len=%u resp=%s", u.len,
			  vmem_resp_name(((volatile struct virtio_mem_resp *)&mresp)->type));
	tg_printf(" status=0x%02x isr=0x%02x needs_reset=%d config_isr=%d\n", status, isr, nr,
		  cfg);

	recovered = vmem_init() && vmem_expect("recovery", VMEM_REQ_STATE, vmem_cfg.addr, 1,
					       VMEM_RESP_ACK, VMEM_STATE_UNPLUGGED);
	*case_ok = nr && cfg && recovered;
	tg_printf("# vmem malformed %s: recovered=%d %s\n", cases[i].name, recovered,
		  *case_ok ? "ok" : "FAIL");
	return recovered;
}

enum tg_result scenario_vmem_malformed(void)
{
	bool ok = cases_known();
	unsigned ran = 0;

	if (!vmem_open())
		return TG_FAIL;
	for (unsigned i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		bool case_ok;

		if (!selected(cases[i].name))
			continue;
		ran++;
		if (!run_case(i, &case_ok)) {
			tg_printf("# vmem malformed: device did not recover; stopping\n");
			return TG_FAIL;
		}
		ok &= case_ok;
	}
	tg_printf("# vmem malformed: cases=%u\n", ran);
	return ok ? TG_PASS : TG_FAIL;
}
