#!/usr/bin/env bash
# The admin commands against a real bulwarkd on a temporary socket: users
# (with a real Unix account, removed however the test ends), TOTP
# enrolment, targets and host key pinning, grants, ssh-config, the target
# setup script, the AuthorizedKeysCommand, and errors when the daemon is
# down. Needs root (useradd, and bulwarkd serves admin requests to root).
source "${SRC_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"
B=$BULWARK
D=${BUILD_DIR:?set BUILD_DIR to the build directory}/bulwarkd

if [ "$(id -u)" != 0 ]; then
	echo "$(basename "$0"): skipped: needs root" >&2
	exit 0
fi
[ -x "$D" ] || fail "no bulwarkd in $BUILD_DIR"

# Test accounts carry this prefix; remove them however the test ends.
U=bwt$$
U2=bwt$$b
cleanup_users() {
	local u
	for u in "$U" "$U2"; do
		if getent passwd "$u" >/dev/null; then
			userdel -r "$u" >/dev/null 2>&1 || true
		fi
	done
	cleanup
}
trap cleanup_users EXIT

SOCK=$T/bulwarkd.sock
STATE=$T/state
export BULWARK_SOCKET=$SOCK

# --- help and usage, no daemon needed
for c in user target grant session gateway ssh-config; do
	grep -q "bulwark $c" <<<"$($B help "$c")" || fail "bulwark help $c"
done
grep -q "mfa enroll" <<<"$($B user --help)" || fail "bulwark user --help"
ok
expect_fail "user without subcommand" "usage: bulwark user" $B user
expect_fail "bad user name" "not a valid user name" $B user add 'Root!' --key /dev/null
expect_fail "user add without key" "usage: bulwark user add" $B user add "$U"
expect_fail "bad sensitivity" "sensitivity wants" $B target add t1 --host 127.0.0.1 --sensitivity 9
expect_fail "bad port" "port wants" $B target add t1 --host 127.0.0.1 --port 0
expect_fail "bad fingerprint" "fingerprint wants" $B target add t1 --host 127.0.0.1 --fingerprint MD5:xx
expect_fail "gateway setup needs source" "source-address" $B gateway setup --no-start

# --- clear errors while the daemon is down
expect_fail "daemon down" "cannot reach bulwarkd at $SOCK: .*is it running\?.*gateway setup" $B user list
expect_fail "daemon down, --socket" "cannot reach bulwarkd at $T/other" $B grant list --socket "$T/other"
expect_fail "keys, daemon down" "cannot reach bulwarkd" "$BUILD_DIR/bulwark-keys" root ssh-ed25519 AAAA

# --- a real daemon
"$D" --init --state "$STATE" --socket "$SOCK" >/dev/null
"$D" --state "$STATE" --socket "$SOCK" --source-address 10.9.8.7 2>>"$T/bulwarkd.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	sleep 0.05
done
[ -S "$SOCK" ] || { cat "$T/bulwarkd.log" >&2; fail "bulwarkd did not start"; }

# --- users
ssh-keygen -q -t ed25519 -N '' -C "$U" -f "$T/u1"
ssh-keygen -q -t ed25519 -N '' -C "$U-2" -f "$T/u2"
$B user add "$U" --key "$T/u1.pub" > "$T/out" || fail "user add"
grep -q "added user '$U'" "$T/out" || fail "user add output"
getent passwd "$U" | grepq "Bulwark gateway user" || fail "no Unix account for $U"
ok
expect_fail "user add twice" "already exists" $B user add "$U" --key "$T/u2.pub"
$B user list > "$T/out"
head -1 "$T/out" | grepq "^NAME *UID *ROLE *STATE" || fail "user list header"
grep -Eq "^$U +[0-9]+ +admin +active" "$T/out" || fail "user list row"
ok
$B user key add "$U" "$T/u2.pub" >/dev/null || fail "user key add"
expect_fail "private key refused" "is a private key" $B user key add "$U" "$T/u2"
grep -Eq "^keys +2$" <<<"$($B user show "$U")" || fail "user show: two keys"
fp2=$(ssh-keygen -l -f "$T/u2.pub" | awk '{print $2}')
$B user key list "$U" > "$T/out" || fail "user key list"
grep -Eq "^SHA256:[A-Za-z0-9+/]{43}  ssh-ed25519  added .*  $U$" "$T/out" || { cat "$T/out"; fail "key list: first key"; }
grep -q "^$fp2  ssh-ed25519  added .*  $U-2$" "$T/out" || { cat "$T/out"; fail "key list: second key"; }
expect_fail "key del: unknown fingerprint" "has no key SHA256:nosuch" $B user key del "$U" SHA256:nosuch
expect_fail "user key without a command" "usage: bulwark user key " $B user key
$B user key del "$U" "$fp2" > "$T/out" || fail "user key del"
grep -q "deleted key $fp2 of '$U'" "$T/out" || fail "key del output"
grep -Eq "^keys +1$" <<<"$($B user show "$U")" || fail "user show: one key after key del"
$B user key add "$U" "$T/u2.pub" >/dev/null || fail "user key add after key del"
ok
$B user disable "$U" >/dev/null && grep -Eq "^state +disabled" <<<"$($B user show "$U")" || fail "disable"
$B user enable "$U" >/dev/null && grep -Eq "^state +active" <<<"$($B user show "$U")" || fail "enable"
ok
expect_fail "show unknown user" "no user 'bwtnobody'" $B user show bwtnobody

