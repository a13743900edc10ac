#!/usr/bin/env bash
# Fault injection beyond the append path: every write, fsync and rename
# of the witness while it cosigns, and of 'log init', is failed in turn.
# Afterwards the witness must still answer, never have cosigned a size it
# did not store, and the log must verify with its cosignature.
. "$(dirname "$0")/lib.sh"
B=$BULWARK

if BULWARK_FAULT=write:1 $B log init --dir "$T/probe" --origin p.invalid/l > /dev/null 2>&1; then
	echo "test_witness_faults: no fault injection in this build; skipping"
	exit 0
fi

# --- log init: a failed init leaves nothing that a second init trips on
for op in write fsync rename; do
	n=1
	while :; do
		rm -rf "$T/li"
		if BULWARK_FAULT=$op:$n $B log init --dir "$T/li" --origin init.test.invalid/l > /dev/null 2>&1; then
			break
		fi
		# After the failure a clean init or an open must work.
		if ! $B log init --dir "$T/li" --origin init.test.invalid/l > /dev/null 2>"$T/err"; then
			grep -q "already holds a log" "$T/err" || { cat "$T/err"; fail "init after $op:$n"; }
		fi
		n_events 3 | $B log append --dir "$T/li" --no-witness > /dev/null 2>"$T/err" ||
			{ cat "$T/err"; fail "append after failed init $op:$n"; }
		$B log verify --dir "$T/li" --quiet 2>"$T/err" || { cat "$T/err"; fail "verify after init $op:$n"; }
		ok
		n=$((n + 1))
		[ $n -le 200 ] || fail "init: more than 200 $op calls?"
	done
	echo "log init: failed each of the first $((n - 1)) ${op} calls in turn"
done

# --- the witness while it cosigns
L=$T/log
W=$T/w
VKEY=$($B log init --dir "$L" --origin wf.test.invalid/log 2>/dev/null)
WKEY=$($B witness init --dir "$W" --name wf.test.invalid/w 2>/dev/null)
$B witness add-log --dir "$W" --origin wf.test.invalid/log --key "$VKEY" 2>/dev/null
PORT=$(free_port)
$B log witness add --dir "$L" --url "http://127.0.0.1:$PORT" --key "$WKEY"

serve() {	# serve [ENV...]: a witness process in the background
	env "$@" "$B" witness serve --dir "$W" --listen "127.0.0.1:$PORT" 2>>"$T/witness.log" &
	WPID=$!
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	fail "witness did not start"
}
stop() { kill "$WPID" 2>/dev/null || true; wait "$WPID" 2>/dev/null || true; }
trap 'stop; cleanup' EXIT

for op in write fsync rename; do
	n=1
	while :; do
		n_events 5 "$op$n-" | $B log append --dir "$L" --no-witness > /dev/null
		serve BULWARK_FAULT="$op:$n"
		if $B log checkpoint --dir "$L" > /dev/null 2>"$T/err"; then
			hit=0
		else
			hit=1
		fi
		stop
		# What the witness stored, it cosigned; what it cosigned verifies.
		$B witness show --dir "$W" --origin wf.test.invalid/log > "$T/ws" 2>/dev/null || true
		if [ -s "$T/ws" ]; then
			$B log verify --dir "$L" --key "$VKEY" --older "$T/ws" --quiet ||
				fail "$op:$n: witness state is not a checkpoint of this log"
		fi
		# A healthy witness then cosigns the current checkpoint.
		serve
		$B log checkpoint --dir "$L" > /dev/null 2>"$T/err" || { cat "$T/err"; fail "$op:$n: no recovery"; }
		stop
		$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet ||
			fail "$op:$n: checkpoint not cosigned after recovery"
		ok
		[ $hit = 1 ] || break
		n=$((n + 1))
		[ $n -le 100 ] || fail "witness: more than 100 $op calls?"
	done
	echo "witness: failed each of the first $((n - 1)) ${op} calls in turn"
done
done_checks
