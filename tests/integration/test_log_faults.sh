#!/usr/bin/env bash
# Fault injection: every write, fsync and rename of an append run is made
# to fail in turn (BULWARK_FAULT=OP:N, compiled into test builds). After
# each failure a clean restart must recover the log, verification must
# pass, and every acknowledged entry must be present.
. "$(dirname "$0")/lib.sh"
B=$BULWARK
export BULWARK_JOURNAL_ROTATE=16384

$B log init --dir "$T/base" --origin faults.test.invalid/log > "$T/vkey" 2>/dev/null
VKEY=$(cat "$T/vkey")
n_events 300 seed | $B log append --dir "$T/base" --no-witness > /dev/null

# A run of the appender's probe: does this build inject faults at all?
if BULWARK_FAULT=write:1 $B log append --dir "$T/base" --no-witness \
	< <(echo '{"actor":"probe","action":"probe"}') > /dev/null 2>&1; then
	echo "test_log_faults: this build has no fault injection (BULWARK_FAULT_INJECTION=OFF); skipping"
	exit 0
fi
rm -rf "$T/base" && $B log init --dir "$T/base" --origin faults.test.invalid/log > "$T/vkey" 2>/dev/null
VKEY=$(cat "$T/vkey")
n_events 300 seed | $B log append --dir "$T/base" --no-witness > /dev/null

for i in $(seq 1 700); do
	printf '{"actor":"fault","action":"test.append","session":"f-%d","detail":{"pad":"%0100d"}}\n' "$i" 0
done > "$T/input"

for op in write fsync rename; do
	n=1
	while :; do
		rm -rf "$T/log" && cp -a "$T/base" "$T/log"
		before=$(sed -n 2p "$T/log/checkpoint")
		# Small pieces with pauses make several batches and rotations.
		if BULWARK_FAULT=$op:$n $B log append --dir "$T/log" --no-witness \
			< <(split -l 100 --filter='cat; sleep 0.005' "$T/input") > "$T/acks" 2>"$T/err"; then
			failed=0
		else
			failed=1
		fi
		$B log checkpoint --dir "$T/log" > /dev/null 2>"$T/err2" ||
			{ cat "$T/err" "$T/err2"; fail "$op:$n: recovery failed"; }
		$B log verify --dir "$T/log" --key "$VKEY" --quiet 2>"$T/err2" ||
			{ cat "$T/err" "$T/err2"; fail "$op:$n: verify failed after the fault"; }
		check_acked "$T/acks" "$T/log" "$before" f || fail "$op:$n: acknowledged entry lost"
		ok
		if [ $failed = 0 ]; then
			[ "$(grep -c '^[0-9]' "$T/acks")" = 700 ] || fail "$op:$n: success without 700 acks"
			echo "$op: failed each of the first $((n - 1)) calls in turn"
			break
		fi
		n=$((n + 1))
		[ $n -le 2000 ] || fail "$op: more than 2000 calls?"
	done
done
done_checks
