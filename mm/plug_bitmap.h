/*
 * One bit per virtio-mem block: the single source of truth for what is plugged.
 * Range tests and updates work a 64-bit word at a time (a 1 TiB device with
 * 2 MiB blocks is 512 Ki bits, 8 KiB of words).
 */
#ifndef TIDE_PLUG_BITMAP_H
#define TIDE_PLUG_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

struct plug_bitmap {
	uint64_t *words;
	uint64_t nr_blocks;
	uint64_t nr_plugged; /* kept in step with the bits, for STATE and the counters */
};

enum plug_state { PLUG_STATE_UNPLUGGED, PLUG_STATE_PLUGGED, PLUG_STATE_MIXED };

/* All blocks start unplugged. Returns -1 when out of memory. */
int plug_bitmap_init(struct plug_bitmap *bm, uint64_t nr_blocks);
void plug_bitmap_free(struct plug_bitmap *bm);

/*
 * Ranges are [first, first + count); callers validate them first:
 * count > 0 and first + count <= nr_blocks (checked with an assertion).
 */
bool plug_bitmap_all_set(const struct plug_bitmap *bm, uint64_t first, uint64_t count);
bool plug_bitmap_all_clear(const struct plug_bitmap *bm, uint64_t first, uint64_t count);
enum plug_state plug_bitmap_state(const struct plug_bitmap *bm, uint64_t first, uint64_t count);
void plug_bitmap_set(struct plug_bitmap *bm, uint64_t first, uint64_t count);
void plug_bitmap_clear(struct plug_bitmap *bm, uint64_t first, uint64_t count);
void plug_bitmap_clear_all(struct plug_bitmap *bm);
/* Plugged blocks inside the range (for memslot decisions: "did this slot become empty?"). */
uint64_t plug_bitmap_count(const struct plug_bitmap *bm, uint64_t first, uint64_t count);
/*
 * The first run of plugged blocks at or after `from`: true with [*first, *first + *count),
 * false when nothing from `from` on is plugged (UNPLUG_ALL works run by run).
 */
bool plug_bitmap_next_run(const struct plug_bitmap *bm, uint64_t from, uint64_t *first,
			  uint64_t *count);

#endif
