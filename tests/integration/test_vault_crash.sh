#!/usr/bin/env bash
# Crash tests for backups: kill -9 the agent (`bulwark backup`) or the
# vault's `bulwark vault receive` at random points of a backup, many
# times, alternating runs with the agent's cache and without it (which
# sends everything again, so the kills land inside pack uploads). Then:
# the next backup succeeds, no snapshot refers to missing data, `vault
# check` and `check --read-data` pass, and every snapshot restores to the
# source byte for byte (tests/integration/treecmp.py).
#
#   ROUNDS=N   kill rounds (default 16)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ROUNDS=${ROUNDS:-16}

echo "crash-test passphrase" > "$T/pass"
"$BULWARK" vault init "$T/vault" --admin-key "$T/admin.key" \
	--passphrase-file "$T/pass" > /dev/null 2>&1 || fail "vault init"
ssh-keygen -q -t ed25519 -N '' -f "$T/agent" > /dev/null
"$BULWARK" vault enroll host1 --dir "$T/vault" --ssh-key "$T/agent.pub" \
	--out "$T/agent.conf" > /dev/null 2>&1 || fail "enroll"

# About 60 MB: big random files (several packs), many small ones, a hole.
S=$T/src
mkdir -p "$S/big" "$S/small"
for i in 1 2 3; do
	head -c 18000000 /dev/urandom > "$S/big/f$i"
done
for i in $(seq 1 400); do
	head -c $((RANDOM % 8000 + 1)) /dev/urandom > "$S/small/m$i"
done
truncate -s 100M "$S/big/sparse"
echo tail | dd of="$S/big/sparse" bs=4096 seek=20000 conv=notrunc status=none

backup() {
	"$BULWARK" backup "$S" --config "$T/agent.conf" --vault "$T/vault" \
		--quiet "$@"
}

kills=0
for round in $(seq 1 "$ROUNDS"); do
	cache=(--cache "$T/cache")
	[ $((round % 2)) -eq 0 ] && cache=(--no-cache)
	backup "${cache[@]}" > "$T/round.out" 2>&1 &
	agent=$!
	# Early enough to land inside most runs: an incremental run with the
	# cache can be over in a fraction of a second.
	sleep "0.$((RANDOM % 6))$((RANDOM % 10 + 1))"
	if [ $((round % 3)) -eq 0 ]; then
		victim=$(pgrep -f "vault receive --host host1 --dir $T/vault" | head -n 1 || true)
		what=receive
	else
		victim=$agent
		what=agent
	fi
	if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
		kills=$((kills + 1))
		echo "# round $round: killed the $what" >&2
	fi
	wait "$agent" 2>/dev/null || true
	# The agent's death leaves receive to see end of input and stop.
	for _ in $(seq 1 100); do
		pgrep -f "vault receive --host host1 --dir $T/vault" > /dev/null || break
		sleep 0.05
	done
	"$BULWARK" vault check "$T/vault" > "$T/check.out" 2>&1 ||
		{ cat "$T/check.out"; fail "vault check after round $round"; }
done
[ "$kills" -ge $((ROUNDS / 3)) ] || fail "only $kills of $ROUNDS kills landed"
ok

# The next backup, with the cache the kills left behind, succeeds.
backup --cache "$T/cache" > "$T/final.out" 2>&1 ||
	{ cat "$T/final.out"; fail "backup after the crashes"; }
ok
"$BULWARK" check --read-data --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file "$T/pass" > "$T/rd.out" 2>&1 ||
	{ cat "$T/rd.out"; fail "check --read-data"; }
ok

# Every snapshot in the vault restores to the source, byte for byte.
"$BULWARK" snapshots --vault "$T/vault" | awk 'NR > 1 {print $1}' > "$T/ids"
n=$(wc -l < "$T/ids")
[ "$n" -ge 1 ] || fail "no snapshot survived"
while read -r id; do
	rm -rf "$T/r"
	"$BULWARK" restore "$id" --vault "$T/vault" --key "$T/admin.key" \
		--passphrase-file "$T/pass" --to "$T/r" > "$T/restore.out" 2>&1 ||
		{ cat "$T/restore.out"; fail "restore $id"; }
	python3 "$HERE/treecmp.py" "$S" "$T/r$S" > "$T/cmp.out" ||
		{ cat "$T/cmp.out"; fail "snapshot $id differs from the source"; }
done < "$T/ids"
ok
# The next receive swept what killed receives left in tmp/.
[ -z "$(ls -A "$T/vault/tmp")" ] || fail "uploads of killed receives left in tmp/"
[ -z "$(find "$T/vault/snapshots" -name '*.tmp.*')" ] ||
	fail "snapshot records of killed receives left behind"
ok
echo "# $kills kills, $n snapshots restored and compared" >&2
done_checks
