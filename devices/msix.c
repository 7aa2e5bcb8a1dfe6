#include "devices/msix.h"

#include <string.h>

#include "devices/io_bus.h"
#include "util/log.h"

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FUNCTION_MASK 0x4000
#define MSIX_ENTRY_MASKED 1

int msix_init(struct msix *x, struct pci_device *pci, unsigned nr_vectors, unsigned bar,
	      uint64_t table_offset, uint64_t pba_offset, const struct msix_ops *ops,
	      void *opaque, struct error *err)
{
	int cap;

	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS || table_offset % 8 ||
	    pba_offset % 8)
		return error_set(err, "%s: bad MSI-X geometry", pci->name);
	cap = pci_add_capability(pci, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0)
		return error_set(err, "%s: no room for the MSI-X capability", pci->name);
	memset(x, 0, sizeof(*x));
	x->pci = pci;
	x->cap = (unsigned)cap;
	x->nr_vectors = nr_vectors;
	x->table_offset = table_offset;
	x->pba_offset = pba_offset;
	x->ops = ops;
	x->opaque = opaque;
	pci_config_set(pci, x->cap + PCI_MSIX_FLAGS, 2, nr_vectors - 1);
	pci_config_set_wmask(pci, x->cap + PCI_MSIX_FLAGS, 2,
			     MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCTION_MASK);
	pci_config_set(pci, x->cap + PCI_MSIX_TABLE, 4, (uint32_t)table_offset | bar);
	pci_config_set(pci, x->cap + PCI_MSIX_PBA, 4, (uint32_t)pba_offset | bar);
	msix_reset(x);
	return 0;
}

void msix_reset(struct msix *x)
{
	uint32_t flags = pci_config_get(x->pci, x->cap + PCI_MSIX_FLAGS, 2);

	pci_config_set(x->pci, x->cap + PCI_MSIX_FLAGS, 2,
		       flags & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCTION_MASK));
	memset(x->table, 0, sizeof(x->table));
	for (unsigned v = 0; v < x->nr_vectors; v++)
		x->table[v].ctrl = MSIX_ENTRY_MASKED;
	x->pending = 0;
}

static uint16_t control(const struct msix *x)
{
	return (uint16_t)pci_config_get(x->pci, x->cap + PCI_MSIX_FLAGS, 2);
}

bool msix_enabled(const struct msix *x)
{
	return control(x) & MSIX_CTRL_ENABLE;
}

static bool vector_masked(const struct msix *x, unsigned v)
{
	return (control(x) & MSIX_CTRL_FUNCTION_MASK) || (x->table[v].ctrl & MSIX_ENTRY_MASKED);
}

/* Routes lazily: only when the message differs from what the vector last carried. */
static void deliver(struct msix *x, unsigned v)
{
	const struct msix_entry *e = &x->table[v];
	struct msix_entry *r = &x->routed_msg[v];

	if (!x->routed[v] || r->addr_lo != e->addr_lo || r->addr_hi != e->addr_hi ||
	    r->data != e->data) {
		uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;

		if (x->ops->route(x->opaque, v, addr, e->data)) {
			x->routed[v] = false;
			return; /* the ops logged why; the message is lost like on bad hardware */
		}
		x->routed[v] = true;
		*r = *e;
	}
	x->ops->fire(x->opaque, v);
}

void msix_notify(struct msix *x, unsigned vector)
{
	if (vector >= x->nr_vectors || !msix_enabled(x))
		return;
	if (vector_masked(x, vector)) {
		x->pending |= 1ULL << vector;
		return;
	}
	deliver(x, vector);
}

/* Sends what became deliverable after an unmask or enable. */
static void flush_pending(struct msix *x)
{
	if (!msix_enabled(x))
		return;
	for (unsigned v = 0; v < x->nr_vectors; v++) {
		if ((x->pending & (1ULL << v)) && !vector_masked(x, v)) {
			x->pending &= ~(1ULL << v);
			deliver(x, v);
		}
	}
}

void msix_config_written(struct msix *x)
{
	flush_pending(x);
}

static void table_access(struct msix *x, uint64_t offset, uint8_t *data, unsigned len,
			 bool is_write)
{
	/* Entries are dwords (or qwords) of the little-endian table, as the guest sees it. */
	uint8_t *raw = (uint8_t *)x->table;

	if (len > 8 || offset + len > msix_table_bytes(x->nr_vectors)) {
		if (!is_write)
			memset(data, 0, len); /* the caller reports the access as handled */
		return;
	}
	if (!is_write) {
		memcpy(data, raw + offset, len);
		return;
	}
	memcpy(raw + offset, data, len);
	/* Vector Control: only the mask bit is defined; the reserved ones read as zero. */
	for (uint64_t v = offset / sizeof(struct msix_entry);
	     v <= (offset + len - 1) / sizeof(struct msix_entry); v++)
		x->table[v].ctrl &= MSIX_ENTRY_MASKED;
	flush_pending(x);
}

bool msix_bar_access(struct msix *x, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write)
{
	if (offset >= x->table_offset && offset - x->table_offset < msix_table_bytes(x->nr_vectors)) {
		table_access(x, offset - x->table_offset, data, len, is_write);
		return true;
	}
	if (offset >= x->pba_offset && offset - x->pba_offset < 8) {
		uint64_t off = offset - x->pba_offset;
		uint8_t pba[8];

		if (!is_write && off + len <= 8) {
			for (unsigned i = 0; i < 8; i++)
				pba[i] = (uint8_t)(x->pending >> (8 * i));
			memcpy(data, pba + off, len);
		} else if (!is_write) {
			memset(data, 0, len); /* runs past the PBA */
		}
		return true; /* the PBA is read-only */
	}
	return false;
}
