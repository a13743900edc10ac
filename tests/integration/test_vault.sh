#!/usr/bin/env bash
# The backup vault end to end with Debian's OpenSSH: a vault user whose
# only authorized key is the agent's, restricted to the forced command
# `bulwark vault receive`; backups over ssh on 127.0.0.1; restores compared
# file by file (tests/integration/treecmp.py); and what an attacker holding
# the agent's own credentials can and cannot do to the vault.
#
# Everything system-wide is named bwv<pid> (the vault's Unix user, /run/bwv<pid>
# for the binary the forced command runs) and goes at exit; the sshd is our
# own instance on a free port of 127.0.0.1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"

P=bwv$$
VUSER=${P}v
RUN=/run/$P
SSHD_PID=
SMALL_MNT=
cleanup_vault() {
	[ -z "$SMALL_MNT" ] || umount "$SMALL_MNT" 2>/dev/null || true
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
	pkill -u "$VUSER" 2>/dev/null || true
	userdel -r "$VUSER" >/dev/null 2>&1 || true
	rm -rf "$RUN"
	cleanup
}
trap cleanup_vault EXIT
chmod 0711 "$T"

# The forced command must be a root-owned path the vault user can run.
mkdir -p "$RUN"
cp "$BULWARK" "$RUN/bulwark"
chmod 0755 "$RUN" "$RUN/bulwark"
B=$RUN/bulwark
TREECMP=$HERE/treecmp.py
PROTO=$HERE/vaultproto.py

useradd --home-dir "$T/vhome" --create-home --shell /bin/sh "$VUSER"
# "*": no password, but not locked (sshd without PAM refuses "!").
usermod -p "*" "$VUSER"
echo "correct horse battery staple" > "$T/pass"
chmod 600 "$T/pass"

# ---- vault and enrolment ----------------------------------------------------
"$B" vault init "$T/vault" --admin-key "$T/admin.key" \
	--passphrase-file "$T/pass" --user "$VUSER" > "$T/init.out" 2>&1 ||
	{ cat "$T/init.out"; fail "vault init"; }
grep -q "bulwark vault admin key v1" "$T/admin.key" || fail "no admin key export"
[ "$(stat -c %a "$T/admin.key")" = 600 ] || fail "admin key export not 0600"
[ "$(stat -c %U "$T/vault/packs")" = "$VUSER" ] || fail "vault not handed to $VUSER"
[ "$(stat -c %U:%a "$T/vault/keys/repo.key")" = root:600 ] || fail "repo.key not root's"
ok
expect_fail "init over an existing vault" "exists" \
	"$B" vault init "$T/vault" --admin-key "$T/admin2.key" --passphrase-file "$T/pass"

ssh-keygen -q -t ed25519 -N '' -C agent -f "$T/agent" > /dev/null
"$B" vault enroll web1 --dir "$T/vault" --ssh-key "$T/agent.pub" \
	--out "$T/agent.conf" > "$T/authline" 2> "$T/enroll.err" ||
	{ cat "$T/enroll.err"; fail "enroll"; }
grep -q "^restrict,command=\"$B vault receive --host web1 --dir $T/vault\" ssh-ed25519 " \
	"$T/authline" || { cat "$T/authline"; fail "authorized_keys line"; }
[ "$(stat -c %a "$T/agent.conf")" = 600 ] || fail "agent.conf not 0600"
ok
expect_fail "a host name the forced command would have to quote" "host names" \
	"$B" vault enroll 'web1;id' --dir "$T/vault" --ssh-key "$T/agent.pub" --out "$T/x.conf"
expect_fail "enrolling web1 twice" "already enrolled" \
	"$B" vault enroll web1 --dir "$T/vault" --ssh-key "$T/agent.pub" --out "$T/y.conf"
chmod 644 "$T/agent.conf"
expect_fail "a readable agent configuration" "chmod 600" \
	"$B" backup /etc/hostname --config "$T/agent.conf" --vault "$T/vault" --no-cache