# A refused user add removes the account it created: the key is taken.
expect_fail "user add with a taken key" "already taken" $B user add "$U2" --key "$T/u1.pub"
getent passwd "$U2" >/dev/null && fail "account $U2 left behind"
ok

# --- TOTP enrolment
$B user mfa enroll "$U" > "$T/mfa" || fail "mfa enroll"
grep -q "^otpauth://totp/.*secret=" "$T/mfa" || fail "no otpauth URI"
grep -q "shown once" "$T/mfa" || fail "no shown-once warning"
SECRET=$(sed -n 's/^secret (base32): //p' "$T/mfa")
[ -n "$SECRET" ] || fail "no secret line"
grep -q "secret=$SECRET" "$T/mfa" || fail "URI and secret differ"
if command -v oathtool >/dev/null; then
	oathtool --totp -b "$SECRET" | grepq -E '^[0-9]{6}$' || fail "oathtool refused the secret"
fi
grep -q "oathtool --totp -b $SECRET" "$T/mfa" || fail "no oathtool hint"
ok
$B user mfa unlock "$U" >/dev/null || fail "mfa unlock"
ok

# --- the AuthorizedKeysCommand
read -r KT KB _ < "$T/u1.pub"
"$BUILD_DIR/bulwark-keys" --socket "$SOCK" "$U" "$KT" "$KB" > "$T/out" || fail "keys for a known key"
grep -q "$KB" "$T/out" || fail "keys did not print the key"
ok
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
read -r KT KB _ < "$T/stranger.pub"
"$BUILD_DIR/bulwark-keys" --socket "$SOCK" "$U" "$KT" "$KB" > "$T/out" || fail "keys for an unknown key must exit 0"
[ -s "$T/out" ] && fail "keys printed something for an unknown key"
"$BUILD_DIR/bulwark-keys" --socket "$SOCK" -- "-S/tmp/x" "$KT" "$KB" > "$T/out" || fail "keys with an odd user name"
[ -s "$T/out" ] && fail "keys printed something for an odd user name"
ok

# --- targets
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
FP=$(ssh-keygen -lf "$T/hostkey.pub" | cut -d' ' -f2)
$B target add web1 --host 127.0.0.1 --group bwtweb --host-key "$T/hostkey.pub" > "$T/out" 2>&1 ||
	{ cat "$T/out" >&2; fail "target add --host-key"; }
grep -qF "$FP" "$T/out" || fail "target add did not show the fingerprint"
ok
# known_hosts style line, matching --fingerprint
echo "db1.example ssh-ed25519 $(cut -d' ' -f2 "$T/hostkey.pub")" > "$T/known"
$B target add db1 --host db1.example --group bwtdb --sensitivity 2 \
	--host-key "$T/known" --fingerprint "$FP" >/dev/null 2>&1 || fail "target add known_hosts line"
ok
expect_fail "wrong fingerprint" "does not match" \
	$B target add web2 --host 127.0.0.1 --host-key "$T/hostkey.pub" \
	--fingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
grep -qF "$FP" "$T/err" || fail "wrong fingerprint: the real one is not shown"
expect_fail "unverified key without a terminal" "not pinning an unverified host key" \
	$B target add web3 --host 127.0.0.1 < /dev/null
$B target list > "$T/out"
grep -E "^web1 +127.0.0.1 +22 +bwtweb +1 " "$T/out" | grepq -F "$FP" || fail "target list row"
grep -q "^web2 " "$T/out" && fail "refused target was added"
ok
grep -Eq "^sensitivity +2" <<<"$($B target show db1)" || fail "target show"
ok

