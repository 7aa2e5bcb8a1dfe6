/* Tide test guest: virtio-mem driver helpers (see virtio_mem.h).
 *
 * One request in flight at a time, like Linux: the request and response
 * buffers live in .bss and every call waits for its answer.
 */
#include "io.h"
#include "memtest.h"
#include "virtio_mem.h"

struct vpci_dev vmem_dev;
struct virtio_mem_config vmem_cfg;
bool vmem_unplugged_inaccessible;

static bool vmem_probed;
static struct virtio_mem_req default_req __attribute__((aligned(64)));
static struct virtio_mem_resp default_resp __attribute__((aligned(64)));
/* Where requests and responses go (vmem_place_buffers). */
static struct virtio_mem_req *reqp = &default_req;
static struct virtio_mem_resp *respp = &default_resp;

void vmem_place_buffers(void *area)
{
	reqp = area ? area : &default_req;
	respp = area ? (struct virtio_mem_resp *)((uint8_t *)area + 64) : &default_resp;
}

bool vmem_find(void)
{
	size_t len;
	int slot;

	/* With vpci_bar0= every open probes again, so BAR0 can move between scenarios. */
	if (vmem_probed && !cmdline_get("vpci_bar0", &len))
		return vmem_dev.found;
	vmem_probed = true;
	vpci_timeout_cycles = cmdline_get_u64("vmem_timeout", vpci_timeout_cycles);
	slot = cmdline_get("vmem_slot", &len) ? (int)cmdline_get_u64("vmem_slot", 0) : -1;
	if (!vpci_probe(&vmem_dev, VIRTIO_MEM_PCI_VENDOR, VIRTIO_MEM_PCI_DEVICE, slot)) {
		tg_printf("# vmem: no virtio-mem-pci device (1af4:1058) on bus 0\n");
		return false;
	}
	tg_printf("# vmem pci 00:%02x.%u\n", vmem_dev.dev, vmem_dev.fn);
	return true;
}

bool vmem_read_config(struct virtio_mem_config *c)
{
	struct vpci_dev *d = &vmem_dev;

	/* Same generation before and after = a consistent snapshot (§4.1.4.3). */
	for (unsigned tries = 0; tries < 16; tries++) {
		uint8_t gen = vpci_cfg_generation(d);

		memset(c, 0, sizeof(*c));
		c->block_size = vpci_cfg64(d, 0x00);
		c->node_id = vpci_cfg16(d, 0x08);
		c->addr = vpci_cfg64(d, 0x10);
		c->region_size = vpci_cfg64(d, 0x18);
		c->usable_region_size = vpci_cfg64(d, 0x20);
		c->plugged_size = vpci_cfg64(d, 0x28);
		c->requested_size = vpci_cfg64(d, 0x30);
		if (vpci_cfg_generation(d) == gen)
			return true;
	}
	tg_printf("# vmem: config_generation never settled\n");
	return false;
}

