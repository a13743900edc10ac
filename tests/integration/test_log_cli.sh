#!/usr/bin/env bash
# The audit log through its command line: appends, refusals, proofs,
# show filters, and tamper detection of every kind the issue names.
. "$(dirname "$0")/lib.sh"
B=$BULWARK
L=$T/log
ORIGIN=test.bulwark.invalid/log

# --- help works both ways
grep -q "tamper-evident audit log" <<<"$($B help log)" || fail "bulwark help log"
grep -q "tlog-tiles" <<<"$($B log --help)" || fail "bulwark log --help"
grep -q "tlog-witness" <<<"$($B witness --help)" || fail "bulwark witness --help"
ok
expect_fail "unknown command" "not a bulwark command" $B frobnicate

# --- init
VKEY=$($B log init --dir "$L" --origin "$ORIGIN" 2>/dev/null)
[[ $VKEY == "$ORIGIN+"* ]] || fail "init printed '$VKEY'"
[ "$(stat -c %a "$L/private")" = 700 ] || fail "private dir mode"
[ "$(stat -c %a "$L/private/log.key")" = 600 ] || fail "key mode"
ok
expect_fail "init twice" "already holds a log" $B log init --dir "$L" --origin "$ORIGIN"
expect_fail "bad origin" "not usable" $B log init --dir "$T/x" --origin "has space"

# --- append: indices in order, refusals marked and explained
n_events 300 > "$T/ev1"
$B log append --dir "$L" < "$T/ev1" > "$T/idx1"
[ "$(wc -l < "$T/idx1")" = 300 ] || fail "300 indices expected"
[ "$(head -1 "$T/idx1")" = 0 ] && [ "$(tail -1 "$T/idx1")" = 299 ] || fail "indices 0..299"
ok
{
	echo '{"actor":"a","action":"ok.1"}'
	echo '{"actor":"a","action":'			# malformed JSON
	echo '{"actor":"a","action":"x","colour":"red"}'	# unknown field
	echo '{"actor":"a","action":"x","detail":{"f":1.5}}'	# float
	printf '{"actor":"a\xff","action":"x"}\n'	# invalid UTF-8
	echo '{"actor":"a","action":"x","time":"yesterday"}'	# bad time
	echo '[1,2,3]'					# not an object
	echo '{"action":"x"}'				# missing actor
	echo '{"actor":"a","action":"a","actor":"b"}'	# duplicate key
	printf '{"actor":"a","action":"x","detail":{"s":"%070000d"}}\n' 0	# oversize
	echo '{"actor":"a","action":"ok.2"}'
} > "$T/mixed"
if $B log append --dir "$L" < "$T/mixed" > "$T/idx2" 2> "$T/err2"; then
	fail "append with refused lines must exit 1"
fi
[ "$(tr '\n' ' ' < "$T/idx2")" = "300 - - - - - - - - - 301 " ] || fail "mixed indices: $(tr '\n' ' ' < "$T/idx2")"
for pat in "line 2: .*not valid JSON" "line 3: .*unknown field 'colour'" \
	"line 4: .*fractional" "line 5: .*not valid JSON" "line 6: .*RFC 3339" \
	"line 7: .*must be a JSON object" "line 8: .*missing field 'actor'" \
	"line 9: .*not valid JSON" "line 10: .*(longer than|64 KiB|65535)"; do
	grep -Eq "$pat" "$T/err2" || { cat "$T/err2"; fail "no error matching /$pat/"; }
done
ok

# --- show
grep -q "user7  test.event  target=root@web0" <<<"$($B log show --dir "$L" --actor user7)" || fail "show --actor"
[ "$($B log show --dir "$L" --action 'ok.*' | wc -l)" = 2 ] || fail "show --action pattern"
[ "$($B log show --dir "$L" --since 2000-01-01 --until 2000-12-31 | wc -l)" = 0 ] || fail "show time range"
[ "$($B log show --dir "$L" --json --from 301 | wc -l)" = 1 ] || fail "show --from"
grep -q '^{"action":"ok.2","actor":"a","time":"' <<<"$($B log show --dir "$L" --json --from 301)" || fail "canonical json"
ok

