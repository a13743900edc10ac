#!/usr/bin/env bash
# pam_bulwark.so against the real bulwarkd, through real PAM (pamtester):
# a right code is accepted once, a replayed or wrong one refused, guessing
# locks the user out without trying the code, unknown and disabled users
# are refused alike, the account step follows the user's state, and nobody
# gets in while bulwarkd is down or the module is misconfigured.
# Needs root: it installs (and removes) a PAM service file and asks
# bulwarkd as uid 0, as sshd does.
. "$(dirname "$0")/lib.sh"

: "${BUILD_DIR:?set BUILD_DIR to the build directory}"
B=$BULWARK
BD=$BUILD_DIR/bulwarkd
MOD=$BUILD_DIR/pam_bulwark.so
[ -f "$MOD" ] || fail "module $MOD not built (cmake --build . --target pam_bulwark)"
[ -x "$BD" ] || fail "daemon $BD not built (cmake --build . --target bulwarkd)"
[ "$(id -u)" -eq 0 ] || fail "must run as root (writes /etc/pam.d, asks bulwarkd as root)"
command -v pamtester >/dev/null || fail "pamtester not installed (apt-get install pamtester)"
command -v oathtool >/dev/null || fail "oathtool not installed (apt-get install oathtool)"

SOCK=$T/sock
export BULWARK_SOCKET=$SOCK	# for the admin CLI
SVC=bwt-pam-$$
PAMFILE=/etc/pam.d/$SVC

# The service file is ours only once we have created it: noclobber
# refuses to touch one that is already there, before our trap could
# remove it.
write_service() {
	printf 'auth     required  %s %s\naccount  required  %s %s\nsession  required  %s %s\n' \
		"$MOD" "$1" "$MOD" "$1" "$MOD" "$1" > "$PAMFILE"
}
(set -C; write_service "socket=$SOCK") 2>/dev/null || fail "$PAMFILE already exists"
pam_cleanup() {
	rm -f "$PAMFILE"
	cleanup
}
trap pam_cleanup EXIT
# Signals end the script through exit, so that the EXIT trap runs.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- bulwarkd with a fresh state, on our own socket
"$BD" --state "$T/state" --socket "$SOCK" --init > "$T/init.out" 2>&1 || {
	cat "$T/init.out" >&2
	fail "bulwarkd --init"
}
# As systemd runs it: stderr is the journal, named by JOURNAL_STREAM
# (device:inode), so refusals carry journald's warning prefix.
: >> "$T/bulwarkd.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/bulwarkd.log") \
	"$BD" --state "$T/state" --socket "$SOCK" 2>> "$T/bulwarkd.log" &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.05
done
[ -S "$SOCK" ] || { cat "$T/bulwarkd.log" >&2; fail "bulwarkd did not listen on $SOCK"; }

# --- users: alice and bob with a TOTP factor, carol to be disabled. No
# Unix accounts: PAM only needs the names, bulwarkd only unique uids.
BASE_UID=$((60000 + $$ % 5000))
add_user() {
	local name=$1 uid=$2
	ssh-keygen -q -t ed25519 -N '' -C "bwt-$name" -f "$T/key_$name"
	$B user add "$name" --key "$T/key_$name.pub" --no-account --uid "$uid" \
		> "$T/add.out" 2>&1 || { cat "$T/add.out" >&2; fail "user add $name"; }
}
# enroll NAME: prints the base32 seed bulwark shows once.
enroll() {
	$B user mfa enroll "$1" > "$T/enroll.out" 2>&1 || {
		cat "$T/enroll.out" >&2
		fail "user mfa enroll $1"
	}
	sed -n 's/^secret (base32): \([A-Z2-7]*\)$/\1/p' "$T/enroll.out"
}
add_user alice "$BASE_UID"
add_user bob $((BASE_UID + 1))
add_user carol $((BASE_UID + 2))
SA=$(enroll alice)
SB=$(enroll bob)
[ -n "$SA" ] && [ -n "$SB" ] || fail "no 'secret (base32):' line in: $(cat "$T/enroll.out")"
oathtool --totp -b "$SA" > /dev/null || fail "oathtool does not take alice's seed"
ok

