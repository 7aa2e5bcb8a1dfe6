/* Tide test guest: command line ("key=value" words separated by spaces). */
#include "tg.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *cmdline_get(const char *key, size_t *len)
{
	const char *p = tg_boot.cmdline;
	size_t klen = strlen(key);
	const char *found = NULL;

	/* The last occurrence wins, so "-append" users can override defaults. */
	while (*p) {
		const char *w, *eq;
		size_t wlen;

		while (*p && is_space(*p))
			p++;
		w = p;
		while (*p && !is_space(*p))
			p++;
		wlen = (size_t)(p - w);
		if (!wlen)
			continue;
		eq = w;
		while (eq < p && *eq != '=')
			eq++;
		if ((size_t)(eq - w) == klen && !memcmp(w, key, klen)) {
			found = eq < p ? eq + 1 : eq;
			*len = (size_t)(p - found);
		}
	}
	return found;
}

uint64_t cmdline_get_u64(const char *key, uint64_t dflt)
{
	size_t len;
	const char *v = cmdline_get(key, &len);
	uint64_t x;

	if (!v || !tg_parse_u64(v, len, 10, &x))
		return dflt;
	return x;
}
