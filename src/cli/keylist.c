/*
 * Lists of public keys with labels: seal's recipients (-r, -R) and open's
 * trusted signers (-s, -S).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"

int
keylist_add_string(struct keylist *kl, const char *s, const char *where)
{
	struct kerr e = { "" };
	char key[PUBKEY_STR_MAX + 1];
	const char *sp, *label;
	size_t klen;
	int r;

	while (*s == ' ' || *s == '\t')
		s++;
	sp = s + strcspn(s, " \t\r\n");
	klen = (size_t)(sp - s);
	if (klen > PUBKEY_STR_MAX)
		klen = PUBKEY_STR_MAX;
	memcpy(key, s, klen);
	key[klen] = '\0';
	if (kl->n == KEYLIST_MAX)
		return cli_fail(EX_INPUT, "%s: more than %d keys", where,
		    KEYLIST_MAX);
	if ((r = pubkey_decode(&kl->pk[kl->n], key, &e)) != 0)
		return cli_fail(EX_INPUT, "%s: %s", where, kerr_msg(&e, r));
	label = sp + strspn(sp, " \t");
	klen = strcspn(label, "\r\n");
	if (klen > KEY_NAME_MAX)
		klen = KEY_NAME_MAX;
	memcpy(kl->label[kl->n], label, klen);
	kl->label[kl->n][klen] = '\0';
	kl->n++;
	return EX_OK;
}

int
keylist_add_file(struct keylist *kl, const char *path)
{
	char line[1024], where[1100];
	size_t lineno = 0;
	FILE *f;
	int r = EX_OK;

	if ((f = fopen(path, "r")) == NULL)
		return cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *s = line;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			r = cli_fail(EX_INPUT, "%s:%zu: line too long", path,
			    lineno);
			break;
		}
		s += strspn(s, " \t");
		if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
			continue;
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if ((r = keylist_add_string(kl, s, where)) != EX_OK)
			break;
	}
	if (r == EX_OK && ferror(f))
		r = cli_fail(EX_FAIL, "%s: %s", path, strerror(errno));
	fclose(f);
	return r;
}

const char *
keylist_find(const struct keylist *kl, const struct pubkey *pk)
{
	for (size_t i = 0; i < kl->n; i++)
		if (pubkey_equal(&kl->pk[i], pk))
			return kl->label[i];
	return NULL;
}
