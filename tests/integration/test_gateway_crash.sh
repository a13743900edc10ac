#!/usr/bin/env bash
# bulwarkd killed with SIGKILL in the middle of sessions: the interactive
# session it was recording ends at once, idle as it is (no unrecorded
# minute), and on restart every session left open is closed with what was
# recorded of it stored and hashed in the audit log, which verifies. Then
# rounds of kill -9 at random moments during a stream of sessions: after
# each restart the log verifies and no session is left open.
source "$SRC_DIR/tests/integration/lib.sh"
: "${BUILD_DIR:?}"

GW_PREFIX=bwc$$
GW_DIR=$T/gw
chmod 0711 "$T"
GW_BUILD=$BUILD_DIR
source "$SRC_DIR/scripts/gateway-env.sh"
trap 'gw_teardown; cleanup' EXIT
B=$GW_BIN/bulwark
ALICE=${GW_PREFIX}a
ROUNDS=${CRASH_ROUNDS_GW:-5}

fail() {
	gw_dump_logs
	echo "FAIL: $*" >&2
	exit 1
}

# grepq (lib.sh) on what once failed here: the match comes first and the
# writer goes on writing; with grep -q this pipeline fails under pipefail.
{ echo BEFORE2CRASH; sleep 0.3; echo more; } | grepq BEFORE2CRASH ||
	fail "grepq lost a match whose writer outlived it"

restart_bulwarkd() {
	gw_bulwarkd || fail "bulwarkd did not come back"
}

# Sessions whose ENDED column is "-" (STARTED takes two fields).
open_sessions() {
	"$B" session list | awk 'NR > 1 && $7 == "-" {print $1}'
}

gw_standard "$ALICE" || fail "gateway, target, user and shared connection"
CM=$GW_CM
cm() { gw_cm "$@"; }

# ---- an interactive session when bulwarkd dies ---------------------------
mkfifo "$T/in"
cm -tt 127.0.0.1 "$GW_LOGIN@web1" <"$T/in" >"$T/tty.out" 2>&1 &
SESSION_PID=$!
exec 3>"$T/in"
echo 'echo BEFORE$((1+1))CRASH' >&3
for i in $(seq 50); do
	grep -q BEFORE2CRASH "$T/tty.out" && break
	sleep 0.1
done
grep -q BEFORE2CRASH "$T/tty.out" || fail "interactive session did not start"
# Wait until bulwarkd has written (and so acknowledged) the output: the
# shell flushes a second after it, and under load the round trip takes
# longer than any fixed sleep (CI saw a 1.5 s sleep fall short).
for i in $(seq 150); do
	grep -qs BEFORE2CRASH "$GW_STATE"/rec/*.cast && break
	sleep 0.1
done
grep -qs BEFORE2CRASH "$GW_STATE"/rec/*.cast ||
	fail "bulwarkd never acknowledged the session's output"
kill -9 "$GW_BULWARKD_PID"
# The shell cannot record any more: it must end the session at once, not
# go on, though nothing is typed or printed (it watches its connection).
for i in $(seq 30); do
	kill -0 "$SESSION_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SESSION_PID" 2>/dev/null; then
	fail "the idle session went on unrecorded for 3 s after bulwarkd died"
fi
grepq "ended by the gateway" "$T/tty.out" || fail "the user was not told why the session ended: $(cat "$T/tty.out")"
exec 3>&-
ok

restart_bulwarkd
[ -z "$(open_sessions)" ] || fail "sessions left open after restart: $(open_sessions)"
sid=$("$B" session list | awk 'NR > 1 && $4 == "interactive" {print $1; exit}')
[ -n "$sid" ] || fail "the interactive session is not in the list"
"$B" session play "$sid" --cat | grepq BEFORE2CRASH ||
	fail "the recording of the cut session lost what bulwarkd had acknowledged"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.end"' |
	grep -q "bulwarkd restarted during the session" || fail "no audit event for the cut session"
"$B" log verify --dir "$GW_STATE/log" >/dev/null 2>&1 || fail "audit log does not verify"
ok

# ---- kill -9 at random moments during a stream of sessions ---------------
for round in $(seq "$ROUNDS"); do
	clients=()
	for j in 1 2 3 4; do
		cm 127.0.0.1 "$GW_LOGIN@web1" "echo r$round-$j" >/dev/null 2>&1 &
		clients+=($!)
	done
	sleep "0.$((RANDOM % 9 + 1))"
	kill -9 "$GW_BULWARKD_PID"
	wait "$GW_BULWARKD_PID" "${clients[@]}" 2>/dev/null || true
	restart_bulwarkd
	[ -z "$(open_sessions)" ] || fail "round $round: sessions left open: $(open_sessions)"
	"$B" log verify --dir "$GW_STATE/log" >/dev/null 2>&1 || fail "round $round: audit log does not verify"
	# Over the same ControlMaster connection: its login is in SQLite and
	# outlives every restart (daemon/login.c).
	cm 127.0.0.1 "$GW_LOGIN@web1" true || fail "round $round: no session after restart"
	ok
done
done_checks