# auth USER RHOST CODE: pamtester authenticate, CODE typed at the prompt;
# everything it shows (prompt, messages, verdict) lands in $T/pt.out.
auth() {
	printf '%s\n' "$3" | pamtester -I rhost="$2" "$SVC" "$1" authenticate \
		> "$T/pt.out" 2>&1
}
acct() {
	pamtester "$SVC" "$1" acct_mgmt > "$T/pt.out" 2>&1
}
# shows PATTERN DESC: the last pamtester run showed PATTERN.
shows() {
	grep -Eq -- "$1" "$T/pt.out" || { cat "$T/pt.out" >&2; fail "$2: no /$1/"; }
}
# A code that is right for none of the steps around now (bulwarkd may
# accept the neighbours of the current one).
wrong_code() {
	local now c n
	now=$(date +%s)
	for n in $(seq 0 20); do
		c=$(printf '%06d' $(( (10#$(oathtool --totp -b "$1") + 111111 * (n + 1)) % 1000000 )))
		oathtool --totp -b -N "@$((now - 30))" "$1" | grepq -x "$c" && continue
		oathtool --totp -b -N "@$now" "$1" | grepq -x "$c" && continue
		oathtool --totp -b -N "@$((now + 30))" "$1" | grepq -x "$c" && continue
		echo "$c"
		return 0
	done
	return 1
}

# --- the right code, once
CODE=$(oathtool --totp -b "$SA")
auth alice 127.0.0.1 "$CODE" || { cat "$T/pt.out" >&2; fail "right code refused"; }
shows "Verification code: " "prompt"
shows "successfully authenticated" "right code"
ok
# Replay: the same code again (same step, or the next one, where it is
# still inside the window) is refused, with the message for the user.
if auth alice 127.0.0.1 "$CODE"; then fail "replayed code accepted"; fi
shows "Wrong or already used code\." "replay message"
shows "Authentication failure" "replay verdict"
ok
if auth alice 127.0.0.1 "$(wrong_code "$SA")"; then fail "wrong code accepted"; fi
shows "Wrong or already used code\." "wrong code message"
ok
# Something that is no code at all, and that we can look for in the logs.
if auth alice 127.0.0.1 "9876543210"; then fail "10-digit code accepted"; fi
shows "Authentication failure" "malformed code"
ok

# --- lockout: bob guesses from 127.0.0.2; after the free failures
# bulwarkd tries no code, not even the right one, until the delay passes.
for i in 1 2 3; do
	if auth bob 127.0.0.2 "$(wrong_code "$SB")"; then fail "bob's wrong code $i accepted"; fi
	shows "Wrong or already used code\." "bob's wrong code $i"
done
if auth bob 127.0.0.2 "$(oathtool --totp -b "$SB")"; then
	fail "right code accepted while locked out"
fi
shows "Too many wrong codes; wait a while" "lockout message"
shows "maximum number of retries" "lockout verdict (PAM_MAXTRIES)"
ok
# The right code was not spent while locked: after an unlock (and from
# an address that has not been guessing) it works.
$B user mfa unlock bob > "$T/unlock.out" 2>&1 || { cat "$T/unlock.out" >&2; fail "user mfa unlock bob"; }
auth bob 127.0.0.3 "$(oathtool --totp -b "$SB")" || { cat "$T/pt.out" >&2; fail "right code refused after unlock"; }
ok

# --- per source: one address guessing several users is stopped even for
# a user who has no wrong code of her own; other addresses are not.
add_user dan $((BASE_UID + 3))
add_user eve $((BASE_UID + 4))
SD=$(enroll dan)
SE=$(enroll eve)
for c in "$(wrong_code "$SD")" "$(wrong_code "$SD")"; do
	if auth dan 127.0.0.9 "$c"; then fail "dan's wrong code accepted"; fi
done
if auth eve 127.0.0.9 "$(wrong_code "$SE")"; then fail "eve's wrong code accepted"; fi
if auth eve 127.0.0.9 "$(oathtool --totp -b "$SE")"; then
	fail "right code accepted from an address that is locked out"
fi
shows "Too many wrong codes; wait a while" "per-source lockout message"
auth eve 127.0.0.10 "$(oathtool --totp -b "$SE")" || { cat "$T/pt.out" >&2; fail "another address was locked out too"; }
ok

# --- a guesser's own good login does not reset the source's count: mal,
# a user himself, guesses gil's and hal's codes from one address and logs
# in between; the source still locks at its third wrong code.
add_user gil $((BASE_UID + 10))
add_user hal $((BASE_UID + 11))
add_user mal $((BASE_UID + 12))
SG=$(enroll gil)
SH=$(enroll hal)
SM=$(enroll mal)
for c in "$(wrong_code "$SG")" "$(wrong_code "$SG")"; do
	if auth gil 127.0.0.20 "$c"; then fail "gil's wrong code accepted"; fi
done
auth mal 127.0.0.20 "$(oathtool --totp -b "$SM")" || { cat "$T/pt.out" >&2; fail "mal's own code refused"; }
if auth hal 127.0.0.20 "$(wrong_code "$SH")"; then fail "hal's wrong code accepted"; fi
if auth hal 127.0.0.20 "$(oathtool --totp -b "$SH")"; then
	fail "a success from the address reset its count of wrong codes"
fi
shows "Too many wrong codes; wait a while" "source count kept across a success"
ok

# --- unknown and disabled users: refused without a prompt, and alike,
# so that what the client sees does not say which.
$B user disable carol > "$T/dis.out" 2>&1 || { cat "$T/dis.out" >&2; fail "user disable carol"; }
if auth nosuchuser 127.0.0.1 123456; then fail "unknown user accepted"; fi
sed 's/nosuchuser/USER/g' "$T/pt.out" > "$T/unknown.out"
if grep -q "Verification code" "$T/pt.out"; then fail "unknown user was asked for a code"; fi
if auth carol 127.0.0.1 123456; then fail "disabled user accepted"; fi
sed 's/carol/USER/g' "$T/pt.out" > "$T/disabled.out"
# The alert line names what the client sent as the user, quoted: a name
# cannot pass for another field (a log watcher would ban its address).
if auth 'x" from="192.0.2.66' 127.0.0.1 123456; then fail "a forged name was accepted"; fi
grepq -F '<4>bulwarkd: deny auth.pam: by="x\" from=\"192.0.2.66" from="127.0.0.1"' "$T/bulwarkd.log" ||
	fail "no quoted alert line for the forged name: $(grep 'auth.pam' "$T/bulwarkd.log" | tail -2)"
! grep -q ' from="192.0.2.66"' "$T/bulwarkd.log" || fail "a user name forged an alert field"
cmp -s "$T/unknown.out" "$T/disabled.out" || {
	diff "$T/unknown.out" "$T/disabled.out" >&2
	fail "unknown and disabled users look different"
}
ok

# --- account step. After the auth stage in the same PAM handle (as sshd
# runs them for keyboard-interactive) it follows the user's state.
add_user fay $((BASE_UID + 5))
SF=$(enroll fay)
printf '%s\n' "$(oathtool --totp -b "$SF")" | pamtester -I rhost=127.0.0.11 "$SVC" fay \
	authenticate acct_mgmt >"$T/pt.out" 2>&1 || { cat "$T/pt.out" >&2; fail "authenticate + acct_mgmt of fay refused"; }
shows "account management done" "acct_mgmt fay"
ok
# Without it, sshd accepted a key alone (its Match on the FIDO2 group):
# one factor for a user with a plain key, whatever the sshd configuration.
if acct alice; then fail "acct_mgmt of alice accepted without the auth stage (one factor)"; fi
shows "Permission denied|expired" "acct_mgmt alice alone"
$B log show --dir "$T/state/log" --json | grep '"action":"auth.account"' | tail -n 1 |
	grepq 'not every key of the user is a FIDO2 key' || fail "the one-factor refusal is not logged with its reason"
if acct carol; then fail "acct_mgmt of disabled carol accepted"; fi
shows "Permission denied|expired" "acct_mgmt carol"
if acct nosuchuser; then fail "acct_mgmt of an unknown user accepted"; fi
ok
# A user whose only key is a FIDO2 key (verify-required, both factors):
# the key alone passes, and the account step logs both factors.
ssh-keygen -q -t ed25519-sk -O verify-required -N '' \
	-w "$BUILD_DIR/tests/sk-soft/bwt_sk_soft.so" -f "$T/key_gus" >/dev/null ||
	fail "cannot make a FIDO2 key with the software provider"
$B user add gus --key "$T/key_gus.pub" --no-account --uid $((BASE_UID + 6)) >"$T/add.out" 2>&1 ||
	{ cat "$T/add.out" >&2; fail "user add gus (FIDO2)"; }
acct gus || { cat "$T/pt.out" >&2; fail "acct_mgmt of FIDO2-only gus refused"; }
$B log show --dir "$T/state/log" --json | grep '"actor":"gus"' >"$T/gus.json"
grepq '"action":"auth.fido2".*"decision":"allow"' <"$T/gus.json" || fail "no auth.fido2 allow for gus"
grepq "$(ssh-keygen -lf "$T/key_gus.pub" | awk '{print $2}')" <"$T/gus.json" ||
	fail "the FIDO2 login does not name the key"
ok

# --- the session step records a live login (daemon/login.c): opened
# by pamtester's process, ended by close_session, or by itself once
# that process is gone. A disabled or unknown user gets none.
events() { $B log show --dir "$T/state/log" --json | grep "\"action\":\"$1\"" || true; }
pamtester -I rhost=127.0.0.9 "$SVC" alice open_session close_session > "$T/pt.out" 2>&1 ||
	{ cat "$T/pt.out" >&2; fail "open_session close_session"; }
events login.open | tail -n 1 | grep '"actor":"alice"' | grep '"source":"127.0.0.9"' |
	grepq '"decision":"allow"' || fail "no login.open for alice: $(events login.open)"
LID=$(events login.open | tail -n 1 | sed -n 's/.*"login":\([0-9]*\).*/\1/p')
[ -n "$LID" ] || fail "login.open has no login id"
events login.close | tail -n 1 | grep "\"login\":$LID[,}]" | grepq '"how":"logout"' ||
	fail "no login.close (logout) for login $LID: $(events login.close)"
# open only: the process exits without close_session.
pamtester "$SVC" alice open_session > "$T/pt.out" 2>&1 || { cat "$T/pt.out" >&2; fail "open_session"; }
LID2=$(events login.open | tail -n 1 | sed -n 's/.*"login":\([0-9]*\).*/\1/p')
[ "$LID2" -gt "$LID" ] || fail "second login id $LID2 not after $LID"
events login.close | grep -q "\"login\":$LID2[,}]" && fail "login $LID2 closed while nobody closed it"
pamtester "$SVC" bob open_session close_session > "$T/pt.out" 2>&1 || { cat "$T/pt.out" >&2; fail "bob open_session"; }
events login.close | grep "\"login\":$LID2[,}]" | grepq '"how":"sshd gone"' ||
	fail "login $LID2 of a vanished process not ended: $(events login.close)"
if pamtester "$SVC" carol open_session > "$T/pt.out" 2>&1; then fail "disabled carol got a login"; fi
events login.open | tail -n 1 | grep '"actor":"carol"' | grepq '"decision":"deny"' ||
	fail "no login.open refusal for carol"
if pamtester "$SVC" nosuchuser open_session > "$T/pt.out" 2>&1; then fail "unknown user got a login"; fi
ok

# --- bad module arguments fail closed
write_service "socket=$SOCK timeout=soon"
if auth alice 127.0.0.1 "$(oathtool --totp -b "$SA")"; then fail "bad timeout= accepted"; fi
shows "Error in service module" "bad timeout="
write_service "socket=relative/sock"
if acct alice; then fail "relative socket= accepted"; fi
shows "Error in service module" "relative socket="
write_service "socket=$SOCK"
ok

# --- bulwarkd down: nobody gets in, and the module says it cannot ask
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null || true
if auth alice 127.0.0.1 "$(oathtool --totp -b "$SA")"; then fail "accepted with bulwarkd down"; fi
shows "cannot retrieve authentication info" "daemon down (authenticate)"
if grep -q "Verification code" "$T/pt.out"; then fail "asked for a code with bulwarkd down"; fi
if acct alice; then fail "acct_mgmt accepted with bulwarkd down"; fi
shows "cannot retrieve authentication info" "daemon down (acct_mgmt)"
if pamtester "$SVC" alice open_session > "$T/pt.out" 2>&1; then fail "open_session accepted with bulwarkd down"; fi
ok

# --- the code typed is in no log
if grep -q 9876543210 "$T/bulwarkd.log"; then fail "bulwarkd's log holds a typed code"; fi
$B log show --dir "$T/state/log" --json > "$T/audit.json" || fail "log show"
if grep -q 9876543210 "$T/audit.json"; then fail "the audit log holds a typed code"; fi
grep -q '"auth.totp"' "$T/audit.json" || fail "no auth.totp events in the audit log"
ok

done_checks
