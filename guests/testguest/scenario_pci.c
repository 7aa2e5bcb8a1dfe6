/* Scenario "pci": enumerate PCI bus 0 through configuration mechanism #1.
 *
 * For every present function:
 *   # pci 00:DD.F vendor=VVVV device=DDDD class=CCCCCC header=HH
 *   # pci 00:DD.F barN raw=0x... size=0x... mem32|mem64|io [pref]
 * BARs are sized the standard way (decode disabled in the command register,
 * except for host bridges; save, write all ones, read back, restore).
 * Pass: a host bridge (class 0x0600xx) at 00:00.0, and every pair listed in
 * expect_pci=VVVV:DDDD[,VVVV:DDDD...] is present on bus 0.
 */
#include "tg.h"

#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2

#define MAX_FOUND 256

struct pci_fn {
	uint8_t dev, fn;
	uint16_t vendor, device;
};

static struct pci_fn found[MAX_FOUND];
static unsigned nfound;

static uint64_t lowest_bit(uint64_t v)
{
	return v & (~v + 1);
}

static void size_bars(uint8_t dev, uint8_t fn, unsigned nbars, bool host_bridge)
{
	uint16_t cmd = pci_read16(0, dev, fn, PCI_COMMAND);

	if (!host_bridge)
		pci_write16(0, dev, fn, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));

	for (unsigned i = 0; i < nbars; i++) {
		uint8_t reg = PCI_BAR0 + 4 * i;
		uint32_t orig = pci_read32(0, dev, fn, reg), sz, orig_hi = 0, sz_hi = 0;
		bool io = orig & 1, mem64 = !io && ((orig >> 1) & 3) == 2;
		uint64_t raw, size;
		unsigned idx = i;

		pci_write32(0, dev, fn, reg, 0xFFFFFFFFu);
		sz = pci_read32(0, dev, fn, reg);
		pci_write32(0, dev, fn, reg, orig);
		if (mem64 && i + 1 < nbars) {
			orig_hi = pci_read32(0, dev, fn, reg + 4);
			pci_write32(0, dev, fn, reg + 4, 0xFFFFFFFFu);
			sz_hi = pci_read32(0, dev, fn, reg + 4);
			pci_write32(0, dev, fn, reg + 4, orig_hi);
			i++;
		}
		if (io) {
			raw = orig;
			size = lowest_bit(sz & ~3u);
		} else {
			raw = ((uint64_t)orig_hi << 32) | orig;
			size = lowest_bit(((uint64_t)sz_hi << 32) | (sz & ~0xFu));
		}
		if (!size && !raw)
			continue;	/* unimplemented BAR */
		if (mem64)
			tg_printf("# pci 00:%02x.%u bar%u raw=0x%016llx size=0x%llx mem64%s\n", dev,
				  fn, idx, (unsigned long long)raw, (unsigned long long)size,
				  (orig & 8) ? " pref" : "");
		else
			tg_printf("# pci 00:%02x.%u bar%u raw=0x%08llx size=0x%llx %s%s\n", dev, fn,
				  idx, (unsigned long long)raw, (unsigned long long)size,
				  io ? "io" : "mem32", (!io && (orig & 8)) ? " pref" : "");
	}

	if (!host_bridge)
		pci_write16(0, dev, fn, PCI_COMMAND, cmd);
}

static void probe_fn(uint8_t dev, uint8_t fn)
{
	uint32_t id = pci_read32(0, dev, fn, PCI_VENDOR);
	uint32_t class = pci_read32(0, dev, fn, PCI_CLASS_REV) >> 8;
	uint8_t hdr = pci_read8(0, dev, fn, PCI_HEADER_TYPE);
	unsigned nbars = (hdr & 0x7f) == 0 ? 6 : (hdr & 0x7f) == 1 ? 2 : 0;

	tg_printf("# pci 00:%02x.%u vendor=%04x device=%04x class=%06x header=%02x\n", dev, fn,
		  id & 0xffff, id >> 16, class, hdr);
	if (nfound < MAX_FOUND) {
		found[nfound].dev = dev;
		found[nfound].fn = fn;
		found[nfound].vendor = id & 0xffff;
		found[nfound].device = id >> 16;
		nfound++;
	}
	size_bars(dev, fn, nbars, (class >> 8) == 0x0600);
}

static bool check_expected(void)
{
	size_t len;
	const char *v = cmdline_get("expect_pci", &len);
	bool ok = true;

	if (!v)
		return true;
	while (len) {
		size_t item = 0, n;
		uint64_t ven = 0, did = 0;
		bool parsed, present = false;

		while (item < len && v[item] != ',')
			item++;
		n = tg_parse_u64(v, item, 16, &ven);
		parsed = n && n < item && v[n] == ':' &&
			 tg_parse_u64(v + n + 1, item - n - 1, 16, &did) == item - n - 1 &&
			 ven <= 0xffff && did <= 0xffff;
		if (!parsed) {
			tg_printf("# expect_pci: cannot parse \"%.*s\"\n", (int)item, v);
			ok = false;
		} else {
			for (unsigned i = 0; i < nfound; i++) {
				if (found[i].vendor == ven && found[i].device == did) {
					tg_printf("# expect_pci %04llx:%04llx found at 00:%02x.%u\n",
						  (unsigned long long)ven, (unsigned long long)did,
						  found[i].dev, found[i].fn);
					present = true;
					break;
				}
			}
			if (!present) {
				tg_printf("# expect_pci %04llx:%04llx MISSING\n",
					  (unsigned long long)ven, (unsigned long long)did);
				ok = false;
			}
		}
		v += item;
		len -= item;
		if (len) {	/* skip the comma */
			v++;
			len--;
		}
	}
	return ok;
}

enum tg_result scenario_pci(void)
{
	bool host_bridge;
	uint32_t class0;

	nfound = 0;
	for (uint8_t dev = 0; dev < 32; dev++) {
		uint16_t vendor = pci_read16(0, dev, 0, PCI_VENDOR);
		unsigned nfn;

		if (vendor == 0xffff || vendor == 0x0000)
			continue;
		nfn = (pci_read8(0, dev, 0, PCI_HEADER_TYPE) & 0x80) ? 8 : 1;
		for (uint8_t fn = 0; fn < nfn; fn++) {
			if (fn) {
				vendor = pci_read16(0, dev, fn, PCI_VENDOR);
				if (vendor == 0xffff || vendor == 0x0000)
					continue;
			}
			probe_fn(dev, fn);
		}
	}
	tg_printf("# pci functions=%u\n", nfound);

	class0 = pci_read32(0, 0, 0, PCI_CLASS_REV) >> 8;
	host_bridge = nfound && found[0].dev == 0 && found[0].fn == 0 && (class0 >> 8) == 0x0600;
	if (!host_bridge)
		tg_printf("# pci: no host bridge (class 0600xx) at 00:00.0\n");
	return check_expected() && host_bridge ? TG_PASS : TG_FAIL;
}