chmod 600 "$T/agent.conf"

mkdir -p "$T/vhome/.ssh"
cp "$T/authline" "$T/vhome/.ssh/authorized_keys"
chown -R "$VUSER:" "$T/vhome/.ssh"
chmod 700 "$T/vhome/.ssh"
chmod 600 "$T/vhome/.ssh/authorized_keys"

# ---- the vault host's sshd ----------------------------------------------------
PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" > /dev/null
cat > "$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/hostkey
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $VUSER
LogLevel VERBOSE
EOF
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2> "$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.05
done
SSH=(ssh -i "$T/agent" -p "$PORT" -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes)
backup() {
	"$B" backup "$@" --config "$T/agent.conf" --vault "$VUSER@127.0.0.1:$T/vault" \
		--ssh-identity "$T/agent" --ssh-option "Port=$PORT" \
		--ssh-option StrictHostKeyChecking=no \
		--ssh-option UserKnownHostsFile=/dev/null --ssh-option LogLevel=ERROR
}

# ---- a source tree with everything a restore must get right --------------------
S=$T/src
mkdir -p "$S/etc" "$S/mail/cur" "$S/data" "$S/emptydir"
for i in $(seq 1 300); do
	printf 'From: list@example.org\nSubject: %d\n\n%s\n' "$i" \
		"$(head -c 3000 /dev/urandom | base64)" > "$S/mail/cur/msg$i"
done
cp "$S/mail/cur/msg7" "$S/mail/cur/dup7"		# same contents: one chunk
head -c 20000000 /dev/urandom > "$S/data/random.bin"
truncate -s 64M "$S/data/sparse.img"
echo "island of data" | dd of="$S/data/sparse.img" bs=4096 seek=5000 conv=notrunc status=none
echo "secret-marker-$P" > "$S/etc/shadow-like"
chmod 640 "$S/etc/shadow-like"
ln "$S/etc/shadow-like" "$S/mail/hardlink-to-shadow"
ln -s ../etc/shadow-like "$S/data/symlink"
ln -s /nonexistent "$S/data/dangling"
mkfifo "$S/data/fifo"
mknod "$S/data/null" c 1 3
echo x > "$S/data/setuid"
chmod 4755 "$S/data/setuid"
echo y > "$S/data/nobodys"
chown nobody:nogroup "$S/data/nobodys"
touch -d '2001-02-03 04:05:06.123456789' "$S/data/setuid"
chmod 1777 "$S/emptydir"
if command -v setfattr > /dev/null; then
	setfattr -n user.bulwark -v "xattr-value" "$S/data/random.bin"
	# stays as it is: the next backups take it from the cache, unread
	setfattr -n user.stays -v "same-value" "$S/mail/cur/msg2"
	setfattr -n user.grows -v "one" "$S/mail/cur/msg3"
fi
if command -v setfacl > /dev/null; then
	setfacl -m u:nobody:r "$S/etc/shadow-like"
fi
touch -d '2020-01-01 00:00:00' "$S/mail/cur"

# ---- backup, restore, compare ---------------------------------------------------------
backup "$S" --cache "$T/cache" --tag first > "$T/b1.out" 2> "$T/b1.err" ||
	{ cat "$T/b1.out" "$T/b1.err" "$T/sshd.log"; fail "first backup over ssh"; }
grep -q "^snapshot [0-9a-f]\{32\} saved" "$T/b1.out" || fail "no snapshot line"
SNAP1=$(awk '/^snapshot/ {print $2}' "$T/b1.out")
ok
"$B" snapshots --vault "$T/vault" > "$T/snaps"
grep -q "^$SNAP1" "$T/snaps" || { cat "$T/snaps"; fail "snapshot not listed"; }
grep -q "web1" "$T/snaps" || fail "host not listed"
ok
# Messages quote names that others chose (snapshot entries, paths): no
# control byte of theirs reaches the terminal.
! "$B" snapshots --vault "$T/"$'\033]0;PWNED\007' 2>"$T/esc.err" || fail "snapshots of a vault that is not there"
! grep -q $'[\033\007]' "$T/esc.err" || fail "a control byte reached the terminal: $(od -c "$T/esc.err" | head -3)"
grep -qF '\x1b]0;PWNED\x07' "$T/esc.err" || fail "the name is not shown with \\xNN for control bytes: $(cat "$T/esc.err")"
ok

