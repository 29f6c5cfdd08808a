/*
 * The telegram: model, validation, drafting text form, canonical binary form
 * and rendered (cable) form.  See docs/drafting.md for the text forms and
 * for the binary form (section "Telegram binary form"); docs/format.md
 * covers the envelope around it.
 *
 * A struct tg owns every string it points to; tg_free releases them.
 * A list with n == 0 may have v == NULL.
 */
#ifndef KODEN_TG_H
#define KODEN_TG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define TG_ID_LEN 16
#define TG_ID_HEX (2 * TG_ID_LEN + 1)

/* Hard caps (bytes are UTF-8 bytes). */
#define TG_POST_MAX 32		/* post name */
#define TG_PERSON_MAX 64	/* person name */
#define TG_ADDRESSEES_MAX 256	/* TO + INFO together */
#define TG_PERSONS_MAX 64
#define TG_CAPTIONS_MAX 4
#define TG_TAGS_MAX 16
#define TG_TAG_MAX 8
#define TG_REFS_MAX 16
#define TG_REF_MAX 64
#define TG_CLEARED_MAX 16
#define TG_SUBJECT_MAX 200
#define TG_CLASS_MAX 32		/* classification name */
#define TG_POLICY_LEVELS_MAX 16
#define TG_PARAS_MAX 1000
#define TG_BODY_MAX (1 << 20)	/* all paragraph text together */
#define TG_DRAFT_MAX (TG_BODY_MAX + (64 << 10))	/* whole draft text */
#define TG_ENCODED_MAX (TG_BODY_MAX + (256 << 10))	/* binary form */
#define TG_SERIAL_MAX 999999

enum tg_prec {
	TG_ROUTINE = 1,
	TG_PRIORITY = 2,
	TG_IMMEDIATE = 3,
	TG_FLASH = 4,
};

/* A list of owned strings. */
struct tg_list {
	size_t n;
	char **v;
};

/* Classification levels, lowest first.  Default: UNCLASSIFIED < CONFIDENTIAL < SECRET < TOP SECRET. */
struct tg_policy {
	size_t n;
	char level[TG_POLICY_LEVELS_MAX][TG_CLASS_MAX + 1];
};

struct tg {
	uint8_t id[TG_ID_LEN];		/* tg_new_id(), assigned at sealing */
	uint64_t dtg;			/* date-time group, Unix seconds UTC, set at sealing */
	uint64_t serial;		/* origin post's serial, 0 = unnumbered */
	char *origin;			/* FROM */
	uint8_t prec_action;		/* enum tg_prec, for TO */
	uint8_t prec_info;		/* enum tg_prec, for INFO (<= prec_action) */
	char *classification;
	struct tg_list to;		/* action addressees (posts) */
	struct tg_list info;		/* info addressees (posts) */
	struct tg_list captions;	/* NODIS, EXDIS, LIMDIS */
	struct tg_list persons;		/* named persons (required with NODIS) */
	struct tg_list tags;
	char *subject;
	struct tg_list refs;
	char *drafter;
	struct tg_list cleared;
	char *releaser;			/* may be NULL */
	struct tg_list paras;		/* paragraph texts, without their numbers */
};

void tg_policy_default(struct tg_policy *pol);
/* One level per line, lowest first; '#' comments and blank lines ignored. */
int tg_policy_parse(struct tg_policy *pol, const char *text, size_t len,
    struct kerr *e) KODEN_WUR;
/* Index of a level in pol, or -1. */
int tg_policy_rank(const struct tg_policy *pol, const char *level);

/* Free t (allocated by tg_parse_draft, tg_decode or calloc) and every
 * string it owns.  NULL is a no-op. */
void tg_free(struct tg *t);

/*
 * Parse drafting text (docs/drafting.md) into *out; id, dtg stay zero.
 * Every error names the line and the field.  Caller frees *out.
 */
int tg_parse_draft(struct tg **out, const char *text, size_t len,
    const struct tg_policy *pol, struct kerr *e) KODEN_WUR;

/*
 * Check every field against its caps and rules.  pol may be NULL (a
 * received telegram is not held to the local policy).
 */
int tg_validate(const struct tg *t, const struct tg_policy *pol,
    struct kerr *e) KODEN_WUR;

/*
 * One value against its rule, as it is stored (already normalised: posts,
 * tags and captions in upper case).  0, or KERR_INVALID / KERR_TOOBIG with
 * the reason in e, without a line or field prefix: tg_parse_draft and
 * tg_validate add those.  Shared so that the draft parser, tg_validate and
 * the CLI apply one rule in one place.
 */
int tg_check_post(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_person(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_tag(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_ref(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_caption(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_level(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_subject(const char *s, struct kerr *e) KODEN_WUR;
int tg_check_para(const char *s, struct kerr *e) KODEN_WUR;

/*
 * Canonical binary form (the bytes the drafter signs). Appends to out; on
 * failure out is left as it was.  A t that tg_validate (with no policy)
 * rejects is refused with its code, so whatever encodes also decodes.
 */
int tg_encode(const struct tg *t, struct buf *out) KODEN_WUR;
/* Strict decode of exactly len bytes (trailing bytes are an error); validates. */
int tg_decode(struct tg **out, const uint8_t *p, size_t len,
    struct kerr *e) KODEN_WUR;

/* The rendered cable (docs/drafting.md, "Rendered form"). Appends to out;
 * on failure out is left as it was.  An invalid t is KERR_INVALID. */
int tg_render(const struct tg *t, struct buf *out) KODEN_WUR;

const char *tg_prec_name(int prec);	/* "FLASH", ...; "?" if unknown */
int tg_prec_parse(const char *s);	/* enum tg_prec or 0 */
/* "291702Z NOV 26" for the date-time group t (UTC). */
void tg_format_dtg(char out[static 32], uint64_t t);
void tg_id_hex(char out[static TG_ID_HEX], const uint8_t id[static TG_ID_LEN]);
/*
 * A new telegram id: the sealing time in milliseconds since the epoch, 48 bits
 * big-endian, then 80 random bits (docs/format.md, "Telegram id").  Ids
 * sealed later sort later, so every index keyed by id grows at its end.
 */
void tg_new_id(uint8_t id[static TG_ID_LEN]);

#endif
