/*
 * libFuzzer target: a virtio-pci device as a guest driver sees it. Each input is a
 * sequence of accesses (PCI config space reads and writes at any offset and length, BAR0
 * common/ISR/device/notify and BAR2 MSI-X table/PBA reads and writes), against a fresh
 * device whose queue, when the driver sets one up, lies in 64 KiB of fuzzer-written RAM,
 * and whose virtio-mem requests are answered by a real virtio-mem core. Whatever the
 * driver does, tide must neither crash nor read or write outside what it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_input.h"
#include "devices/pci.h"
#include "devices/virtio_mem_core.h"
#include "devices/virtio_pci.h"
#include "util/log.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE (64u << 10)

static struct vmem_core core;

static uint64_t dev_features(void *dev)
{
	(void)dev;
	return VIRTIO_FEATURE(1); /* VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE */
}

static bool dev_features_ok(void *dev, uint64_t accepted)
{
	(void)dev;
	return accepted & 1; /* refuses some, accepts others */
}

static void dev_read_config(void *dev, unsigned offset, uint8_t *data, unsigned len)
{
	(void)dev;
	memset(data, (int)offset, len);
}

static int dev_process_queue(void *dev, unsigned index, struct virtqueue *vq, int budget,
			     struct error *err)
{
	struct vmem_result result;
	uint16_t type;
	int done = 0, ret = 0;

	(void)dev, (void)index;
	while (done < budget && (ret = vmem_serve_request(&core, vq, &result, &type, err)) == 1)
		done++;
	return ret < 0 ? -1 : done;
}

static void dev_reset(void *dev)
{
	(void)dev;
}

static const struct virtio_device_ops dev_ops = {
	.device_id = 24,
	.config_size = 56,
	.features = dev_features,
	.features_ok = dev_features_ok,
	.read_config = dev_read_config,
	.process_queue = dev_process_queue,
	.reset = dev_reset,
};

static int route(void *opaque, unsigned vector, uint64_t addr, uint32_t data)
{
	(void)opaque, (void)vector, (void)addr, (void)data;
	return 0;
}

static void fire(void *opaque, unsigned vector)
{
	(void)opaque, (void)vector;
}

static const struct msix_ops msix = { route, fire };

static int map_bar(void *bus_opaque, uint64_t addr, uint64_t size, io_handler_fn handler,
		   void *opaque, const char *name, struct error *err)
{
	(void)bus_opaque, (void)addr, (void)size, (void)handler, (void)opaque, (void)name,
		(void)err;
	return 0;
}

static void unmap_bar(void *bus_opaque, uint64_t addr, uint64_t size, void *opaque)
{
	(void)bus_opaque, (void)addr, (void)size, (void)opaque;
}

static void set_irq(void *bus_opaque, unsigned gsi, int level)
{
	(void)bus_opaque, (void)gsi, (void)level;
}

static const struct pci_bus_ops bus_ops = { map_bar, unmap_bar, set_irq };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct error err;

	(void)argc, (void)argv;
	log_threshold = LOG_ERROR;
	/* No memslots, no backend: requests are answered, nothing is mapped. */
	if (vmem_core_init(&core, 4ULL << 30, 1ULL << 30, 2ULL << 20, 1ULL << 30, NULL, NULL,
			   &err))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE];
	struct guest_mem mem = { 0 };
	struct virtio_pci_env env = { .mem = &mem, .vm_fd = -1, .msix_ops = &msix };
	const uint8_t *p = data, *end = data + size;
	struct virtio_pci vp;
	struct pci_bus *bus;
	struct error err;
	int slot;

	memset(ram, 0, sizeof(ram));
	if (guest_mem_add(&mem, RAM_GPA, RAM_SIZE, ram, &err) ||
	    virtio_pci_init(&vp, "fuzz", &dev_ops, NULL, 1, 128, &env, &err))
		abort();
	bus = pci_bus_new(&bus_ops, NULL, 0xe0000000ULL, 0xf0000000ULL);
	slot = bus ? pci_bus_add(bus, &vp.pci, -1, &err) : -1;
	if (slot < 0)
		abort();
	while (p < end) {
		unsigned op = (unsigned)fuzz_take(&p, end, 1), len = 1u << (op >> 6);
		uint64_t offset = fuzz_take(&p, end, 2);
		uint8_t bytes[8] = { 0 };
		uint64_t value = fuzz_take(&p, end, len);

		memcpy(bytes, &value, len);
		switch (op & 7) {
		case 0:
			pci_bus_config_read(bus, 0, PCI_DEVFN(slot, 0), offset % 4096, len > 4 ? 4 : len);
			break;
		case 1:
			pci_bus_config_write(bus, 0, PCI_DEVFN(slot, 0), offset % 4096,
					     len > 4 ? 4 : len, (uint32_t)value);
			break;
		case 2:
		case 3:
			virtio_pci_bar0_access(&vp, offset % 0x4000, bytes, len, op & 1);
			break;
		case 4:
		case 5:
			virtio_pci_bar2_access(&vp, offset % 0x1000, bytes, len, op & 1);
			break;
		default: /* the driver writes its RAM: rings and requests */
			memcpy(ram + offset % (RAM_SIZE - 8), bytes, len);
			break;
		}
	}
	pci_bus_remove(&vp.pci);
	pci_bus_free(bus);
	virtio_pci_destroy(&vp);
	return 0;
}
