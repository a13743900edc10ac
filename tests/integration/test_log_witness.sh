#!/usr/bin/env bash
# The log and a real witness process together: the log pushes checkpoints,
# publishes them cosigned, and a log that is rolled back or forked after
# the witness saw it is caught - by the witness's refusal and by verifying
# against the witness's stored state.
. "$(dirname "$0")/lib.sh"
B=$BULWARK
L=$T/log
W=$T/witness
ORIGIN=witnessed.test.invalid/log
PORT=$(free_port)

VKEY=$($B log init --dir "$L" --origin "$ORIGIN" 2>/dev/null)
WKEY=$($B witness init --dir "$W" --name witness.test.invalid/w1 2>/dev/null)
$B witness add-log --dir "$W" --origin "$ORIGIN" --key "$VKEY" 2>/dev/null
start_witness "$W" "$PORT"
$B log witness add --dir "$L" --url "http://127.0.0.1:$PORT" --key "$WKEY"
expect_fail "witness added twice" "cannot add witness" \
	$B log witness add --dir "$L" --url "http://127.0.0.1:$PORT" --key "$WKEY"
expect_fail "log key as witness key" "cannot add witness" \
	$B log witness add --dir "$L" --url "http://127.0.0.1:$PORT" --key "$VKEY"

# --- appends push the checkpoint; it is published with the cosignature
n_events 200 | $B log append --dir "$L" > /dev/null
grep -q "^— witness.test.invalid/w1 " "$L/checkpoint" || fail "checkpoint not cosigned"
$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
cp -a "$L" "$T/log200"
n_events 300 second | $B log append --dir "$L" > /dev/null
$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
[ "$(sed -n 2p "$L/checkpoint")" = 500 ] || fail "size 500 expected"
ok

# --- witness unreachable: appends still succeed, verify demands the cosig
kill -9 "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
n_events 10 third | $B log append --dir "$L" > /dev/null 2>"$T/err" || fail "append must not need the witness"
grep -q "unreachable" "$T/err" || fail "unreachable witness not reported"
expect_fail "uncosigned checkpoint" "not cosigned by witness" \
	$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
start_witness "$W" "$PORT"
$B log checkpoint --dir "$L" > /dev/null 2>&1
$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
ok

# --- roll the log back to 200 entries: its old checkpoint still carries a
# valid cosignature, but the witness's stored state shows the truncation
rm -rf "$L" && cp -a "$T/log200" "$L"
$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
$B witness show --dir "$W" --origin "$ORIGIN" > "$T/wstate" 2>/dev/null
expect_fail "rollback vs witness state" "truncated or rolled back: .*510 entries, the log now covers 200" \
	$B log verify --dir "$L" --key "$VKEY" --older "$T/wstate" --quiet

# --- growing the rolled-back log (a fork) gets no cosignature
n_events 100 evil | $B log append --dir "$L" > /dev/null 2>"$T/err" || true
grep -q "truncated or rolled back" "$T/err" || { cat "$T/err"; fail "rollback not reported by the log"; }
n_events 400 evil2 | $B log append --dir "$L" > /dev/null 2>"$T/err" || true
grep -Eq "refused the checkpoint \(HTTP 422" "$T/err" || { cat "$T/err"; fail "fork not refused by the witness"; }
expect_fail "forked log" "not cosigned by witness|cosignature does not verify" \
	$B log verify --dir "$L" --key "$VKEY" --witness-key "$WKEY" --quiet
expect_fail "fork vs witness state" "rewritten" \
	$B log verify --dir "$L" --key "$VKEY" --older "$T/wstate" --quiet
# The witness kept its state: still 510.
$B witness show --dir "$W" --origin "$ORIGIN" 2>/dev/null | sed -n 2p | grepq -x 510 || fail "witness state moved"
ok
done_checks
