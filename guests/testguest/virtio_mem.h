/* Tide test guest: virtio-mem helpers on top of virtio_pci.c (spec §5.15). */
#ifndef TG_VIRTIO_MEM_H
#define TG_VIRTIO_MEM_H

#include "virtio_pci.h"

#define VIRTIO_MEM_PCI_VENDOR 0x1AF4
#define VIRTIO_MEM_PCI_DEVICE 0x1058

/* Device feature bits */
#define VIRTIO_MEM_F_ACPI_PXM (1ull << 0)
#define VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE (1ull << 1)
#define VIRTIO_MEM_F_PERSISTENT_SUSPEND (1ull << 2)

/* Request types */
#define VMEM_REQ_PLUG 0
#define VMEM_REQ_UNPLUG 1
#define VMEM_REQ_UNPLUG_ALL 2
#define VMEM_REQ_STATE 3

/* Response types */
#define VMEM_RESP_ACK 0
#define VMEM_RESP_NACK 1
#define VMEM_RESP_BUSY 2
#define VMEM_RESP_ERROR 3

/* STATE results */
#define VMEM_STATE_PLUGGED 0
#define VMEM_STATE_UNPLUGGED 1
#define VMEM_STATE_MIXED 2

/* Largest nb_blocks of one request (the field is a u16). */
#define VMEM_MAX_BLOCKS_PER_REQ 65535u

/* Device configuration, 56 bytes (offsets in the comments). */
struct virtio_mem_config {
	uint64_t block_size;		/* 0x00 */
	uint16_t node_id;		/* 0x08 */
	uint8_t padding[6];
	uint64_t addr;			/* 0x10 */
	uint64_t region_size;		/* 0x18 */
	uint64_t usable_region_size;	/* 0x20 */
	uint64_t plugged_size;		/* 0x28 */
	uint64_t requested_size;	/* 0x30 */
};
_Static_assert(sizeof(struct virtio_mem_config) == 56, "virtio-mem config is 56 bytes");

struct virtio_mem_req {
	uint16_t type;
	uint16_t padding[3];
	uint64_t addr;
	uint16_t nb_blocks;
	uint16_t padding2[3];
};
_Static_assert(sizeof(struct virtio_mem_req) == 24, "virtio-mem request is 24 bytes");

struct virtio_mem_resp {
	uint16_t type;
	uint16_t padding[3];
	uint16_t state;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_mem_resp) == 10, "virtio-mem response is 10 bytes");

/* The device and its last-read configuration. */
extern struct vpci_dev vmem_dev;
extern struct virtio_mem_config vmem_cfg;
/* vmem_init() accepted VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE (the device offered it). */
extern bool vmem_unplugged_inaccessible;

/* Probe once (vmem_slot=N picks the slot, vmem_timeout=CYCLES the wait
 * bound).  False (with a message) if absent. vmem_dev.ok may still be false. */
bool vmem_find(void);
/* Read all fields, retried until config_generation is stable. */
bool vmem_read_config(struct virtio_mem_config *c);
/* Full driver init (reset, ACK, DRIVER, VERSION_1 + UNPLUGGED_INACCESSIBLE
 * if offered, FEATURES_OK, queue 0, DRIVER_OK), read vmem_cfg, map the
 * region.  Does not touch plug state. */
bool vmem_init(void);
/* vmem_find + vmem_init, then UNPLUG_ALL if anything is plugged, so a
 * scenario starts from a clean device.  Prints a "# vmem open ..." line. */
bool vmem_open(void);

/* Requests and responses for the next vmem_request()s: 128 bytes at area, or NULL for
 * the default buffers in .bss. */
void vmem_place_buffers(void *area);

/* One request; resp_type/state are valid when VPCI_DONE is returned. */
enum vpci_rc vmem_request(uint16_t type, uint64_t addr, uint16_t nb_blocks, uint16_t *resp_type,
			  uint16_t *state);
/* Send a request and compare with the expected response (and STATE result
 * unless want_state < 0); prints a line on mismatch. */
bool vmem_expect(const char *what, uint16_t type, uint64_t addr, uint16_t nb_blocks,
		 uint16_t want_resp, int want_state);
/* PLUG or UNPLUG nblocks from addr in requests of <= 65535 blocks, each ACKed. */
bool vmem_change_range(uint16_t type, uint64_t addr, uint64_t nblocks);
/* STATE of nblocks from addr (chunked) equals want. */
bool vmem_state_is(const char *what, uint64_t addr, uint64_t nblocks, uint16_t want);
/* Re-read the config and check plugged_size. */
bool vmem_check_plugged(const char *what, uint64_t want);
/* Count non-zero 8-byte words (first one printed). */
uint64_t vmem_count_nonzero(const char *what, uint64_t addr, uint64_t size);
/* Pattern fill/verify with the memtest.c pattern (seed= option). */
void vmem_fill(uint64_t addr, uint64_t size);
bool vmem_verify(const char *what, uint64_t addr, uint64_t size);

/* "ACK", "NACK", ... or the transport outcome when rc != VPCI_DONE. */
const char *vmem_outcome(enum vpci_rc rc, uint16_t resp_type);
const char *vmem_resp_name(uint16_t t);
const char *vmem_state_name(uint16_t s);
void vmem_print_config(const char *prefix, const struct virtio_mem_config *c);

/* vmem_blocks= (default 4), checked against requested_size for `copies`
 * separate ranges; 0 with a message when they cannot all be plugged. */
uint64_t vmem_opt_blocks(const char *who, unsigned copies);

/* Block until a line arrives on the serial port (for host-side sampling). */
void vmem_wait_line(void);

#endif
