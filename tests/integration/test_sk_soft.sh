# FIDO2 keys with verify-required, end to end against the system's OpenSSH,
# using the software security key bwt_sk_soft.so (tests/sk-soft) in place of
# hardware: enrol with ssh-keygen, log in to a throw-away sshd, and show that
# sshd refuses signatures the device made without user verification.
# Needs root: it creates (and removes) a test user and runs sshd.
source "$SRC_DIR/tests/integration/lib.sh"

: "${BUILD_DIR:?set BUILD_DIR to the build directory}"
SK=$BUILD_DIR/tests/sk-soft/bwt_sk_soft.so
[ -f "$SK" ] || fail "provider $SK not built (cmake --build . --target bwt_sk_soft)"
[ "$(id -u)" -eq 0 ] || fail "must run as root (creates a user, runs sshd)"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || fail "sshd not found"

# A user of our own, so that nothing depends on root's configuration; the
# prefix and PID make it recognisable and unique. Removed however we exit,
# after lib.sh's cleanup has killed sshd (userdel refuses while a process
# of the user runs).
TU=bwtsk$$
trap 'cleanup; userdel -r "$TU" >/dev/null 2>&1 || true' EXIT
# '*' rather than useradd's default '!', which sshd treats as a locked
# account even for public key logins when PAM is off.
useradd -m -s /bin/sh -p '*' "$TU" || fail "useradd $TU"

# sshd reads AuthorizedKeysFile as the user, so the user must be able to
# reach it inside our private directory.
chmod 711 "$T"
mkdir -p /run/sshd	# sshd's privilege separation directory

# Enrolment: the device is asked for user verification because of
# verify-required, and the key file must record that.
ssh-keygen -q -t ed25519-sk -O verify-required -w "$SK" -N '' -C bwt-uv \
	-f "$T/id_sk" </dev/null >"$T/keygen.out" 2>&1 || {
	cat "$T/keygen.out" >&2
	fail "enrolment with verify-required failed"
}
grep -q '^sk-ssh-ed25519@openssh.com AAAA' "$T/id_sk.pub" || fail "not an sk-ssh-ed25519 public key"
ok
ssh-keygen -l -f "$T/id_sk.pub" | grepq '(ED25519-SK)$' || fail "ssh-keygen -l does not show ED25519-SK"
ok
# The same, enrolled without verify-required: the device is never asked
# for user verification when signing with it.
ssh-keygen -q -t ed25519-sk -w "$SK" -N '' -C bwt-nouv -f "$T/id_sk_plain" \
	</dev/null >"$T/keygen.out" 2>&1 || {
	cat "$T/keygen.out" >&2
	fail "enrolment without verify-required failed"
}
ok

# Both keys authorized with verify-required: sshd must see the UV flag in
# each signature, whatever the key file says.
{
	echo "verify-required $(cut -d' ' -f1,2 "$T/id_sk.pub")"
	echo "verify-required $(cut -d' ' -f1,2 "$T/id_sk_plain.pub")"
} >"$T/authorized_keys"
chmod 644 "$T/authorized_keys"

ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" || fail "host key"
PORT=$(free_port) || fail "no free port"
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/host_key
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile $T/authorized_keys
AllowUsers $TU
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
LogLevel VERBOSE
EOF
"$SSHD" -t -f "$T/sshd_config" 2>"$T/sshd.log" || {
	cat "$T/sshd.log" >&2
	fail "sshd rejects its configuration"
}
"$SSHD" -f "$T/sshd_config" -D -e 2>>"$T/sshd.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || {
	cat "$T/sshd.log" >&2
	fail "sshd did not start on port $PORT"
}

echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"

# try_login KEY: one login with KEY only, nothing from root's ~/.ssh or an
# agent, no prompts; the client's stderr goes to $T/ssh.err.
try_login() {
	ssh -F /dev/null -p "$PORT" -l "$TU" -i "$1" \
		-o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
		-o SecurityKeyProvider="$SK" \
		-o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
		-o PreferredAuthentications=publickey -o ConnectTimeout=10 \
		127.0.0.1 true </dev/null 2>"$T/ssh.err"
}

# expect_refused DESC: the login just tried failed, and sshd logged, after
# line $MARK, that it was for want of user verification (which sshd checks
# only once the signature itself has verified).
expect_refused() {
	local _
	for _ in $(seq 1 40); do
		tail -n +"$((MARK + 1))" "$T/sshd.log" |
			grep -q 'rejected: user verification requirement not met' && { ok; return 0; }
		sleep 0.05
	done
	cat "$T/ssh.err" "$T/sshd.log" >&2
	fail "$1: sshd did not log the user verification failure"
}

try_login "$T/id_sk" || {
	cat "$T/ssh.err" "$T/sshd.log" >&2
	fail "login with a user-verified FIDO key failed"
}
ok

MARK=$(wc -l <"$T/sshd.log")
BWT_SK_SOFT_NO_UV=1 try_login "$T/id_sk" &&
	fail "verify-required key accepted without user verification"
expect_refused "verify-required key, device without UV"

MARK=$(wc -l <"$T/sshd.log")
BWT_SK_SOFT_NO_UV=1 try_login "$T/id_sk_plain" &&
	fail "key enrolled without verify-required accepted under verify-required (NO_UV)"
expect_refused "key enrolled without verify-required, device without UV"

# Even with a UV-capable device: the key file does not ask for UV, so the
# signature does not carry it, and the authorized_keys option still wins.
MARK=$(wc -l <"$T/sshd.log")
try_login "$T/id_sk_plain" &&
	fail "key enrolled without verify-required accepted under verify-required"
expect_refused "key enrolled without verify-required"

# A control for the refusals above: the signature made without UV is
# itself valid (ssh-keygen -Y verify has no verify-required option).
echo "bwt-uv $(cut -d' ' -f1,2 "$T/id_sk.pub")" >"$T/allowed_signers"
echo "signed without UV" >"$T/msg"
BWT_SK_SOFT_NO_UV=1 SSH_SK_PROVIDER=$SK ssh-keygen -Y sign -f "$T/id_sk" -n bwt-test \
	"$T/msg" </dev/null >"$T/sign.out" 2>&1 || {
	cat "$T/sign.out" >&2
	fail "ssh-keygen -Y sign with the soft key failed"
}
ssh-keygen -Y verify -f "$T/allowed_signers" -I bwt-uv -n bwt-test -s "$T/msg.sig" \
	<"$T/msg" >"$T/verify.out" 2>&1 || {
	cat "$T/verify.out" >&2
	fail "signature made without UV does not verify"
}
ok

done_checks
