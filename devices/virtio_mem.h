/*
 * -device virtio-mem-pci (virtio_mem.c): what the rest of tide may ask of a
 * running device. The QMP server resizes it through here.
 */
#ifndef TIDE_VIRTIO_MEM_H
#define TIDE_VIRTIO_MEM_H

#include <stdint.h>

#include "util/error.h"

struct virtio_mem;

/*
 * QMP's qom-set requested-size: a block multiple up to the device size, or an
 * error and nothing changes. A change raises a config interrupt, and the new
 * size survives a reboot, as in QEMU.
 */
int virtio_mem_set_requested_size(struct virtio_mem *vm, uint64_t size, struct error *err);

#endif