# --- grants
$B grant add admin bwtweb root >/dev/null || fail "grant add"
$B grant add admin bwtweb deploy >/dev/null || fail "grant add 2"
$B grant add admin bwtdb postgres >/dev/null || fail "grant add 3"
$B grant add admin bwtweb root >/dev/null || fail "grant add twice must succeed"
$B grant list > "$T/out"
grep -Eq "^admin +bwtweb +root$" "$T/out" || fail "grant list"
ok
$B grant del admin bwtweb deploy >/dev/null || fail "grant del"
grep -q deploy <<<"$($B grant list)" && fail "grant del did not delete"
expect_fail "grant del twice" "no grant" $B grant del admin bwtweb deploy
expect_fail "bad login" "not a valid login" $B grant add admin bwtweb 'root;id'

# --- ssh-config
$B ssh-config "$U" --gateway gw.example.com > "$T/cfg" || fail "ssh-config"
grep -q "config.d/bulwark" "$T/cfg" || fail "ssh-config header"
grep -q "^Host root.web1 web1$" "$T/cfg" || fail "ssh-config Host line"
grep -q "SetEnv BULWARK_TARGET=postgres@db1" "$T/cfg" || fail "ssh-config SetEnv"
grep -q "Port 2222" "$T/cfg" || fail "ssh-config default port"
grep -qi "^hostname gw.example.com" <<<"$(ssh -G -F "$T/cfg" root.web1)" || fail "ssh -G does not read it"
ok

# --- setup script for a target
$B target setup-script web1 > "$T/setup.sh" || fail "setup-script"
sh -n "$T/setup.sh" || fail "setup script does not parse"
grep -q "AllowUsers root@10.9.8.7$" "$T/setup.sh" || fail "AllowUsers"
grep -q "$(cut -d' ' -f2 "$STATE/ca.pub")" "$T/setup.sh" || fail "CA key missing"
ok
# It works: run it against a scratch directory, without reloading.
$B target setup-script web1 --sshd-dir "$T/sshd" --no-reload > "$T/setup2.sh"
sh "$T/setup2.sh" >/dev/null || fail "running the setup script"
[ "$(cat "$T/sshd/bulwark/principals/root")" = root ] || fail "principals file"
grep -q "^TrustedUserCAKeys $T/sshd/bulwark/user_ca.pub$" "$T/sshd/sshd_config.d/00-bulwark.conf" || fail "conf"
grep -q "systemctl" "$T/setup2.sh" && fail "--no-reload still reloads"
ok
expect_fail "setup-script, unknown target" "no target .nosuch-target-x." $B target setup-script nosuch-target-x
$B grant del admin bwtdb postgres >/dev/null
expect_fail "setup-script without grants" "no login is granted on group 'bwtdb'" $B target setup-script db1

# --- sessions
grep -q "no sessions" <<<"$($B session list)" || fail "session list"
expect_fail "session show unknown" "no session 999" $B session show 999
expect_fail "session play unknown" "no session 999" $B session play 999 --cat
ok
# Record two sessions as the gateway user would (bulwark-shell's
# requests, from a tiny client running as $U), then replay them.
PY=/usr/bin/python3
if [ -x "$PY" ]; then
	cat > "$T/sess.py" <<'PYEOF'
import ctypes, socket, struct, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)	# PR_SET_DUMPABLE 0, as bulwark-shell
def msg(t, fields):
    body = struct.pack(">H", t)
    for tag, kind, v in fields:
        d = {"s": lambda: v.encode(), "b": lambda: v,
             "u8": lambda: struct.pack(">B", v),
             "u32": lambda: struct.pack(">I", v),
             "u64": lambda: struct.pack(">Q", v)}[kind]()
        body += struct.pack(">HI", tag, len(d)) + d
    return struct.pack(">I", len(body)) + body
def call(s, m):
    s.sendall(m)
    hdr = b""
    while len(hdr) < 4: hdr += s.recv(4 - len(hdr))
    n = struct.unpack(">I", hdr)[0]; body = b""
    while len(body) < n: body += s.recv(n - len(body))
    f = {}; i = 2
    while i < len(body):
        tag, l = struct.unpack(">HI", body[i:i+6]); f[tag] = body[i+6:i+6+l]; i += 6 + l
    if struct.unpack(">i", f[0])[0] != 0: sys.exit("status %d" % struct.unpack(">i", f[0])[0])
    return f
