#!/usr/bin/env bash
# The witness over real HTTP: `bulwark witness serve` on loopback, requests
# made with curl from checkpoints and proofs of real logs made with
# `bulwark log`, every status code of c2sp.org/tlog-witness, the
# cosignature checked with openssl (not with Bulwark's own code), a forked
# log refused, state kept across a restart, and one witness per directory.
. "$(dirname "$0")/lib.sh"
B=$BULWARK
W=$T/witness
L=$T/log
F=$T/fork
ORIGIN=test.bulwark.invalid/audit
WNAME=witness.test.invalid/w1

# post BODYFILE: POSTs it to add-checkpoint; sets STATUS, body in $T/resp,
# headers in $T/hdr.
post() {
	STATUS=$(curl -sS -o "$T/resp" -D "$T/hdr" -w '%{http_code}' \
		--data-binary @"$1" "$URL/add-checkpoint")
}

# expect_status WANT DESC BODYFILE
expect_status() {
	post "$3"
	[ "$STATUS" = "$1" ] || fail "$2: status $STATUS, want $1: $(head -c 300 "$T/resp")"
	ok
}

# body OLD CHECKPOINTFILE [PROOFFILE]: an add-checkpoint request body.
body() {
	echo "old $1"
	[ -z "${3:-}" ] || cat "$3"
	echo
	cat "$2"
}

# proof DIR OLD: the log's consistency proof from OLD, one hash per line.
proof() {
	"$B" log prove --dir "$1" --old "$2" | sed -n '/"proof"/,/]/p' |
		grep -o '[A-Za-z0-9+/]\{43\}='
}

# append DIR N TAG: N entries, no witnessing.
append() {
	n_events "$2" "$3" | "$B" log append --dir "$1" --no-witness >/dev/null
}

# hex: standard input as lowercase hex (od is in coreutils; xxd may be absent).
hex() {
	od -An -v -tx1 | tr -d ' \n'
}