bool vmem_init(void)
{
	struct vpci_dev *d = &vmem_dev;
	uint64_t offered, accept;

	if (!vmem_find())
		return false;
	if (!d->ok) {
		tg_printf("# vmem: transport not usable (missing/bad capabilities)\n");
		return false;
	}
	if (!vpci_reset(d))
		return false;
	vpci_set_status(d, VIRTIO_STATUS_ACK);
	vpci_set_status(d, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	offered = vpci_get_features(d);
	if (!(offered & VIRTIO_F_VERSION_1)) {
		tg_printf("# vmem: VERSION_1 not offered (features 0x%llx)\n",
			  (unsigned long long)offered);
		return false;
	}
	/* Only what the tests rely on; QEMU also offers INDIRECT_DESC,
	 * EVENT_IDX, ACPI_PXM, which would change the ring protocol. */
	accept = VIRTIO_F_VERSION_1 | (offered & VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
	vmem_unplugged_inaccessible = accept & VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE;
	vpci_set_features(d, accept);
	if (!vpci_features_ok(d)) {
		tg_printf("# vmem: FEATURES_OK refused for 0x%llx\n", (unsigned long long)accept);
		return false;
	}
	if (!vpci_setup_queue(d, VQ_MAX))
		return false;
	vpci_driver_ok(d);
	if (vpci_status(d) & VIRTIO_STATUS_NEEDS_RESET) {
		tg_printf("# vmem: DEVICE_NEEDS_RESET right after DRIVER_OK (status 0x%x)\n",
			  vpci_status(d));
		return false;
	}
	if (!vmem_read_config(&vmem_cfg))
		return false;
	/*
	 * Without 1 GiB pages the map extends by about 60 GiB at most: a larger region
	 * gets its usable part mapped (the only part a driver may plug).
	 */
	if (vmem_cfg.region_size && !paging_map_identity(vmem_cfg.addr, vmem_cfg.region_size)) {
		if (!vmem_cfg.usable_region_size ||
		    !paging_map_identity(vmem_cfg.addr, vmem_cfg.usable_region_size)) {
			tg_printf("# vmem: cannot identity-map the region 0x%llx+0x%llx\n",
				  (unsigned long long)vmem_cfg.addr,
				  (unsigned long long)vmem_cfg.region_size);
			return false;
		}
		tg_printf("# vmem: identity-mapped the usable region only (0x%llx bytes)\n",
			  (unsigned long long)vmem_cfg.usable_region_size);
	}
	return true;
}

bool vmem_open(void)
{
	const struct virtio_mem_config *c = &vmem_cfg;

	if (!vmem_init())
		return false;
	tg_printf("# vmem open: addr=0x%llx block_size=0x%llx region_size=0x%llx "
		  "usable_region_size=0x%llx requested_size=0x%llx plugged_size=0x%llx\n",
		  (unsigned long long)c->addr, (unsigned long long)c->block_size,
		  (unsigned long long)c->region_size, (unsigned long long)c->usable_region_size,
		  (unsigned long long)c->requested_size, (unsigned long long)c->plugged_size);
	if (!c->block_size || (c->block_size & (c->block_size - 1))) {
		tg_printf("# vmem: block_size 0x%llx is not a power of two\n",
			  (unsigned long long)c->block_size);
		return false;
	}
	if (c->plugged_size) {
		/* Left over from an earlier scenario or boot: start clean, as
		 * Linux does after a device reset. */
		tg_printf("# vmem open: plugged_size != 0, sending UNPLUG_ALL\n");
		if (!vmem_expect("open unplug_all", VMEM_REQ_UNPLUG_ALL, 0, 0, VMEM_RESP_ACK, -1) ||
		    !vmem_check_plugged("open unplug_all", 0))
			return false;
	}
	return true;
}

enum vpci_rc vmem_request(uint16_t type, uint64_t addr, uint16_t nb_blocks, uint16_t *resp_type,
			  uint16_t *state)
{
	struct vpci_used u;
	enum vpci_rc rc;

	memset(reqp, 0, sizeof(*reqp));
	reqp->type = type;
	reqp->addr = addr;
	reqp->nb_blocks = nb_blocks;
	/* Garbage in the response shows when the device did not write it. */
	memset(respp, 0xA5, sizeof(*respp));
	rc = vpci_request(&vmem_dev, reqp, sizeof(*reqp), respp, sizeof(*respp), &u);
	if (rc != VPCI_DONE)
		return rc;
	if (u.len != sizeof(*respp)) {
		tg_printf("# vmem: used len=%u for a request, expected %u\n", u.len,
			  (unsigned)sizeof(*respp));
		return VPCI_BAD_USED;
	}
	*resp_type = ((volatile struct virtio_mem_resp *)respp)->type;
	*state = ((volatile struct virtio_mem_resp *)respp)->state;
	return VPCI_DONE;
}

static const char *const req_names[] = { "PLUG", "UNPLUG", "UNPLUG_ALL", "STATE" };

bool vmem_expect(const char *what, uint16_t type, uint64_t addr, uint16_t nb_blocks,
		 uint16_t want_resp, int want_state)
{
	uint16_t rt = 0xFFFF, st = 0xFFFF;
	enum vpci_rc rc = vmem_request(type, addr, nb_blocks, &rt, &st);
	bool ok = rc == VPCI_DONE && rt == want_resp && (want_state < 0 || st == want_state);

	if (!ok) {
		tg_printf("# vmem %s: %s addr=0x%llx nb_blocks=%u -> %s", what,
			  type < 4 ? req_names[type] : "?", (unsigned long long)addr, nb_blocks,
			  vmem_outcome(rc, rt));
		if (rc == VPCI_DONE && type == VMEM_REQ_STATE)
			tg_printf(" state=%s", vmem_state_name(st));
		tg_printf(", expected %s", vmem_resp_name(want_resp));
		if (want_state >= 0)
			tg_printf(" state=%s", vmem_state_name((uint16_t)want_state));
		tg_printf(" (device status 0x%x)\n", vpci_status(&vmem_dev));
	}
	return ok;
}

bool vmem_change_range(uint16_t type, uint64_t addr, uint64_t nblocks)
{
	while (nblocks) {
		uint16_t n = nblocks > VMEM_MAX_BLOCKS_PER_REQ ? VMEM_MAX_BLOCKS_PER_REQ
							       : (uint16_t)nblocks;

		if (!vmem_expect(type == VMEM_REQ_PLUG ? "plug" : "unplug", type, addr, n,
				 VMEM_RESP_ACK, -1))
			return false;
		addr += n * vmem_cfg.block_size;
		nblocks -= n;
	}
	return true;
}

bool vmem_state_is(const char *what, uint64_t addr, uint64_t nblocks, uint16_t want)
{
	while (nblocks) {
		uint16_t n = nblocks > VMEM_MAX_BLOCKS_PER_REQ ? VMEM_MAX_BLOCKS_PER_REQ
							       : (uint16_t)nblocks;

		if (!vmem_expect(what, VMEM_REQ_STATE, addr, n, VMEM_RESP_ACK, want))
			return false;
		addr += n * vmem_cfg.block_size;
		nblocks -= n;
	}
	return true;
}

bool vmem_check_plugged(const char *what, uint64_t want)
{
	if (!vmem_read_config(&vmem_cfg))
		return false;
	if (vmem_cfg.plugged_size != want) {
		tg_printf("# vmem %s: plugged_size=0x%llx, expected 0x%llx\n", what,
			  (unsigned long long)vmem_cfg.plugged_size, (unsigned long long)want);
		return false;
	}
	return true;
}

uint64_t vmem_count_nonzero(const char *what, uint64_t addr, uint64_t size)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;
	uint64_t bad = 0;

	for (uint64_t i = 0; i < size / 8; i++) {
		uint64_t v = p[i];

		if (v && !bad++)
			tg_printf("# vmem %s: first non-zero word at 0x%llx = 0x%016llx\n", what,
				  (unsigned long long)(addr + i * 8), (unsigned long long)v);
	}
	return bad;
}

static uint64_t seed(void)
{
	return cmdline_get_u64("seed", MEMTEST_DEFAULT_SEED);
}

void vmem_fill(uint64_t addr, uint64_t size)
{
	memtest_fill(addr, size, seed());
}

bool vmem_verify(const char *what, uint64_t addr, uint64_t size)
{
	struct memtest_result r = { 0 };

	memtest_verify(addr, size, seed(), &r);
	if (r.bad_words)
		tg_printf("# vmem %s: %llu bad words, first at 0x%llx expected=0x%016llx "
			  "found=0x%016llx\n",
			  what, (unsigned long long)r.bad_words,
			  (unsigned long long)r.first_bad_addr, (unsigned long long)r.expected,
			  (unsigned long long)r.found);
	return !r.bad_words;
}

const char *vmem_resp_name(uint16_t t)
{
	switch (t) {
	case VMEM_RESP_ACK:
		return "ACK";
	case VMEM_RESP_NACK:
		return "NACK";
	case VMEM_RESP_BUSY:
		return "BUSY";
	case VMEM_RESP_ERROR:
		return "ERROR";
	}
	return "UNKNOWN_RESPONSE";
}

const char *vmem_state_name(uint16_t s)
{
	switch (s) {
	case VMEM_STATE_PLUGGED:
		return "PLUGGED";
	case VMEM_STATE_UNPLUGGED:
		return "UNPLUGGED";
	case VMEM_STATE_MIXED:
		return "MIXED";
	}
	return "UNKNOWN_STATE";
}

const char *vmem_outcome(enum vpci_rc rc, uint16_t resp_type)
{
	return rc == VPCI_DONE ? vmem_resp_name(resp_type) : vpci_rc_name(rc);
}

void vmem_print_config(const char *prefix, const struct virtio_mem_config *c)
{
	tg_printf("%s block_size=0x%llx node_id=%u addr=0x%llx region_size=0x%llx "
		  "usable_region_size=0x%llx plugged_size=0x%llx requested_size=0x%llx\n",
		  prefix, (unsigned long long)c->block_size, c->node_id,
		  (unsigned long long)c->addr, (unsigned long long)c->region_size,
		  (unsigned long long)c->usable_region_size,
		  (unsigned long long)c->plugged_size, (unsigned long long)c->requested_size);
}

uint64_t vmem_opt_blocks(const char *who, unsigned copies)
{
	uint64_t nb = cmdline_get_u64("vmem_blocks", 4);
	const struct virtio_mem_config *c = &vmem_cfg;

	/* Plugging beyond requested_size is NACKed by design. */
	if (!nb || nb > c->requested_size / c->block_size / copies) {
		tg_printf("# vmem %s: vmem_blocks=%llu x %u does not fit requested_size=0x%llx "
			  "(block_size 0x%llx)\n",
			  who, (unsigned long long)nb, copies,
			  (unsigned long long)c->requested_size, (unsigned long long)c->block_size);
		return 0;
	}
	return nb;
}

void vmem_wait_line(void)
{
	char ignored[2];

	/* Same rules as scenario "input"; no timeout (the harness owns it). */
	serial_read_line(ignored, sizeof(ignored));
}