# Nothing in the vault is plain text: not the marker, not the mail.
if grep -rqa "secret-marker-$P" "$T/vault"; then
	fail "plaintext found in the vault"
fi
if grep -rqa "list@example.org" "$T/vault"; then
	fail "mail headers found in the vault"
fi
ok

restore() {	# restore SNAP DEST
	"$B" restore "$1" --vault "$T/vault" --key "$T/admin.key" \
		--passphrase-file "$T/pass" --to "$2" > "$T/restore.out" 2>&1 ||
		{ cat "$T/restore.out"; fail "restore $1"; }
}
restore "$SNAP1" "$T/r1"
python3 "$TREECMP" "$S" "$T/r1$S" > "$T/cmp1" ||
	{ cat "$T/cmp1"; fail "restore 1 differs from the source"; }
ok

# A whole snapshot that cannot fit is refused before the passphrase is
# asked for and before anything is written; --no-space-check tries anyway
# and stops at ENOSPC, saying so.
SMALL_MNT=$T/small
mkdir "$SMALL_MNT"
mount -t tmpfs -o size=4m,mode=0700 "$P-small" "$SMALL_MNT"
expect_fail "restore into a file system too small" \
	"snapshot $SNAP1 holds .* of file data .* $SMALL_MNT has .* free.*--no-space-check" \
	"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file /nonexistent --to "$SMALL_MNT/r"
[ ! -e "$SMALL_MNT/r" ] || fail "the refused restore made its target"
expect_fail "restore with --no-space-check into too little space" "No space left on device" \
	"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file "$T/pass" --to "$SMALL_MNT/r" --no-space-check
# A part that fits is not refused.
rm -rf "$SMALL_MNT/r"
"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin.key" --passphrase-file "$T/pass" \
	--to "$SMALL_MNT/etc" --include "$S/etc/*" >"$T/small.out" 2>&1 ||
	{ cat "$T/small.out"; fail "a partial restore that fits"; }
umount "$SMALL_MNT"
SMALL_MNT=
ok

# An incremental backup reads only what changed and sends little. A
# changed attribute or ACL (same bytes) changes the ctime: read again, so
# the cache never hands back stale attributes. A removed file leaves the
# cache's records.
echo "changed" >> "$S/mail/cur/msg1"
echo "new message" > "$S/mail/cur/msg-new"
dd if=/dev/urandom of="$S/data/random.bin" bs=4096 seek=100 count=1 conv=notrunc status=none
rm "$S/mail/cur/msg9"
if command -v setfattr > /dev/null; then
	setfattr -n user.grows -v "two" "$S/mail/cur/msg3"
	setfacl -m u:nobody:rw "$S/etc/shadow-like"
fi
backup "$S" --cache "$T/cache" > "$T/b2.out" 2> "$T/b2.err" ||
	{ cat "$T/b2.out" "$T/b2.err"; fail "second backup"; }
SNAP2=$(awk '/^snapshot/ {print $2}' "$T/b2.out")
grep -Eq "files: [0-9]+ \(3[0-9][0-9] unchanged" "$T/b2.out" ||
	{ cat "$T/b2.out"; fail "unchanged files were read again"; }
cachefiles() {	# the paths in the cache's file table, one per line
	python3 -c 'import sqlite3, sys
for (p,) in sqlite3.connect(sys.argv[1]).execute("SELECT path FROM files"):
    print(bytes(p).decode())' "$T"/cache/*.db
}
cachefiles > "$T/cachefiles"
grep -q "/mail/cur/msg9$" "$T/cachefiles" && fail "the cache still records a removed file"
grep -q "/mail/cur/msg-new$" "$T/cachefiles" || fail "the cache does not record a new file"
[ "$(wc -l < "$T/cachefiles")" = "$(find "$S" -type f | wc -l)" ] ||
	fail "the cache records $(wc -l < "$T/cachefiles") files, the tree holds $(find "$S" -type f | wc -l)"
