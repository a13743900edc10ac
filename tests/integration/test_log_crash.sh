#!/usr/bin/env bash
# Crash safety: the appender is killed with SIGKILL at random points of a
# stream of appends, CRASH_ROUNDS times (default 100). After each restart
# the log must verify and every entry whose index was printed (that is,
# acknowledged) must be present at that index. A small journal limit makes
# crashes land in journal rotation too.
. "$(dirname "$0")/lib.sh"
B=$BULWARK
L=$T/log
ROUNDS=${CRASH_ROUNDS:-100}
export BULWARK_JOURNAL_ROTATE=262144
VKEY=$($B log init --dir "$L" --origin crash.test.invalid/log 2>/dev/null)

# A feeder that writes lines in bursts, so that kills land mid-stream.
feed() {
	local run=$1 k=0 burst
	for burst in $(seq 1 40); do
		for _ in $(seq 1 100); do
			k=$((k + 1))
			printf '{"actor":"crash","action":"test.append","session":"r%d-%d"}\n' "$run" "$k"
		done
		sleep 0.01
	done
}

# The checker itself: a last line cut by the kill ("9" without its
# newline) acknowledges nothing, and a whole line naming the wrong index
# is still a loss.
M=$T/mini
$B log init --dir "$M" --origin mini.test.invalid/log > /dev/null 2>&1
for k in 1 2 3; do
	printf '{"actor":"crash","action":"test.append","session":"u-%d"}\n' "$k"
done | $B log append --dir "$M" --no-witness > "$T/mini.acks" 2>"$T/err" ||
	{ cat "$T/err"; fail "appending to the small log"; }
[ "$(tr '\n' ' ' < "$T/mini.acks")" = "0 1 2 " ] || fail "small log: acks $(cat "$T/mini.acks")"
check_acked "$T/mini.acks" "$M" 0 u || fail "whole acknowledgements judged lost"
printf '0\n1\n2\n9' > "$T/mini.acks"
check_acked "$T/mini.acks" "$M" 0 u || fail "a line cut by a kill was taken for an acknowledgement"
printf '0\n2\n' > "$T/mini.acks"
check_acked "$T/mini.acks" "$M" 0 u 2>/dev/null && fail "a wrong index passed the check"
ok

total_acked=0
for run in $(seq 1 "$ROUNDS"); do
	before=$(sed -n 2p "$L/checkpoint")
	$B log append --dir "$L" --no-witness < <(feed "$run") > "$T/acks" 2>"$T/err" &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 450)))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true

	# Restart: opening the log replays the journal and republishes.
	$B log checkpoint --dir "$L" > /dev/null 2>"$T/err" || { cat "$T/err"; fail "round $run: recovery failed"; }
	$B log verify --dir "$L" --key "$VKEY" --quiet 2>"$T/err" || { cat "$T/err"; fail "round $run: verify failed after kill -9"; }

	# Every acknowledged index holds the entry that was acknowledged.
	acked=$(grep -c '^[0-9]' "$T/acks" || true)
	check_acked "$T/acks" "$L" "$before" "r$run" || fail "round $run: an acknowledged entry is missing"
	total_acked=$((total_acked + acked))
	ok
done
size=$(sed -n 2p "$L/checkpoint")
[ "$size" -ge "$total_acked" ] || fail "log has $size entries, $total_acked were acknowledged"
[ "$total_acked" -gt 0 ] || fail "no append was acknowledged in $ROUNDS rounds"
echo "crash test: $ROUNDS kills, $total_acked entries acknowledged, log holds $size"
done_checks
