/* koden inspect: a sealed telegram's routing header; no key needed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_int.h"
#include "telegram/envelope.h"

static const char inspect_usage[] =
    "usage: koden inspect [FILE|-]\n"
    "\n"
    "Shows what a relay sees of a sealed telegram: the routing header, the\n"
    "number of recipient key wraps, the sizes, and whether the origin\n"
    "signature verifies.  Needs no key; decrypts nothing.\n";

static void
print_list(const struct env_header *h, int role)
{
	int first = 1;

	for (size_t i = 0; i < h->n_addr; i++) {
		if (h->addr[i].role != role)
			continue;
		printf("%s%s", first ? "" : ", ", h->addr[i].name);
		if (h->addr[i].seq != 0)
			printf(" (#%llu)", (unsigned long long)h->addr[i].seq);
		first = 0;
	}
	puts(first ? "-" : "");
}

int
cmd_inspect(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct env_header *h;
	struct kerr e = { "" };
	struct buf b;
	char idhex[TG_ID_HEX], dtg[32], pk[PUBKEY_STR_MAX];
	const char *in;
	int c, r;

	(void)ctx;	/* a sealed file alone: no node */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(inspect_usage, stdout); return EX_OK;
		default: fputs(inspect_usage, stderr); return EX_USAGE;
		}
	}
	if (optind < argc - 1) {
		fputs(inspect_usage, stderr);
		return EX_USAGE;
	}
	in = optind < argc ? argv[optind] : "-";
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return cli_fail(EX_FAIL, "out of memory");
	buf_init(&b, ENV_MAX + 1);
	if ((r = cli_read_input(&b, in, "sealed telegram")) != EX_OK)
		goto out;
	r = env_inspect(h, b.p, b.len, &e);
	if (r != 0 && r != KERR_SIGNATURE) {
		r = cli_fail(cli_exit_code(r), "%s", kerr_msg(&e, r));
		goto out;
	}
	tg_id_hex(idhex, h->id);
	tg_format_dtg(dtg, h->time);
	pubkey_encode(pk, &h->origin_pk);
	printf("telegram     %s\n", idhex);
	printf("format       version %u\n", h->version);
	printf("date-time    %s\n", dtg);
	printf("from         %s\n", h->origin);
	if (h->prec_action == h->prec_info)
		printf("precedence   %s\n", tg_prec_name(h->prec_action));
	else
		printf("precedence   %s (action) / %s (info)\n",
		    tg_prec_name(h->prec_action), tg_prec_name(h->prec_info));
	printf("to           ");
	print_list(h, ENV_ACTION);
	printf("info         ");
	print_list(h, ENV_INFO);
	printf("recipients   %u key wraps\n", h->n_wraps);
	printf("size         %u bytes padded ciphertext, %zu bytes sealed\n",
	    h->padded_size, h->total_len);
	printf("origin key   %s\n", pk);
	printf("origin sig   %s\n", r == 0 ? "good" : "BAD");
	if (fflush(stdout) != 0) {
		r = EX_FAIL;
		goto out;
	}
	if (r != 0)
		r = cli_fail(EX_VERIFY, "%s", kerr_msg(&e, r));
out:
	buf_free(&b);
	free(h);
	return r;
}