# --- proofs verify against the published checkpoint root
$B log prove --dir "$L" --index 123 > "$T/incl.json"
grep -q '"leafIdx": 123' "$T/incl.json" && grep -q '"treeSize": 302' "$T/incl.json" || fail "prove --index"
$B log prove --dir "$L" --old 17 > "$T/cons.json"
grep -q '"size1": 17' "$T/cons.json" || fail "prove --old"
expect_fail "prove out of range" "out of range" $B log prove --dir "$L" --index 302
ok

# --- verify passes, then with the key given explicitly and remembered
$B log verify --dir "$L" --quiet
grep -q "verified: 302 entries" <<<"$($B log verify --dir "$L" --key "$VKEY" --remember "$T/seen")"
[ -s "$T/seen" ] || fail "--remember wrote nothing"
ok
# On a terminal (script(1) gives it one) verify shows its progress.
script -qec "$B log verify --dir '$L' --key '$VKEY'" /dev/null > "$T/tty" 2>&1
grep -q "verifying: 302/302 entries (100%)" "$T/tty" || { cat "$T/tty"; fail "no progress on a terminal"; }
! grep -q "verifying:" <<<"$($B log verify --dir "$L" --key "$VKEY" 2>&1)" || fail "progress without a terminal"
ok

# --- blobs: content-addressed, deduplicated, checked on read and by verify
head -c 300000 /dev/urandom > "$T/rec.bin"
H=$($B log blob put --dir "$L" "$T/rec.bin")
[[ $H == sha256:$(sha256sum < "$T/rec.bin" | cut -c1-64) ]] || fail "blob name $H"
[ "$($B log blob put --dir "$L" < "$T/rec.bin")" = "$H" ] || fail "blob put twice"
$B log blob get --dir "$L" "$H" | cmp -s - "$T/rec.bin" || fail "blob round trip"
printf '{"actor":"a","action":"session.recording","detail":{"blob":"%s"}}\n' "$H" |
	$B log append --dir "$L" > /dev/null
expect_fail "blob bad name" "not a blob name" $B log blob get --dir "$L" sha256:xyz
expect_fail "blob missing" "no blob" $B log blob get --dir "$L" "sha256:$(printf '%064d' 0)"
ok

# --- a flipped byte anywhere in the published log is caught and located
cp "$L/checkpoint" "$T/ckpt303"
for f in $(cd "$L" && find checkpoint tile blob -type f | sort); do
	rm -rf "$T/copy"
	cp -a "$L" "$T/copy"
	size=$(stat -c %s "$T/copy/$f")
	off=$((size / 2))
	printf "$(printf '\\%03o' $(( $(od -An -tu1 -j$off -N1 "$T/copy/$f") ^ 4 )))" |
		dd of="$T/copy/$f" bs=1 seek=$off conv=notrunc status=none
	if $B log verify --dir "$T/copy" --key "$VKEY" --quiet 2> "$T/verr"; then
		fail "flipped byte in $f not detected"
	fi
	grep -q -- "$f" "$T/verr" || { cat "$T/verr"; fail "error does not name $f"; }
	ok
done

# --- a wrong key is refused
OTHER=$($B log init --dir "$T/other" --origin "$ORIGIN" 2>/dev/null)
expect_fail "wrong log key" "does not verify|no signature" $B log verify --dir "$L" --key "$OTHER" --quiet

# --- truncation and rollback against an older checkpoint
cp -a "$L" "$T/log303"
n_events 100 more > "$T/ev3"
$B log append --dir "$L" < "$T/ev3" > /dev/null
cp "$L/checkpoint" "$T/ckpt403"
$B log verify --dir "$L" --key "$VKEY" --older "$T/ckpt303" --quiet	# grows: fine
ok
rm -rf "$L" && cp -a "$T/log303" "$L"		# roll back to 303 entries
$B log verify --dir "$L" --key "$VKEY" --quiet	# consistent on its own...
expect_fail "rollback vs older checkpoint" "truncated or rolled back: .* 403 entries, the log now covers 303" \
	$B log verify --dir "$L" --key "$VKEY" --older "$T/ckpt403" --quiet