sent=$(sed -n 's/.*sent: \([0-9]*\) packs.*/\1/p' "$T/b2.out")
[ "$sent" -le 2 ] || { cat "$T/b2.out"; fail "incremental sent $sent packs"; }
ok
restore "$SNAP2" "$T/r2"
python3 "$TREECMP" "$S" "$T/r2$S" > "$T/cmp2" ||
	{ cat "$T/cmp2"; fail "restore 2 differs"; }
# The first snapshot is still the first state.
grep -q "^changed$" "$T/r1$S/mail/cur/msg1" && fail "snapshot 1 changed"
ok

# --stdin, --exclude, --include.
echo "dump-$P" | backup --stdin db.sql "$S/etc" --exclude '*.bin' --no-cache \
	> "$T/b3.out" 2>&1 || { cat "$T/b3.out"; fail "--stdin backup"; }
SNAP3=$(awk '/^snapshot/ {print $2}' "$T/b3.out")
restore "$SNAP3" "$T/r3"
[ "$(cat "$T/r3/db.sql")" = "dump-$P" ] || fail "--stdin contents"
[ -f "$T/r3$S/etc/shadow-like" ] || fail "path next to --stdin"
"$B" restore "$SNAP2" --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file "$T/pass" --to "$T/r4" --include '*/etc/*' > /dev/null 2>&1 ||
	fail "restore --include"
[ -f "$T/r4$S/etc/shadow-like" ] && [ ! -e "$T/r4$S/mail" ] || fail "--include"
ok

# --compression: any zstd level restores the same tree; levels out of
# range are refused before anything is sent.
backup "$S" --compression 19 --no-cache > "$T/b5.out" 2>&1 ||
	{ cat "$T/b5.out"; fail "--compression 19 backup"; }
restore "$(awk '/^snapshot/ {print $2}' "$T/b5.out")" "$T/rz"
python3 "$TREECMP" "$S" "$T/rz$S" > "$T/cmp5" ||
	{ cat "$T/cmp5"; fail "the --compression 19 restore differs"; }
expect_fail "--compression 0" "zstd level from 1" \
	backup "$S" --compression 0 --no-cache
expect_fail "--compression 20" "zstd level from 1" \
	backup "$S" --compression 20 --no-cache

# ---- checks -----------------------------------------------------------------------
"$B" vault check "$T/vault" > "$T/check.out" 2>&1 ||
	{ cat "$T/check.out"; fail "vault check"; }
"$B" check --read-data --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file "$T/pass" > "$T/rd.out" 2>&1 ||
	{ cat "$T/rd.out"; fail "check --read-data"; }
expect_fail "restore with a wrong passphrase" "passphrase" \
	"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin.key" \
	--passphrase-file "$T/agent.pub" --to "$T/r5"
