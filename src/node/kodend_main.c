/*
 * kodend: the koden node daemon (HQ or post).  docs/operations.md.
 * kodend_main is in the library so that the test double of HQ
 * (tests/system/kodend_faulty.c) runs exactly the same daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "node/node_int.h"

static const char usage[] =
    "usage: kodend -d NODEDIR [-f] [--syslog] [-v]\n"
    "\n"
    "Runs the koden node in NODEDIR (made by `koden network init` at HQ or\n"
    "`koden network join` at a post): store-and-forward delivery of sealed\n"
    "telegrams over Noise channels, receipts, telegraphic accounting and\n"
    "the local API for `koden -d NODEDIR ...`.\n"
    "\n"
    "  -d, --dir NODEDIR   the node directory\n"
    "  -f, --foreground    stay in the foreground (default: daemonise)\n"
    "      --syslog        log to syslog instead of stderr\n"
    "  -v, --verbose       debug logging\n"
    "\n"
    "SIGTERM or SIGINT stops it cleanly; SIGHUP reloads the roster.\n";

int
kodend_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int c, fg = 0, use_syslog = 0, verbose = 0, r;
	struct node *n;
	struct kerr e = { "" };

	while ((c = getopt_long(argc, argv, "d:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f': fg = 1; break;
		case 'S': use_syslog = 1; break;
		case 'v': verbose = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (dir == NULL || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	log_init("kodend", verbose ? LOG_DEBUG_ : LOG_INFO_, use_syslog);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return 1;
	if (!fg && daemon(1, use_syslog ? 0 : 1) != 0) {
		perror("kodend: daemon");
		return 1;
	}
	if ((r = node_open(n, dir, &e)) != 0) {
		log_err("%s", e.msg);
		node_close(n);
		free(n);
		return r == KERR_EXISTS ? 3 : 1;
	}
	if (verbose)
		log_set_level(LOG_DEBUG_);
	r = node_run(n, &e);
	if (r != 0)
		log_err("%s", e.msg);
	node_close(n);
	free(n);
	return r != 0;
}
