/*
 * The koden CLI's internal header (STYLE.md 14): what its files share.
 * Nothing outside src/cli includes it; the CLI has no public header, its
 * contract is the command line (docs/cli.md).
 *
 * The files form floors too (scripts/depcheck.py), lowest first:
 *
 *   util.c                       messages, exit codes, files, -h/--help
 *   record.c                     audit records of what koden does
 *   identity.c, keylist.c,       unlocking key files; lists of public keys;
 *   call.c                       requests to this node's kodend
 *   audit_out.c                  what the audit verbs print, the log they read
 *   the verbs                    one file per verb (network and audit: one per
 *                                group of sub-verbs, dispatched from
 *                                network.c and audit.c)
 *   main.c                       the dispatch table
 *
 * -d NODEDIR, given before the verb, reaches the verbs in struct cli_ctx,
 * which main builds; no file reads it from another's global.
 */
#ifndef KODEN_CLI_INT_H
#define KODEN_CLI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "lib/buf.h"
#include "lib/err.h"

struct audit_event;
struct auditlog;

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

/*
 * What network's sub-verbs return, never exit codes: CLI_HELP for -h or
 * --help, and cmd_network prints that sub-verb's usage on stdout and exits
 * EX_OK, recording nothing since nothing was done; CLI_USAGE for a command
 * line it cannot take, and cmd_network prints network's usage on stderr and
 * exits EX_USAGE.
 */
enum { CLI_HELP = -1, CLI_USAGE = -2 };

/* What the command line gave before the verb; main builds it. */
struct cli_ctx {
	const char *nodedir;	/* -d NODEDIR, or NULL */
};

