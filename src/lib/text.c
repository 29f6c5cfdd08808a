#include "lib/text.h"

static int
to_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int
ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = to_lower((unsigned char)*a);
		int cb = to_lower((unsigned char)*b);

		if (ca != cb)
			return ca - cb;
		if (ca == '\0')
			return 0;
	}
}

size_t
b64_bad_char(const char *s, size_t n, int urlsafe)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (urlsafe ? (c == '-' || c == '_') :
		    (c == '+' || c == '/' || c == '='))
			continue;
		return i;
	}
	return n;
}
