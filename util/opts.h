/*
 * QEMU-style option strings: "driver,key=value,key=value" with ",," as an
 * escaped comma. Device and object types take the properties they know;
 * whatever is left over is reported as unknown.
 */
#ifndef TIDE_OPTS_H
#define TIDE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct opt_item {
	char *key;
	char *value;
	bool used;
};

struct opts {
	const char *option; /* e.g. "-device", for messages */
	struct opt_item *items;
	size_t count;
};

/*
 * Splits str into items. A first element without '=' becomes the value of
 * implied_key (e.g. "driver"); with implied_key NULL such an element is an error.
 */
int opts_parse(struct opts *opts, const char *option, const char *str, const char *implied_key,
	       struct error *err);
void opts_free(struct opts *opts);

/* Returns the value of key (the last one if repeated, as QEMU does) and marks it used. */
const char *opts_take(struct opts *opts, const char *key);
/* Replaces *dst with a copy of value (an option's, kept past its opts); the old one stays on
 * failure, with "OPTION: out of memory" in err. */
int opts_keep_string(char **dst, const char *value, const char *option, struct error *err);
/* Whether key was given at all (taken or not). */
bool opts_has(const struct opts *opts, const char *key);
/* Each returns 0 with *out = def when key is absent, -1 with err naming the key on a bad value. */
int opts_take_size(struct opts *opts, const char *key, uint64_t *out, uint64_t def,
		   struct error *err);
int opts_take_u64(struct opts *opts, const char *key, uint64_t *out, uint64_t def,
		  struct error *err);
int opts_take_bool(struct opts *opts, const char *key, bool *out, bool def, struct error *err);
/* QEMU's OnOffAuto: "on", "off" or "auto" (the default when key is absent). */
enum on_off_auto { ON_OFF_AUTO_AUTO, ON_OFF_AUTO_ON, ON_OFF_AUTO_OFF };
int opts_take_on_off_auto(struct opts *opts, const char *key, enum on_off_auto *out,
			  struct error *err);
/* Fails naming the first key nobody took: "what: unknown property 'key'". */
int opts_finish(struct opts *opts, const char *what, struct error *err);

#endif