# verify_cosig VKEY CHECKPOINTFILE RESPFILE: checks the cosignature/v1 line
# in RESPFILE on the checkpoint's text with openssl, per
# c2sp.org/tlog-cosignature: Ed25519 over "cosignature/v1\ntime T\n" ||
# text, the line carrying keyhash(4) || T(8, big-endian) || signature(64).
verify_cosig() {
	local vkey=$1 cp=$2 resp=$3 d=$T/verify name kh b64 line sig ts now
	rm -rf "$d"
	mkdir -p "$d"
	name=$(cut -d+ -f1 <<<"$vkey")
	kh=$(cut -d+ -f2 <<<"$vkey")
	b64=$(cut -d+ -f3- <<<"$vkey")
	base64 -d <<<"$b64" >"$d/vk"
	[ "$(head -c 1 "$d/vk" | hex)" = 04 ] || fail "witness key is not cosignature/v1"
	# SubjectPublicKeyInfo of an Ed25519 key (RFC 8410) around the raw key.
	{ printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00'; tail -c 32 "$d/vk"; } >"$d/pub.der"
	line=$(grep -a "^— $name " "$resp" | head -1)
	[ -n "$line" ] || fail "no signature line by $name in the response"
	sig=${line##* }
	base64 -d <<<"$sig" >"$d/sig"
	[ "$(stat -c %s "$d/sig")" = 76 ] || fail "cosignature is not 4+8+64 bytes"
	[ "$(head -c 4 "$d/sig" | hex)" = "$kh" ] || fail "cosignature key hash"
	ts=$((16#$(tail -c +5 "$d/sig" | head -c 8 | hex)))
	now=$(date +%s)
	[ "$ts" -gt 0 ] && [ "$ts" -le $((now + 1)) ] && [ "$ts" -ge $((now - 120)) ] ||
		fail "cosignature time $ts is not now ($now)"
	tail -c 64 "$d/sig" >"$d/sig64"
	{ printf 'cosignature/v1\ntime %d\n' "$ts"; sed '/^$/,$d' "$cp"; } >"$d/msg"
	openssl pkeyutl -verify -pubin -inkey "$d/pub.der" -keyform DER -rawin \
		-in "$d/msg" -sigfile "$d/sig64" >/dev/null ||
		fail "cosignature does not verify with openssl"
	# And not on another text.
	printf 'x' >>"$d/msg"
	if openssl pkeyutl -verify -pubin -inkey "$d/pub.der" -keyform DER -rawin \
		-in "$d/msg" -sigfile "$d/sig64" >/dev/null 2>&1; then
		fail "cosignature verifies on a changed message"
	fi
	ok
}

# --- set-up: a witness directory and a log
WVKEY=$($B witness init --dir "$W" --name "$WNAME")
[[ $WVKEY == "$WNAME+"* ]] || fail "init printed '$WVKEY'"
[ "$(stat -c %a "$W/witness.key")" = 600 ] || fail "witness.key mode"
[ "$($B witness key --dir "$W")" = "$WVKEY" ] || fail "witness key"
ok
expect_fail "init twice" "already has a key" $B witness init --dir "$W" --name "$WNAME"
expect_fail "bad name" "not valid" $B witness init --dir "$T/w2" --name "has space"
expect_fail "no dir" "--dir is required" $B witness key
expect_fail "not a witness" "not a witness directory" $B witness key --dir "$T/nothing"
expect_fail "unknown subcommand" "not a witness subcommand" $B witness frob
expect_fail "bad listen" "not ADDR:PORT" $B witness serve --dir "$W" --listen nowhere

LVKEY=$($B log init --dir "$L" --origin "$ORIGIN" 2>/dev/null)
$B witness add-log --dir "$W" --origin "$ORIGIN" --key "$LVKEY"
ok
expect_fail "add-log twice" "already configured" \
	$B witness add-log --dir "$W" --origin "$ORIGIN" --key "$LVKEY"
expect_fail "add-log witness key" "not an Ed25519" \
	$B witness add-log --dir "$W" --origin other.invalid/x --key "$WVKEY"
$B witness show --dir "$W" --origin "$ORIGIN" >"$T/show" 2>"$T/err"
[ ! -s "$T/show" ] && grep -q "no checkpoint cosigned yet" "$T/err" || fail "show before any"
ok

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
start_witness "$W" "$PORT"
grep -q "listening on http://127.0.0.1:$PORT" "$T/witness.log" || fail "no listening line"
ok
expect_fail "second server on the same directory" "in use by another witness" \
	$B witness serve --dir "$W" --listen "127.0.0.1:$(free_port)"

# --- first checkpoint: 200 and a cosignature that verifies
append "$L" 10 a
cp "$L/checkpoint" "$T/c10"
cp -a "$L" "$F"		# a copy that will be rewritten later
body 0 "$T/c10" >"$T/req"
expect_status 200 "first checkpoint" "$T/req"
[ "$(wc -l <"$T/resp")" = 1 ] || fail "one cosignature line expected"
verify_cosig "$WVKEY" "$T/c10" "$T/resp"

# --- stale old size: 409, text/x.tlog.size, the witness's size
expect_status 409 "old 0 again" "$T/req"
[ "$(cat "$T/resp")" = 10 ] || fail "409 body: $(cat "$T/resp")"
grep -qi '^content-type: text/x.tlog.size' "$T/hdr" || fail "409 content type"
ok

# --- growth: a bad proof is refused (422), the good one cosigned
append "$L" 7 b
cp "$L/checkpoint" "$T/c17"
proof "$L" 10 >"$T/p10"
[ "$(wc -l <"$T/p10")" -ge 1 ] || fail "no proof lines"
{ echo AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; tail -n +2 "$T/p10"; } >"$T/p10bad"
body 10 "$T/c17" "$T/p10bad" >"$T/req"
expect_status 422 "bad proof" "$T/req"
body 10 "$T/c17" >"$T/req"
expect_status 422 "missing proof" "$T/req"
body 10 "$T/c17" "$T/p10" >"$T/req"
expect_status 200 "growth 10 -> 17" "$T/req"
verify_cosig "$WVKEY" "$T/c17" "$T/resp"
# The same checkpoint again is cosigned again.
body 17 "$T/c17" >"$T/req"
expect_status 200 "same checkpoint again" "$T/req"

# --- a rewritten log (same key, same origin) gets no cosignature
append "$F" 7 mallory
cp "$F/checkpoint" "$T/f17"
body 17 "$T/f17" >"$T/req"
expect_status 422 "fork at the same size" "$T/req"
append "$F" 3 mallory2
proof "$F" 17 >"$T/pf17"
body 17 "$F/checkpoint" "$T/pf17" >"$T/req"
expect_status 422 "fork grown with its own proof" "$T/req"
body 0 "$F/checkpoint" >"$T/req"
expect_status 409 "fork pretending to be new" "$T/req"
# A truncation back to 10: old may not exceed the checkpoint's size.
body 17 "$T/c10" >"$T/req"
expect_status 400 "truncated log" "$T/req"
grep -q "the log forked or was rewritten" "$T/witness.log" || fail "fork not logged"
ok

# --- the stored checkpoint: show and the monitoring GET agree
$B witness show --dir "$W" --origin "$ORIGIN" >"$T/show" 2>"$T/err"
sed '/^$/,$d' "$T/show" | cmp -s - <(sed '/^$/,$d' "$T/c17") || fail "show is not the 17 checkpoint"
grep -q "may have been forked or rewritten" "$T/err" || fail "show does not warn about the refused fork"
verify_cosig "$WVKEY" "$T/c17" "$T/show"
grep -aq "^— $ORIGIN " "$T/show" || fail "stored checkpoint lacks the log's signature"
HASH=$(printf '%s' "$ORIGIN" | sha256sum | cut -d' ' -f1)
[ "$(curl -sS -o "$T/got" -w '%{http_code}' "$URL/$HASH/checkpoint")" = 200 ] || fail "GET checkpoint"
cmp -s "$T/got" "$T/show" || fail "GET checkpoint differs from show"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/$(printf x | sha256sum | cut -d' ' -f1)/checkpoint")" = 404 ] ||
	fail "GET unknown checkpoint"
ok

# --- refusals: 403, 404, 400, 405, 413
$B log init --dir "$T/impostor" --origin "$ORIGIN" >/dev/null 2>&1
append "$T/impostor" 20 eve
body 17 "$T/impostor/checkpoint" >"$T/req"
expect_status 403 "checkpoint signed by another key" "$T/req"
$B log init --dir "$T/stranger" --origin stranger.invalid/log >/dev/null 2>&1
append "$T/stranger" 3 s
body 0 "$T/stranger/checkpoint" >"$T/req"
expect_status 404 "unknown origin" "$T/req"
printf 'old 017\n\n' >"$T/req"
cat "$T/c17" >>"$T/req"
expect_status 400 "leading zero" "$T/req"
printf 'garbage' >"$T/req"
expect_status 400 "garbage" "$T/req"
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/req"
expect_status 413 "oversized body" "$T/req"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/add-checkpoint")" = 405 ] || fail "GET add-checkpoint"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/")" = 404 ] || fail "GET /"
ok
# An oversized chunked body (no Content-Length) is cut off, not buffered.
head -c 200000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/big" "$URL/add-checkpoint" 2>/dev/null || true)
[ "$code" != 200 ] || fail "chunked oversized body accepted"
ok
# Nothing above moved the witness.
body 0 "$T/c17" >"$T/req"
expect_status 409 "state after refusals" "$T/req"
[ "$(cat "$T/resp")" = 17 ] || fail "size after refusals: $(cat "$T/resp")"

# --- SIGTERM stops the server cleanly; the state survives a restart
pid=${PIDS[-1]}
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
grep -q "witness stopped" "$T/witness.log" || fail "no stop message"
ok
start_witness "$W" "$PORT"
expect_status 409 "after restart" "$T/req"
[ "$(cat "$T/resp")" = 17 ] || fail "size after restart: $(cat "$T/resp")"

# --- the log's own client: witnessing while appending, then verify
$B log witness add --dir "$L" --url "$URL" --key "$WVKEY"
append_out=$(n_events 5 c | $B log append --dir "$L" 2>&1 >/dev/null) ||
	fail "append with witness: $append_out"
$B log verify --dir "$L" --key "$LVKEY" --witness-key "$WVKEY" --quiet ||
	fail "log verify with the witness key"
ok
$B witness show --dir "$W" --origin "$ORIGIN" 2>/dev/null | sed -n 2p | grepq -x 22 ||
	fail "witness did not follow the log to 22"
ok

done_checks