expect_fail "rollback vs remembered checkpoint" "truncated or rolled back" \
	$B log verify --dir "$L" --key "$VKEY" --remember "$T/seen402" --older "$T/ckpt403" --quiet

# --- a rewritten history (same size, other entries) fails the older root
rm -rf "$T/fork" && cp -a "$T/log303" "$T/fork"
n_events 100 evil | $B log append --dir "$T/fork" > /dev/null
expect_fail "fork vs older checkpoint" "rewritten" \
	$B log verify --dir "$T/fork" --key "$VKEY" --older "$T/ckpt403" --quiet

# --- only one writer at a time
( sleep 8 | $B log append --dir "$T/log303" > /dev/null ) &
# Until the first writer holds the lock, as /proc/locks shows it: probing
# with flock -n would take the lock for a moment, and a writer starting
# in that moment was itself refused (the suite failed so under load).
lock_ino=$(stat -c %i "$T/log303/private/lock")
held=0
for i in $(seq 100); do
	if awk -v ino=":$lock_ino" '{ for (f = 1; f <= NF; f++)
	    if (substr($f, length($f) - length(ino) + 1) == ino) found = 1 }
	    END { exit !found }' /proc/locks; then
		held=1
		break
	fi
	sleep 0.05
done
[ "$held" = 1 ] || fail "the first writer never took the lock"
expect_fail "second writer" "another process is appending" $B log append --dir "$T/log303" < /dev/null
wait

# --- many small appends: the journal is folded in after a bounded number
# of records (so that an open never replays the log's whole history), and
# a replay rebuilds every published file the journal covers: remove them
# all (as a power cut before the kernel wrote them back would) and the next
# open puts them back. 30 batches of 10 entries: a full tile and bundle
# appear in the middle, and 30 records stay below the fold. The batches
# journal their entries (a test build's default stages the full bundle of
# even a small batch, and that file is durable before the record is).
export BULWARK_DIRECT_MIN=100000
J=$T/journal-log
JKEY=$($B log init --dir "$J" --origin "$ORIGIN" 2>/dev/null)
for i in $(seq 1 30); do
	n_events 10 "j$i" | $B log append --dir "$J" --no-witness > /dev/null
done
[ "$(sed -n 2p "$J/checkpoint")" = 300 ] || fail "30 batches of 10 did not make 300 entries"
rm -rf "$J/checkpoint" "$J/tile/0/000" "$J/tile/entries/000" "$J"/tile/*/*.p
$B log checkpoint --dir "$J" > /dev/null 2>"$T/err" || { cat "$T/err"; fail "replay after removing the published files"; }
$B log verify --dir "$J" --key "$JKEY" --quiet || fail "replay did not republish what the journal covers"
[ -f "$J/tile/0/000" ] && [ -f "$J/tile/entries/000" ] && [ -f "$J/tile/0/001.p/44" ] &&
	[ -f "$J/tile/1/000.p/1" ] && [ -f "$J/tile/entries/001.p/44" ] ||
	fail "replay did not put back the full and partial tiles"
ok
jsize=$(stat -c %s "$J/private/journal")
for i in $(seq 1 70); do
	n_events 1 "k$i" | $B log append --dir "$J" --no-witness > /dev/null
done
# 30 + 70 records without a fold would be more than the 30 alone were;
# folded at 64, the journal holds the last 36 records only.
[ "$(stat -c %s "$J/private/journal")" -lt "$jsize" ] ||
	fail "100 single-batch appends left $(stat -c %s "$J/private/journal") bytes of journal (30 batches made $jsize): not folded"
$B log verify --dir "$J" --key "$JKEY" --quiet || fail "log does not verify after the journal was folded"
[ "$(sed -n 2p "$J/checkpoint")" = 370 ] || fail "370 entries expected"
ok
unset BULWARK_DIRECT_MIN

done_checks
