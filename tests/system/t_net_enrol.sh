#!/usr/bin/env bash
# Enrolment with one-time tokens: a post enrols once; if it never saw HQ's
# welcome (its handshake timed out after HQ had spent the token), its retry
# with the same keys is accepted; the spent token is worthless to anyone
# else; a token for another name does not enrol this one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netlib.sh"

PORT=17850
HQ=$T/tokyo
net_hq TOKYO $PORT
net_post GENEVA
G=$(dir GENEVA)
cp "$G/kodend.conf" "$T/geneva.conf.before"
grep -q "^join_secret" "$T/geneva.conf.before" && ok "before enrolling, the post holds the one-time secret" ||
	not_ok "no join_secret before enrolment"
start TOKYO
start GENEVA
wait_until 10 link_up GENEVA && ok "GENEVA enrols and its link is up" || not_ok "GENEVA did not enrol"
grep -q "^enrolled = yes" "$G/kodend.conf" && ! grep -q "^join_secret" "$G/kodend.conf" &&
	ok "after enrolling, the secret is gone from the post's configuration" ||
	not_ok "configuration after enrolment: $(grep -E 'enrolled|join_secret' "$G/kodend.conf")"
[ "$(stat -c %a "$G/kodend.conf")" = 600 ] && ok "kodend.conf stays mode 0600" ||
	not_ok "kodend.conf mode $(stat -c %a "$G/kodend.conf")"

# the welcome was lost: the post still believes it is not enrolled
stop GENEVA TERM
cp "$T/geneva.conf.before" "$G/kodend.conf"
start GENEVA
wait_until 10 link_up GENEVA && ok "a retry with the same keys and the spent token is accepted" ||
	not_ok "GENEVA could not recover from a lost welcome"
grep -q "enrolled before; accepting its retry" "$T/tokyo.log" && ok "HQ logs the retry" ||
	not_ok "HQ did not log the retry"
stop GENEVA TERM

# someone else (another node key) presents the spent token
"$KODEN" network join -d "$T/thief" <"$T/GENEVA.tok" >/dev/null 2>&1
conf_set "$T/thief" retry_max 2
start "$T/thief"
sleep 3
if link_up GENEVA; then not_ok "a new key enrolled with a spent token"; else ok "a spent token does not enrol a new key"; fi
has_alert "$HQ" enrolment && ok "HQ raises an enrolment alert" || not_ok "no enrolment alert at HQ"
stop "$T/thief" TERM
exit $failed
