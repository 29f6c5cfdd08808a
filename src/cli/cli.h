/* Shared helpers of the koden CLI verbs. */
#ifndef KODEN_CLI_H
#define KODEN_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"

/* Exit codes (docs/cli.md). */
enum {
	EX_OK = 0,
	EX_FAIL = 1,		/* operation failed: I/O, resources */
	EX_USAGE = 2,		/* bad command line */
	EX_KEY = 3,		/* key file: wrong passphrase, unsafe mode, malformed */
	EX_NOTRCPT = 4,		/* not addressed to this key */
	EX_VERIFY = 5,		/* bad signature, tampering, re-addressing, untrusted signer */
	EX_INPUT = 6,		/* malformed input: truncated, garbage, unknown version, invalid draft */
};

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* Print "koden: " + message to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_warn, then return code (for `return cli_fail(EX_..., ...)`). */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a library error. */
int cli_exit_code(int kerr);

/* Read path ("-" or NULL = stdin) into b (b's cap is the limit). */
int cli_read_input(struct buf *b, const char *path, const char *what);
/* Write to path (NULL or "-" = stdout) with the given creation mode. */
int cli_write_output(const char *path, const void *p, size_t n, int mode);

/*
 * The passphrase: --passphrase-file, else $KODEN_PASSPHRASE, else asked on
 * the terminal (twice when confirm).  *out is sodium_malloc'ed: free it with
 * cli_pass_free.  Returns an EX_* code.
 */
int cli_passphrase(char **out, size_t *len, const char *pass_file,
    const char *prompt, int confirm);
void cli_pass_free(char *pass);

/* Load and unlock a secret key file.  Returns an EX_* code. */
int cli_load_identity(struct identity **out, const char *path,
    const char *pass_file);

/*
 * A list of public keys with optional labels, from -r strings and -R files
 * ("KEY [LABEL]" per line, '#' comments).
 */
struct keylist {
	size_t n;
	struct pubkey pk[1024];
	char label[1024][KEY_NAME_MAX + 1];
};
int keylist_add_string(struct keylist *kl, const char *s, const char *where);
int keylist_add_file(struct keylist *kl, const char *path);
/* Label of pk in kl, "" if unlabelled, NULL if absent. */
const char *keylist_find(const struct keylist *kl, const struct pubkey *pk);

/* Verbs. */
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_alerts(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/*
 * Record an event in NODEDIR/audit.db (docs/audit.md); nodedir NULL (no -d)
 * records nothing.  actor may be NULL (the unix user is always added);
 * outcome is "ok" or "fail: reason".  Signs a head when the node key is
 * readable.  Returns EX_OK or EX_FAIL (with a message): a caller about to
 * show a telegram must not show it when recording failed.
 */
int cli_audit_dir(const char *nodedir, const char *actor, const char *action,
    const char *object, const char *outcome, const char *detail);
/* "ok" for EX_OK, else "fail: " + the last cli_fail message (static). */
const char *cli_outcome(int ex);
extern char cli_last_error[256];
/* cli_audit_dir with -d NODEDIR. */
int cli_audit(const char *actor, const char *action, const char *object,
    const char *outcome, const char *detail);

#endif
