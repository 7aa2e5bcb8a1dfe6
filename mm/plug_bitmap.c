#include "mm/plug_bitmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64u

int plug_bitmap_init(struct plug_bitmap *bm, uint64_t nr_blocks)
{
	uint64_t nr_words = (nr_blocks + WORD_BITS - 1) / WORD_BITS;

	memset(bm, 0, sizeof(*bm));
	bm->words = calloc(nr_words ? nr_words : 1, sizeof(*bm->words));
	if (!bm->words)
		return -1;
	bm->nr_blocks = nr_blocks;
	return 0;
}

void plug_bitmap_free(struct plug_bitmap *bm)
{
	free(bm->words);
	memset(bm, 0, sizeof(*bm));
}

/* Mask of the bits of word w that lie inside [first, end). */
static uint64_t word_mask(uint64_t w, uint64_t first, uint64_t end)
{
	uint64_t lo = w * WORD_BITS, hi = lo + WORD_BITS;
	uint64_t from = first > lo ? first - lo : 0;
	uint64_t to = end < hi ? end - lo : WORD_BITS;
	uint64_t upper = to == WORD_BITS ? ~0ULL : (1ULL << to) - 1;

	return upper & ~((1ULL << from) - 1);
}

/*
 * Calls fn on each word the range touches with that word's mask; stops early
 * when fn returns false. The inner words get the all-ones mask.
 */
typedef bool (*word_fn)(uint64_t *word, uint64_t mask, void *acc);

static bool for_each_word(uint64_t *words, uint64_t nr_blocks, uint64_t first, uint64_t count,
			  word_fn fn, void *acc)
{
	uint64_t end = first + count;

	assert(count > 0 && end > first && end <= nr_blocks);
	(void)nr_blocks;
	for (uint64_t w = first / WORD_BITS; w <= (end - 1) / WORD_BITS; w++)
		if (!fn(&words[w], word_mask(w, first, end), acc))
			return false;
	return true;
}

static bool word_all_set(uint64_t *word, uint64_t mask, void *acc)
{
	(void)acc;
	return (*word & mask) == mask;
}

static bool word_all_clear(uint64_t *word, uint64_t mask, void *acc)
{
	(void)acc;
	return (*word & mask) == 0;
}

static bool word_count(uint64_t *word, uint64_t mask, void *acc)
{
	*(uint64_t *)acc += (uint64_t)__builtin_popcountll(*word & mask);
	return true;
}

static bool word_set(uint64_t *word, uint64_t mask, void *acc)
{
	*(uint64_t *)acc += (uint64_t)__builtin_popcountll(mask & ~*word);
	*word |= mask;
	return true;
}

static bool word_clear(uint64_t *word, uint64_t mask, void *acc)
{
	*(uint64_t *)acc += (uint64_t)__builtin_popcountll(mask & *word);
	*word &= ~mask;
	return true;
}

bool plug_bitmap_all_set(const struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	return for_each_word(bm->words, bm->nr_blocks, first, count, word_all_set, NULL);
}

bool plug_bitmap_all_clear(const struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	return for_each_word(bm->words, bm->nr_blocks, first, count, word_all_clear, NULL);
}

enum plug_state plug_bitmap_state(const struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	if (plug_bitmap_all_set(bm, first, count))
		return PLUG_STATE_PLUGGED;
	if (plug_bitmap_all_clear(bm, first, count))
		return PLUG_STATE_UNPLUGGED;
	return PLUG_STATE_MIXED;
}

uint64_t plug_bitmap_count(const struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	uint64_t n = 0;

	for_each_word(bm->words, bm->nr_blocks, first, count, word_count, &n);
	return n;
}

void plug_bitmap_set(struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	uint64_t changed = 0;

	for_each_word(bm->words, bm->nr_blocks, first, count, word_set, &changed);
	bm->nr_plugged += changed;
}

void plug_bitmap_clear(struct plug_bitmap *bm, uint64_t first, uint64_t count)
{
	uint64_t changed = 0;

	for_each_word(bm->words, bm->nr_blocks, first, count, word_clear, &changed);
	bm->nr_plugged -= changed;
}

void plug_bitmap_clear_all(struct plug_bitmap *bm)
{
	if (bm->nr_blocks)
		plug_bitmap_clear(bm, 0, bm->nr_blocks);
}

/* First bit >= from whose value is `set`, or nr_blocks; a word at a time. */
static uint64_t find_next(const struct plug_bitmap *bm, uint64_t from, bool set)
{
	while (from < bm->nr_blocks) {
		uint64_t word = bm->words[from / 64] ^ (set ? 0 : ~0ULL);

		word &= ~0ULL << (from % 64);
		if (word) {
			uint64_t bit = from / 64 * 64 + (uint64_t)__builtin_ctzll(word);

			return bit < bm->nr_blocks ? bit : bm->nr_blocks;
		}
		from = (from / 64 + 1) * 64;
	}
	return bm->nr_blocks;
}

bool plug_bitmap_next_run(const struct plug_bitmap *bm, uint64_t from, uint64_t *first,
			  uint64_t *count)
{
	uint64_t start = find_next(bm, from, true);

	if (start >= bm->nr_blocks)
		return false;
	*first = start;
	*count = find_next(bm, start, false) - start;
	return true;
}