ok
# vault check on a damaged copy: a referenced pack gone, and a pack the
# host's received list does not name, are each reported.
cp -a "$T/vault" "$T/vault-damaged"
GONE=$(find "$T/vault-damaged/packs" -type f -printf '%f\n' | sort | head -n 1)
find "$T/vault-damaged/packs" -type f -name "$GONE" -delete
UNLISTED=$(find "$T/vault-damaged/packs" -type f -printf '%f\n' | sort | tail -n 1)
for f in "$T/vault-damaged"/received/*; do
	grep -v "^$UNLISTED " "$f" > "$f.new"; mv "$f.new" "$f"
done
rc=0
"$B" vault check "$T/vault-damaged" > "$T/check2.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "vault check passed a vault with a pack gone"
grepq "pack $GONE is missing" <"$T/check2.out" || { cat "$T/check2.out"; fail "missing pack not reported"; }
grepq "pack $UNLISTED was not received from that host" <"$T/check2.out" ||
	{ cat "$T/check2.out"; fail "unlisted pack not reported"; }
rm -rf "$T/vault-damaged"
ok

# ---- a new passphrase: a new export of the same key; the old file stays
echo "another passphrase entirely" > "$T/pass2"
chmod 600 "$T/pass2"
expect_fail "passwd with a wrong passphrase" "wrong passphrase" \
	"$B" vault passwd --admin-key "$T/admin.key" --out "$T/admin2.key" \
	--passphrase-file "$T/pass2" --new-passphrase-file "$T/pass2"
[ -e "$T/admin2.key" ] && fail "passwd wrote a file after a wrong passphrase"
"$B" vault passwd --admin-key "$T/admin.key" --out "$T/admin2.key" \
	--passphrase-file "$T/pass" --new-passphrase-file "$T/pass2" > "$T/passwd.out" 2>&1 ||
	{ cat "$T/passwd.out"; fail "vault passwd"; }
grep -q "destroy them" "$T/passwd.out" || fail "passwd does not say the old copies still open"
[ "$(stat -c %a "$T/admin2.key")" = 600 ] || fail "new export not 0600"
grep -q "^kdf argon2id v=19 m=262144 t=3 p=4 " "$T/admin2.key" || { cat "$T/admin2.key"; fail "new export's KDF line"; }
cmp -s "$T/admin.key" "$T/admin2.key" && fail "passwd copied the old export"
[ "$(sed -n 2p "$T/admin.key")" = "$(sed -n 2p "$T/admin2.key")" ] || fail "passwd changed the key ID"
"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin2.key" \
	--passphrase-file "$T/pass2" --to "$T/r6" > "$T/r6.out" 2>&1 ||
	{ cat "$T/r6.out"; fail "restore with the new export"; }
python3 "$TREECMP" "$T/r1$S" "$T/r6$S" > "$T/cmp6" || { cat "$T/cmp6"; fail "restore with the new export differs from the first"; }
expect_fail "new export, old passphrase" "wrong passphrase" \
	"$B" restore "$SNAP1" --vault "$T/vault" --key "$T/admin2.key" \
	--passphrase-file "$T/pass" --to "$T/r7"
expect_fail "passwd over an existing file" "exists" \
	"$B" vault passwd --admin-key "$T/admin.key" --out "$T/admin2.key" \
	--passphrase-file "$T/pass" --new-passphrase-file "$T/pass2"
ok

# ---- what the agent's key can do ----------------------------------------------------------
state() {	# every file in the vault but tmp/ and log/ (which grow), with hashes
	(cd "$T/vault" && find . -path ./tmp -prune -o -path ./log -prune -o \
		-type f -print0 | sort -z | xargs -0 sha256sum)
}
state > "$T/state.before"

# No shell, no command, no pty, no sftp, no forwarding: only receive runs.
out=$(echo | "${SSH[@]}" "$VUSER@127.0.0.1" id 2>&1 || true)
echo "$out" | grepq "uid=" && fail "the agent key ran a command: $out"
out=$("${SSH[@]}" -tt "$VUSER@127.0.0.1" 2>&1 < /dev/null | tr -d "\\0" || true)
echo "$out" | grepq "uid=\|\\$ " && fail "the agent key got a shell: $out"
if echo "ls" | sftp -b - -i "$T/agent" -P "$PORT" -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null "$VUSER@127.0.0.1" > "$T/sftp.out" 2>&1; then
	cat "$T/sftp.out"
	fail "sftp worked with the agent key"
fi
if scp -i "$T/agent" -P "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	"$VUSER@127.0.0.1:$T/vault/vault.conf" "$T/stolen" > /dev/null 2>&1 &&
	[ -s "$T/stolen" ]; then
	fail "scp read from the vault"
fi
if timeout 10 "${SSH[@]}" -N -L "$(free_port):127.0.0.1:$PORT" "$VUSER@127.0.0.1" \
	-o ExitOnForwardFailure=yes > /dev/null 2>&1; then
	fail "port forwarding with the agent key"
fi
ok

# Hostile protocol messages: each refused, each in the vault's audit log.
PACK=$(find "$T/vault/packs" -type f | head -n 1)
NAME=$(basename "$PACK")
proto() { python3 "$PROTO" "$@" -- "${SSH[@]}" "$VUSER@127.0.0.1"; }
proto badname web1 > "$T/p1"
grep -q "^ERR pack refused: its bytes do not hash to its name" "$T/p1" ||
	{ cat "$T/p1"; fail "a pack under a false name"; }
proto overwrite web1 "$PACK" "$NAME" > "$T/p2"
grep -q "^ERR pack refused: its bytes do not hash" "$T/p2" ||
	{ cat "$T/p2"; fail "overwriting a pack"; }
proto truncate web1 "$PACK" "$NAME" > "$T/p3"
proto list web1 > "$T/p4"
grep -q "^ERR unknown message" "$T/p4" || { cat "$T/p4"; fail "a list request"; }
proto wronghost web1 > "$T/p5"
grep -q "^ERR this key is enrolled for another host" "$T/p5" ||
	{ cat "$T/p5"; fail "another host's name"; }
proto replay web1 "$PACK" "$NAME" > "$T/p6"
grep -q "^OK 01" "$T/p6" || { cat "$T/p6"; fail "replaying a pack"; }
state > "$T/state.after"
# Only received/web1 may have grown (the replay); nothing else changed.
diff <(grep -v received/web1 "$T/state.before") <(grep -v received/web1 "$T/state.after") ||
	fail "the vault changed under hostile messages"
[ -z "$(ls -A "$T/vault/tmp")" ] || fail "temporary files left in the vault"
ok
"$B" log show --dir "$T/vault/log" --action 'vault.*' > "$T/events"
grep -c "deny" "$T/events" | { read -r n; [ "$n" -ge 5 ] || { cat "$T/events"; fail "refusals not logged ($n)"; }; }
grep -q "vault.snapshot.*allow" "$T/events" || { cat "$T/events"; fail "acceptance not logged"; }
"$B" log verify --dir "$T/vault/log" > /dev/null || fail "the vault's audit log does not verify"
ok

# A snapshot dated in the future gets the vault's receive time.
if command -v faketime > /dev/null; then
	# faketime is an LD_PRELOAD library: tell an ASan build it may come first.
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	faketime '2100-01-01 00:00:00' "$B" backup "$S/etc" --config "$T/agent.conf" \
		--vault "$VUSER@127.0.0.1:$T/vault" --ssh-identity "$T/agent" \
		--ssh-option "Port=$PORT" --ssh-option StrictHostKeyChecking=no \
		--ssh-option UserKnownHostsFile=/dev/null --no-cache > "$T/future.out" 2>&1 ||
		{ cat "$T/future.out"; fail "backup with a clock in 2100"; }
	FUT=$(awk '/^snapshot/ {print $2}' "$T/future.out")
	"$B" snapshots --vault "$T/vault" | grep "^$FUT" > "$T/futline"
	grep -q "2100-01-01" "$T/futline" || { cat "$T/futline"; fail "client time not shown"; }
	grep -q "$(date -u +%Y-%m-%d)" "$T/futline" || { cat "$T/futline"; fail "receive time not the vault's"; }
	ok
else
	echo "# skip: faketime not installed" >&2
fi

# The quota binds.
ssh-keygen -q -t ed25519 -N '' -f "$T/agent2" > /dev/null
"$B" vault enroll small --dir "$T/vault" --ssh-key "$T/agent2.pub" --quota 1M \
	--out "$T/small.conf" > "$T/authline2" 2> /dev/null
expect_fail "a backup over the host's quota" "quota" \
	"$B" backup "$S/data/random.bin" --config "$T/small.conf" --vault "$T/vault" --no-cache --quiet
ok

done_checks
