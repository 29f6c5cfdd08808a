#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"

json_t *
vec_load(const char *name)
{
	const char *dir = getenv("KODEN_VECTORS");
	char path[1024];
	json_error_t err;
	json_t *j;

	if (dir == NULL)
		dir = "tests/vectors";
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
	return j;
}

uint8_t *
vec_unhex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *p;

	if (n % 2 != 0)
		fail_msg("odd-length hex string");
	p = malloc(n / 2 + 1);
	assert_non_null(p);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			fail_msg("bad hex at %zu", 2 * i);
		p[i] = (uint8_t)v;
	}
	*len = n / 2;
	return p;
}

uint8_t *
vec_hex(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("vector has no string field '%s'", key);
	return vec_unhex(json_string_value(v), len);
}