struct verb {
	const char *name;
	int (*run)(const struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;
};

/* ---- util.c ---- */

/* Print "koden: " + message to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * cli_warn, then return code (for `return cli_fail(EX_..., ...)`).  The
 * message is kept as the reason of the next failed outcome (cli_outcome).
 */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message given to cli_fail, "" if none; valid until the next. */
const char *cli_last_error(void);
/* The exit code for a library error. */
int cli_exit_code(int kerr);

/* Read path ("-" or NULL = stdin) into b (b's cap is the limit). */
int cli_read_input(struct buf *b, const char *path, const char *what) KODEN_WUR;
/* Write to path (NULL or "-" = stdout) with the given creation mode. */
int cli_write_output(const char *path, const void *p, size_t n,
    int mode) KODEN_WUR;

/*
 * EX_OK if -d NODEDIR was given, else a usage error naming verb ("status",
 * "audit verify"): "VERB needs the node directory: koden -d NODEDIR VERB ...".
 */
int cli_need_dir(const struct cli_ctx *ctx, const char *verb) KODEN_WUR;
/*
 * Is --help or -h among the arguments (argv[0] the verb)?  For the verbs
 * that parse their arguments without getopt, none of which takes a value
 * that may begin with '-'; the others have 'h' among their getopt options.
 */
int cli_is_help(int argc, char **argv);

/* ---- record.c ---- */

/*
 * Record an event in NODEDIR/audit.db (docs/audit.md); nodedir NULL (no -d)
 * records nothing.  actor may be NULL (the unix user is always added);
 * outcome is "ok" or "fail: reason".  Signs a head when the node key is
 * readable.  Returns EX_OK or EX_FAIL (with a message): a caller about to
 * show a telegram must not show it when recording failed.
 */
int cli_audit_dir(const char *nodedir, const char *actor, const char *action,
    const char *object, const char *outcome, const char *detail) KODEN_WUR;
/* cli_audit_dir with -d NODEDIR. */
int cli_audit(const struct cli_ctx *ctx, const char *actor, const char *action,
    const char *object, const char *outcome, const char *detail) KODEN_WUR;
/*
 * "ok" for EX_OK, else "fail: " + the last cli_fail message.  Points into a
 * static buffer (no secret ever goes there), valid until the next call.
 */
const char *cli_outcome(int ex);
/* The node key if this user can read it unencrypted, else NULL.  Caller
 * frees with identity_free. */
struct identity *cli_node_key(const char *nodedir);

/* ---- identity.c ---- */

/*
 * The passphrase: --passphrase-file, else $KODEN_PASSPHRASE, else asked on
 * the terminal (twice when confirm).  *out is sodium_malloc'ed: free it with
 * cli_pass_free.  Returns an EX_* code.
 */
int cli_passphrase(char **out, size_t *len, const char *pass_file,
    const char *prompt, int confirm) KODEN_WUR;
void cli_pass_free(char *pass);

/*
 * Load and unlock a secret key file; an encrypted one's unlock is recorded
 * with -d NODEDIR.  Returns an EX_* code; caller frees *out with
 * identity_free.
 */
int cli_load_identity(const struct cli_ctx *ctx, struct identity **out,
    const char *path, const char *pass_file) KODEN_WUR;

/* ---- keylist.c ---- */

/*
 * A list of public keys with optional labels, from -r strings and -R files
 * ("KEY [LABEL]" per line, '#' comments).
 */
#define KEYLIST_MAX 1024
struct keylist {
	size_t n;
	struct pubkey pk[KEYLIST_MAX];
	char label[KEYLIST_MAX][KEY_NAME_MAX + 1];
};
int keylist_add_string(struct keylist *kl, const char *s,
    const char *where) KODEN_WUR;
int keylist_add_file(struct keylist *kl, const char *path) KODEN_WUR;
/* Label of pk in kl, "" if unlabelled, NULL if absent. */
const char *keylist_find(const struct keylist *kl, const struct pubkey *pk);

/* ---- call.c ---- */

/*
 * One request to the kodend of -d NODEDIR (docs/protocol.md, "Local API"):
 * EX_OK with the answer's body in *resp, or an EX_* code with a message.
 */
int cli_call(const struct cli_ctx *ctx, uint8_t op, const uint8_t *body,
    size_t len, struct buf *resp) KODEN_WUR;

/* ---- audit_out.c: shared by the audit verbs ---- */

/* How cli_event_print prints: a table (with a header first) or JSON lines. */
struct cli_event_out {
	int json;
	uint64_t n;		/* events printed so far */
};
/*
 * Print ev to stdout.  The callback handed to audit_query, which calls it
 * once per matching entry in log order; check-proof calls it once for the
 * proven entry.  ctx is a struct cli_event_out.
 */
int cli_event_print(void *ctx, const struct audit_event *ev);
/* s as a JSON string, quoted and escaped. */
void cli_json_str(FILE *f, const char *s);
/* ns since the epoch as YYYY-MM-DDTHH:MM:SS.mmmZ (n: CLI_TIME_MAX). */
#define CLI_TIME_MAX 40
void cli_time_fmt(char *out, size_t n, uint64_t ns);
/*
 * Open -d NODEDIR's audit log with its journal applied first, so every
 * answer has it.  EX_OK or an EX_* code with a message; caller closes *l
 * with auditlog_close.
 */
int cli_log_open(const struct cli_ctx *ctx, struct auditlog **l) KODEN_WUR;

/*
 * ---- verbs: main.c's table calls each with argv[0] the verb's name and
 * returns what it returns as the exit code ----
 */
int cmd_keygen(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_pubkey(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_seal(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_open(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_network(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_send(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_status(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_inbox(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_read(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_alerts(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_node(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit(const struct cli_ctx *ctx, int argc, char **argv);

/*
 * Sub-verbs, argv[0] the sub-verb's name.  The network ones may return
 * CLI_HELP or CLI_USAGE (above); cmd_network records what the others did.
 * The audit ones print their own usage.
 */
/* net_create.c */
int cmd_network_init(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_network_join(const struct cli_ctx *ctx, int argc, char **argv);
/* net_admin.c */
int cmd_network_add_post(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_network_add_person(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_network_revoke(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_network_list(const struct cli_ctx *ctx, int argc, char **argv);
/* audit_query.c */
int cmd_audit_log(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit_reads(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit_who_read(const struct cli_ctx *ctx, int argc, char **argv);
/* audit_proof.c */
int cmd_audit_prove(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit_check_proof(const struct cli_ctx *ctx, int argc, char **argv);

#endif