sock, target, login, key, cast = sys.argv[1:6]
cast = cast.encode()
s = socket.socket(socket.AF_UNIX); s.connect(sock)
f = call(s, msg(6, [(6, "s", target), (7, "s", login), (8, "s", "interactive"), (10, "u8", 1)]))
if f.get(29) != b"allow": sys.exit("denied: %r" % f.get(28))
call(s, msg(7, [(5, "s", key)]))
call(s, msg(8, [(16, "b", cast)]))
call(s, msg(9, [(17, "u32", 0), (18, "u64", 1), (19, "u64", len(cast))]))
PYEOF
	chmod 755 "$T"
	chmod 644 "$T/sess.py"
	# As a shell of a live login of $U, which alone may open sessions.
	as_shell() {
		"$PY" "$SRC_DIR/tests/integration/gwlogin.py" "$SOCK" "$U" \
			"$(id -u "$U")" "$(id -g "$U")" -- "$@"
	}
	$B target add ops0 --host 127.0.0.1 --group bwtweb --sensitivity 0 \
		--host-key "$T/hostkey.pub" >/dev/null 2>&1 || fail "target add ops0"
	ssh-keygen -q -t ed25519 -N '' -f "$T/eph"
	GOOD=$'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "hello "]\n[0.3, "r", "100x30"]\n[0.5, "o", "world\\r\\n"]\n'
	BAD=$'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "ok"]\nnot json\n'
	as_shell "$PY" "$T/sess.py" "$SOCK" ops0 root \
		"$(cat "$T/eph.pub")" "$GOOD" || fail "recording session 1"
	as_shell "$PY" "$T/sess.py" "$SOCK" ops0 root \
		"$(cat "$T/eph.pub")" "$BAD" || fail "recording session 2"
	# The logins gwlogin.py opened have ended with it.
	$B session logins | grepq "^no live logins$" || fail "session logins: $($B session logins)"
	$B session list --user "$U" > "$T/out"
	head -1 "$T/out" | grepq "^ID *USER *LOGIN@TARGET" || fail "session list header"
	grep -Eq "^1 +$U +root@ops0 +interactive" "$T/out" || fail "session list row"
	[ "$($B session list -n 1 | wc -l)" = 2 ] || fail "session list -n 1"
	grep -Eq "^recording +sha256:[0-9a-f]{64}" <<<"$($B session show 1)" || fail "session show"
	ok
	[ "$($B session play 1 --state "$STATE" --cat | tr -d "\r")" = "hello world" ] || fail "play --cat"
	$B session play 1 --state "$STATE" --raw > "$T/s1.cast"
	printf '%s' "$GOOD" | cmp -s - "$T/s1.cast" || fail "play --raw is not the recording"
	START=$(date +%s%N)
	BULWARK_STATE=$STATE $B session play 1 --speed 2 > "$T/out"
	ELAPSED=$(( ($(date +%s%N) - START) / 1000000 ))
	[ "$ELAPSED" -ge 200 ] || fail "play did not keep the timing (${ELAPSED} ms)"
	grep -q "hello world" "$T/out" || fail "play output"
	ok
	expect_fail "malformed recording" "recording of session 2 is malformed: line 3" \
		$B session play 2 --state "$STATE" --cat
	expect_fail "recording not found" "not in $T/nowhere/log/blob" \
		$B session play 1 --state "$T/nowhere"
	# A recording altered on disk is caught by its hash.
	N=$($B session show 1 | sed -n 's/^recording *sha256:\([0-9a-f]*\).*/\1/p')
	BLOB=$STATE/log/blob/sha256/$N
	[ -f "$BLOB" ] || fail "recording blob $BLOB not found"
	chmod u+w "$BLOB"
	printf 'x' >> "$BLOB"
	expect_fail "altered recording" "does not match its hash" \
		$B session play 1 --state "$STATE" --cat
	$B target del ops0 >/dev/null
else
	echo "$(basename "$0"): session replay not tested: needs /usr/bin/python3" >&2
fi

# --- deleting
$B target del db1 >/dev/null || fail "target del"
expect_fail "target show deleted" "no target 'db1'" $B target show db1
$B user del "$U" > "$T/out" 2>/dev/null || fail "user del"
getent passwd "$U" >/dev/null && fail "user del left the account"
expect_fail "user del twice" "no user" $B user del "$U"
ok

# --- daemon gone again
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
expect_fail "daemon stopped" "cannot reach bulwarkd" $B target list

done_checks
