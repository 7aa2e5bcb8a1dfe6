#include "util/opts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/size.h"
#include "util/util.h"

/* Copies one element up to an unescaped comma, turning ",," into ','. */
static char *take_element(const char **cursor)
{
	const char *p = *cursor;
	size_t len = strlen(p);
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++; /* ",," is a literal comma */
		}
		*o++ = *p++;
	}
	*o = '\0';
	*cursor = *p == ',' ? p + 1 : p;
	return out;
}

static int append_item(struct opts *opts, char *key, char *value)
{
	struct opt_item *grown = realloc(opts->items, (opts->count + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	opts->items = grown;
	opts->items[opts->count++] = (struct opt_item){ key, value, false };
	return 0;
}

int opts_parse(struct opts *opts, const char *option, const char *str, const char *implied_key,
	       struct error *err)
{
	const char *cursor = str;
	bool first = true;

	memset(opts, 0, sizeof(*opts));
	opts->option = option;
	while (*cursor || first) {
		char *elem = take_element(&cursor);
		char *eq, *key, *value;

		if (!elem)
			goto nomem;
		eq = strchr(elem, '=');
		if (!eq && first && implied_key && *elem) {
			key = strdup(implied_key);
			value = elem;
		} else if (!eq || eq == elem) {
			error_set(err, "%s: '%s' is not key=value", option, elem);
			free(elem);
			opts_free(opts);
			return -1;
		} else {
			*eq = '\0';
			key = elem;
			value = strdup(eq + 1);
		}
		if (!key || !value || append_item(opts, key, value)) {
			free(key);
			free(value);
			goto nomem;
		}
		first = false;
	}
	return 0;
nomem:
	opts_free(opts);
	return error_set(err, "%s: out of memory", option);
}

void opts_free(struct opts *opts)
{
	for (size_t i = 0; i < opts->count; i++) {
		free(opts->items[i].key);
		free(opts->items[i].value);
	}
	free(opts->items);
	opts->items = NULL;
	opts->count = 0;
}

int opts_keep_string(char **dst, const char *value, const char *option, struct error *err)
{
	char *copy = strdup(value);

	if (!copy)
		return error_set(err, "%s: out of memory", option);
	free(*dst);
	*dst = copy;
	return 0;
}

bool opts_has(const struct opts *opts, const char *key)
{
	for (size_t i = 0; i < opts->count; i++)
		if (strcmp(opts->items[i].key, key) == 0)
			return true;
	return false;
}

const char *opts_take(struct opts *opts, const char *key)
{
	const char *value = NULL;

	for (size_t i = 0; i < opts->count; i++) {
		if (strcmp(opts->items[i].key, key) == 0) {
			opts->items[i].used = true;
			value = opts->items[i].value;
		}
	}
	return value;
}

int opts_take_size(struct opts *opts, const char *key, uint64_t *out, uint64_t def,
		   struct error *err)
{
	const char *value = opts_take(opts, key);

	*out = def;
	if (value && parse_size(value, 1, out, err))
		return error_prefix(err, "%s: property '%s'", opts->option, key);
	return 0;
}

int opts_take_u64(struct opts *opts, const char *key, uint64_t *out, uint64_t def,
		  struct error *err)
{
	const char *value = opts_take(opts, key);

	*out = def;
	if (value && parse_u64(value, out, err))
		return error_prefix(err, "%s: property '%s'", opts->option, key);
	return 0;
}

int opts_take_bool(struct opts *opts, const char *key, bool *out, bool def, struct error *err)
{
	static const char *const yes[] = { "on", "yes", "true", "y" };
	static const char *const no[] = { "off", "no", "false", "n" };
	const char *value = opts_take(opts, key);

	*out = def;
	if (!value)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return (*out = true), 0;
		if (strcasecmp(value, no[i]) == 0)
			return (*out = false), 0;
	}
	return error_set(err, "%s: property '%s' must be on or off, not '%s'", opts->option, key,
			 value);
}

int opts_finish(struct opts *opts, const char *what, struct error *err)
{
	for (size_t i = 0; i < opts->count; i++) {
		if (!opts->items[i].used)
			return error_set(err, "%s: %s has no property '%s'", opts->option, what,
					 opts->items[i].key);
	}
	return 0;
}

int opts_take_on_off_auto(struct opts *opts, const char *key, enum on_off_auto *out,
			  struct error *err)
{
	static const char *const names[] = { [ON_OFF_AUTO_AUTO] = "auto",
					      [ON_OFF_AUTO_ON] = "on",
					      [ON_OFF_AUTO_OFF] = "off" };
	const char *v = opts_take(opts, key);

	*out = ON_OFF_AUTO_AUTO;
	if (!v)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (enum on_off_auto)i;
			return 0;
		}
	}
	return error_set(err, "%s: property '%s' must be on, off or auto, not '%s'", opts->option,
			 key, v);
}
