# Shared helpers for integration tests (sourced, not run).
# Each test gets a private temporary directory, removed on exit however the
# test ends, and background processes it started are killed.
set -euo pipefail

: "${BULWARK:?set BULWARK to the bulwark binary}"
T=$(mktemp -d /tmp/bulwark-test.XXXXXX)
PIDS=()
CHECKS=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	CHECKS=$((CHECKS + 1))
}

# expect_fail DESC PATTERN CMD...: CMD must fail and its stderr match PATTERN.
expect_fail() {
	local desc=$1 pat=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "$desc: succeeded but should have failed"
	fi
	grep -Eq -- "$pat" "$T/err" || {
		cat "$T/err" >&2
		fail "$desc: error does not match /$pat/"
	}
	ok
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_witness DIR PORT: serves DIR in the background until the test ends.
start_witness() {
	"$BULWARK" witness serve --dir "$1" --listen "127.0.0.1:$2" 2>>"$T/witness.log" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$T/witness.log" >&2
	fail "witness did not start on port $2"
}

# n_events N [PREFIX]: N valid entries, one per line.
n_events() {
	local i
	for i in $(seq 1 "$1"); do
		printf '{"actor":"%s%d","action":"test.event","target":"root@web%d","detail":{"n":%d}}\n' \
			"${2:-user}" "$i" $((i % 7)) "$i"
	done
}

done_checks() {
	echo "$(basename "$0"): $CHECKS checks passed"
}

# grepq [GREP OPTIONS] PATTERN: grep -q for the end of a pipeline. It reads
# all its input: under pipefail, grep -q leaving at the first match kills
# a writer that still has output with SIGPIPE, and the pipeline fails
# although the line was there (test_gateway_crash failed so under load).
# GNU grep stops early when its output is /dev/null, hence the capture.
grepq() {
	local n
	n=$(grep -c "$@")
}

# check_acked ACKS DIR BEFORE TAG: every index printed in ACKS (one line per
# input line, "-" for refusals) must hold the entry whose session is
# TAG-<input line number>, in the log in DIR that held BEFORE entries
# before the run. Only whole lines count: a writer killed between the
# write()s of one batch's indices (stdio writes 4096-byte blocks) leaves
# a last line without its newline, a prefix of an index ("3781" of
# "37815"), which acknowledges nothing.
check_acked() {
	local acks=$1 dir=$2 before=$3 tag=$4
	if [ -n "$(tail -c 1 "$acks")" ]; then
		sed '$d' "$acks" > "$acks.whole"
		acks=$acks.whole
	fi
	grep -q '^[0-9]' "$acks" || return 0
	"$BULWARK" log show --dir "$dir" --json --from "$before" > "$T/shown"
	awk -v tag="$tag" -v base="$before" '
		NR == FNR { if ($0 ~ /^[0-9]+$/) want[$0] = tag "-" FNR; next }
		{ have[base + FNR - 1] = $0 }
		END {
			for (i in want)
				if (index(have[i], "\"session\":\"" want[i] "\"") == 0) {
					print "index " i " lost " want[i] > "/dev/stderr"; exit 1
				}
		}' "$acks" "$T/shown"
}
