#!/usr/bin/env bash
# The gateway end to end, with Debian's real sshd and ssh: `bulwark
# gateway setup`, bulwarkd, the gateway sshd with pam_bulwark, a target
# sshd configured by `bulwark target setup-script`, and bulwark-shell as
# the users' login shell. Each security property of the gateway issue is
# a check here, and each refusal must leave an audit event.
source "$SRC_DIR/tests/integration/lib.sh"
: "${BUILD_DIR:?}"

GW_PREFIX=bwt$$
GW_DIR=$T/gw
chmod 0711 "$T"	# the service user must reach its state under it
GW_BUILD=$BUILD_DIR
GW_SK_PROVIDER=$BUILD_DIR/tests/sk-soft/bwt_sk_soft.so
source "$SRC_DIR/scripts/gateway-env.sh"
trap 'gw_teardown; cleanup' EXIT

# On failure, the daemons' own words first.
fail() {
	gw_dump_logs
	echo "FAIL: $*" >&2
	exit 1
}

B=$GW_BIN/bulwark
ALICE=${GW_PREFIX}a
BOB=${GW_PREFIX}b
LOGIN=$GW_LOGIN

# events ACTION DECISION: how many audit events of that kind there are.
events() {
	"$B" log show --dir "$GW_STATE/log" --json 2>/dev/null |
		grep -c "\"action\":\"$1\".*\"decision\":\"$2\"" || true
}

# expect_event ACTION DECISION BEFORE: one more such event than BEFORE.
expect_event() {
	local n
	n=$(events "$1" "$2")
	[ "$n" -gt "$3" ] || fail "no new audit event $1/$2 (still $n)"
	ok
}

# ---- setup, twice: the second run must change nothing ----------------
gw_install
GWPORT=$(gw_free_port)
gw_setup "$GWPORT" >"$T/setup1" 2>&1 || { cat "$T/setup1"; fail "gateway setup"; }
cp "$GW_ETC/ssh_host_ed25519_key" "$T/hostkey.before"
gw_setup "$GWPORT" >"$T/setup2" 2>&1 || { cat "$T/setup2"; fail "gateway setup, second run"; }
cmp -s "$GW_ETC/ssh_host_ed25519_key" "$T/hostkey.before" ||
	fail "a second setup replaced the gateway's host key"
grep -q "kept" "$T/setup2" || fail "second setup does not say what it kept"
# bulwark-shell's ssh: Debian's, unchanged, root's and execute-only.
[ "$(stat -c '%a %U' "$GW_BIN/bulwark-ssh")" = "111 root" ] ||
	fail "bulwark-ssh is not root's with mode 0111: $(stat -c '%a %U' "$GW_BIN/bulwark-ssh")"
cmp -s "$GW_BIN/bulwark-ssh" /usr/bin/ssh || fail "bulwark-ssh differs from /usr/bin/ssh"
grepq "kept $GW_BIN/bulwark-ssh" "$T/setup2" || fail "second setup rewrote bulwark-ssh"
# The apt hook is one apt reads, and runs the refresh.
apt-config -c "$GW_ETC/apt/80bulwark-ssh" dump | grep -F 'DPkg::Post-Invoke::' |
	grepq "$GW_BIN/bulwark gateway ssh-copy --bindir $GW_BIN" ||
	fail "apt does not read the ssh-copy hook: $(cat "$GW_ETC/apt/80bulwark-ssh")"
# An upgraded /usr/bin/ssh (seen as a changed mtime) makes it stale, and
# ssh-copy (what the hook runs) makes it fresh again.
touch -d '2001-01-01' "$GW_BIN/bulwark-ssh"
"$B" gateway ssh-copy --bindir "$GW_BIN" >"$T/sshcopy" || fail "gateway ssh-copy"
grepq "wrote $GW_BIN/bulwark-ssh" "$T/sshcopy" || fail "ssh-copy kept a stale copy: $(cat "$T/sshcopy")"
[ "$(stat -c %Y "$GW_BIN/bulwark-ssh")" = "$(stat -c %Y /usr/bin/ssh)" ] ||
	fail "the copy does not keep /usr/bin/ssh's mtime"
[ "$(stat -c %a "$GW_STATE")" = 700 ] || fail "state directory is not 0700"
[ "$(stat -c %U "$GW_STATE/ca")" = "$GW_SVC" ] || fail "CA key not owned by $GW_SVC"
grep -q "^DisableForwarding yes" "$GW_ETC/sshd_config" || fail "forwarding not disabled"
grep -q "^AuthorizedKeysCommandUser nobody" "$GW_ETC/sshd_config" || fail "keys command runs with privileges"
getent group "$GW_SVC-fido2" >/dev/null || fail "setup made no FIDO2 group"
tail -n 2 "$GW_ETC/sshd_config" | tr -d '\t' | paste -sd' ' |
	grepq -x "Match Group $GW_SVC-fido2 AuthenticationMethods publickey" ||
	fail "sshd_config does not end with the FIDO2 group's Match block"
# The systemd units setup wrote are valid ones (systemd need not run).
SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "$GW_ETC"/systemd/*.service \
	"$GW_ETC"/systemd/*.socket >"$T/units" 2>&1 ||
	{ cat "$T/units"; fail "systemd-analyze rejects the generated units"; }
# sshd gets its listening socket from the socket unit, with TCP_NODELAY.
sock=$GW_ETC/systemd/$GW_PAM.socket
grepq -x "ListenStream=127.0.0.1:$GWPORT" "$sock" || fail "socket unit: no ListenStream=127.0.0.1:$GWPORT"
grepq -x "NoDelay=true" "$sock" || fail "socket unit: no NoDelay=true"
grepq -x "Requires=bulwarkd.service $GW_PAM.socket" "$GW_ETC/systemd/$GW_PAM.service" ||
	fail "the sshd service does not require its socket"
grepq "^ExecReload" "$GW_ETC/systemd/$GW_PAM.service" &&
	fail "the sshd service reloads with SIGHUP, which loses the socket"
# Without systemd, setup says how to start both, the sshd through
# `bulwark gateway sshd` (what gw_start runs below).
if [ ! -d /run/systemd/system ]; then
	"$B" gateway setup --service-user "$GW_SVC" --state "$GW_STATE" --etc "$GW_ETC" \
		--run "$GW_RUN" --port "$GWPORT" --listen 127.0.0.1 --source-address 127.0.0.1 \
		--pam-service "$GW_PAM" --systemd-dir "$GW_ETC/systemd" --bindir "$GW_BIN" \
		--apt-dir "$GW_ETC/apt" \
		>"$T/setup3" 2>&1 || { cat "$T/setup3"; fail "gateway setup, third run"; }
	grepq -x "  $GW_BIN/bulwark gateway sshd --etc $GW_ETC --pam-service $GW_PAM &" "$T/setup3" ||
		fail "setup does not say how to start the gateway sshd: $(grep -A3 'not running' "$T/setup3")"
fi
ok

gw_start

# ---- the gateway sshd's sockets have TCP_NODELAY ---------------------
# Read from sshd itself: pidfd_getfd(2) copies the descriptors of the
# listener and of the sshd that accepted our connection. Without it each
# new connection waits 40 ms for a delayed ACK (cmd_gateway_sshd.c).
python3 "$SRC_DIR/tests/integration/nodelay.py" --accepted "$GW_SSHD_PID" "$GW_PORT" ||
	fail "gateway sshd sockets without TCP_NODELAY"
# A second one on the same port says why it cannot start; it is no
# fallback sshd on a port of its own.
"$B" gateway sshd --etc "$GW_ETC" --pam-service "$GW_PAM" >"$T/second" 2>&1 &&
	fail "a second gateway sshd started on a taken port"
grepq "already running" "$T/second" || fail "a taken port is not explained: $(cat "$T/second")"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$B" gateway sshd --etc "$GW_ETC" \
	--pam-service "$GW_PAM" >"$T/second" 2>&1 && fail "gateway sshd ran as nobody"
grepq "runs as root" "$T/second" || fail "gateway sshd as nobody: $(cat "$T/second")"
"$B" gateway sshd --etc "$T/nowhere" --pam-service "$GW_PAM" >"$T/second" 2>&1 &&
	fail "gateway sshd without a setup"
grepq "gateway setup" "$T/second" || fail "gateway sshd without setup: $(cat "$T/second")"
ok
TPORT=$(gw_free_port)
gw_target web1 "$TPORT" web
gw_user "$ALICE"
gw_user "$BOB" ed25519-sk

# ---- exec, exit status, stdin, the certificate the target saw --------
out=$(gw_ssh "$ALICE" 127.0.0.1 "$LOGIN@web1" 'echo hello from $(hostname); exit 7') && rc=0 || rc=$?
[ "$rc" = 7 ] || { cat "$GW_DIR/sshd.log" "$GW_DIR/bulwarkd.log" >&2; fail "exec: exit status $rc, wanted 7 (output: $out)"; }
grep -q "hello from" <<<"$out" || fail "exec: output lost: $out"
# The end is reported after ssh returned (a detached child): it arrives,
# with the status and the bytes.
gw_wait_ended || fail "exec: the session was not ended"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.end"' | tail -n 1 |
	grep '"exit":7' | grepq '"bytes_out":[1-9]' || fail "exec: no session.end with status 7 and its bytes"
ok

# Everything after this first login rides one authenticated connection,
# as automation does (each code is good once; see gateway-env.sh).
CM=$T/cm
gw_ssh "$ALICE" -o ControlMaster=yes -o ControlPath="$CM" -o ControlPersist=600 -fN 127.0.0.1 ||
	fail "control master login"
cm() { ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" -p "$GWPORT" "$@"; }

# A session directory whose shell was killed (SIGKILL leaves it) is swept
# by the next session of the same uid, after its end; another uid's is not.
dead=$(sh -c 'echo $$')
stale=/dev/shm/bulwark-$dead-abcdef
other=/dev/shm/bulwark-$dead-rootdd
mkdir -m 0700 "$stale" "$other"
echo "not a key" >"$stale/id"
chown -R "$ALICE" "$stale"
cm 127.0.0.1 "$LOGIN@web1" true || fail "session for the sweep"
for i in $(seq 100); do [ -e "$stale" ] || break; sleep 0.05; done
[ ! -e "$stale" ] || fail "a stale session directory was not swept"
[ -d "$other" ] || fail "another uid's directory was swept"
rmdir "$other"
ok

got=$(head -c 100000 /dev/urandom | base64 -w0 | cm 127.0.0.1 "$LOGIN@web1" 'wc -c')
[ "$(tr -d ' ' <<<"$got")" = 133336 ] || fail "stdin did not pass through whole: $got"
ok

# The certificate as the target received it (ExposeAuthInfo there).
cm 127.0.0.1 "$LOGIN@web1" 'cat "$SSH_USER_AUTH"' | sed 's/^publickey //' >"$T/cert.pub"
ssh-keygen -L -f "$T/cert.pub" >"$T/cert.txt" || fail "target saw no certificate"
grep -q "Type: ssh-ed25519-cert-v01@openssh.com user certificate" "$T/cert.txt" || fail "not a user certificate"
grep -Eq "Key ID: \"$ALICE/[0-9]+\"" "$T/cert.txt" || fail "key id is not USER/SESSION"
serial=$(sed -n 's/.*Serial: //p' "$T/cert.txt")
grep -q "Key ID: \"$ALICE/$serial\"" "$T/cert.txt" || fail "serial is not the session id"
grep -A1 "Principals:" "$T/cert.txt" | grepq -x "[[:space:]]*$LOGIN" || fail "principal is not the login"
grep -A1 "Critical Options:" "$T/cert.txt" | grepq "source-address 127.0.0.1" || fail "no source-address"
grep -A1 "Extensions:" "$T/cert.txt" | grepq "(none)" || fail "exec certificate permits something"
from=$(sed -n 's/.*Valid: from \([^ ]*\) to \(.*\)$/\1/p' "$T/cert.txt")
to=$(sed -n 's/.*Valid: from \([^ ]*\) to \(.*\)$/\2/p' "$T/cert.txt")
[ $(( $(date -d "$to" +%s) - $(date -d "$from" +%s) )) -le 60 ] || fail "certificate valid longer than 60 s"
ok

# ---- an interactive session is recorded -------------------------------
printf 'echo REC$((6*7))MARK\nexit 0\n' | cm -tt 127.0.0.1 "$LOGIN@web1" >"$T/tty.out" 2>&1 || true
grep -q "REC42MARK" "$T/tty.out" || fail "interactive session output lost"
gw_wait_ended || fail "the interactive session was not ended"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session show "$sid" | grepq interactive || fail "session $sid is not the interactive one"
"$B" session play "$sid" --raw >"$T/s.cast"
grep -q "REC42MARK" "$T/s.cast" || { cat "$T/s.cast" "$T/tty.out"; "$B" session list; fail "recording lacks the session's output"; }
# asciinema opens /dev/tty even for cat: give it one with script(1).
script -qec "asciinema cat $T/s.cast" /dev/null </dev/null >"$T/cat.out" 2>&1 || true
grep -q "REC42MARK" "$T/cat.out" || { cat "$T/cat.out"; fail "asciinema cannot read the recording"; }
hash=$("$B" session show "$sid" | grep -Eo '[0-9a-f]{64}' | head -1)
[ -n "$hash" ] || fail "no recording hash"
"$B" log show --dir "$GW_STATE/log" | grep "session.end" | grepq "$hash" ||
	fail "the recording's hash is not in the audit log"
ok

# ---- sessions without a terminal are recorded too, input and output ----
# A shell reads commands from stdin just as well without a pty (ssh -T,
# or a command such as bash -s): nothing echoes them, so the recording
# keeps what the user sent ("i" events) beside what came back ("o").
last_cast() {	# last_cast FILE: the newest session's recording into FILE
	gw_wait_ended || return 1
	sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
	"$B" session play "$sid" --raw >"$1"
}
cast_has() {	# cast_has FILE CODE TEXT: an event CODE whose data holds TEXT
	python3 - "$@" <<'PYEOF'
import json, sys
path, code, text = sys.argv[1:4]
lines = open(path, encoding='utf-8').read().splitlines()
assert json.loads(lines[0])['version'] == 2
data = ''.join(e[2] for e in map(json.loads, lines[1:]) if e[1] == code)
sys.exit(0 if text in data else 1)
PYEOF
}
printf 'echo NOPTY$((6*7))X\nexit 0\n' | cm -T 127.0.0.1 "$LOGIN@web1" >"$T/notty.out" 2>&1 ||
	fail "a shell without a terminal: $(cat "$T/notty.out")"
grep -q NOPTY42X "$T/notty.out" || fail "a shell without a terminal: output lost"
last_cast "$T/notty.cast" || fail "no recording of a shell without a terminal"
"$B" session show "$sid" | grepq interactive || fail "session $sid is not the shell without a terminal"
cast_has "$T/notty.cast" i 'echo NOPTY$((6*7))X' || { cat "$T/notty.cast"; fail "what was typed without a terminal is not recorded"; }
cast_has "$T/notty.cast" o NOPTY42X || { cat "$T/notty.cast"; fail "the output without a terminal is not recorded"; }
"$B" session play "$sid" --cat | grepq -F 'echo NOPTY$((6*7))X' || fail "session play --cat leaves out the input"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.start"' | tail -1 | grepq '"recorded":true' ||
	fail "session.start does not say the session is recorded"
printf 'echo EXE$((5*5))C\n' | cm 127.0.0.1 "$LOGIN@web1" 'bash -s' | grepq EXE25C || fail "exec bash -s"
last_cast "$T/exec.cast" || fail "no recording of an exec session"
cast_has "$T/exec.cast" i 'echo EXE$((5*5))C' || fail "an exec session's input is not recorded"
cast_has "$T/exec.cast" o EXE25C || fail "an exec session's output is not recorded"
ok

# ---- the menu ----------------------------------------------------------
cm 127.0.0.1 </dev/null | grepq "$LOGIN@web1" || fail "menu does not list the target"
ok

# ---- scp, sftp, rsync through ssh-config aliases ------------------------
"$B" ssh-config "$ALICE" --gateway 127.0.0.1 --port "$GWPORT" >"$T/client_config"
grep -q "SetEnv BULWARK_TARGET=$LOGIN@web1" "$T/client_config" || fail "ssh-config lacks the target"
cat >>"$T/client_config" <<EOF
Host *
	UserKnownHostsFile $GW_DIR/known_hosts
	IdentityFile $GW_DIR/$ALICE
	IdentitiesOnly yes
	IdentityAgent none
EOF
grep -q "ControlPath ~/.ssh/bulwark-%r@%n" "$T/client_config" || fail "ssh-config: no per-name ControlPath"
# The first connection to the name carries the target and the code; the
# tools below share it (the target travels with the master's SetEnv).
CC=(-F "$T/client_config" -o "ControlPath=$T/cm-%n")
SSH_ASKPASS="$GW_DIR/$ALICE.askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	ssh "${CC[@]}" -fN "$LOGIN.web1" || fail "control master for $LOGIN.web1"
head -c 3000000 /dev/urandom >"$T/blob"
scp -q "${CC[@]}" "$T/blob" "$LOGIN.web1:/tmp/$GW_PREFIX.scp" || fail "scp (sftp mode) upload"
scp -q -O "${CC[@]}" "$LOGIN.web1:/tmp/$GW_PREFIX.scp" "$T/blob.back" || fail "scp -O download"
cmp -s "$T/blob" "$T/blob.back" || fail "scp round trip changed the file"
printf 'get /tmp/%s.scp %s\n' "$GW_PREFIX" "$T/blob.sftp" | sftp -q -b - "${CC[@]}" "$LOGIN.web1" >/dev/null ||
	fail "sftp"
cmp -s "$T/blob" "$T/blob.sftp" || fail "sftp changed the file"
rsync -a -e "ssh ${CC[*]}" "$T/blob" "$LOGIN.web1:/tmp/$GW_PREFIX.rsync" || fail "rsync"
# An scp command is a command line for the target's shell: what the user
# appends to it runs, so it is recorded like any exec session.
ssh "${CC[@]}" "$LOGIN.web1" "scp -t /nonexistent-$GW_PREFIX </dev/null >/dev/null 2>&1; echo SCP\$((3*3))TAIL" |
	grepq SCP9TAIL || fail "scp command with a tail"
last_cast "$T/scp.cast" || fail "no recording of an scp session"
"$B" session show "$sid" | grepq scp || fail "session $sid is not the scp one"
cast_has "$T/scp.cast" o SCP9TAIL || { cat "$T/scp.cast"; fail "an scp session with a tail is not recorded"; }
ssh "${CC[@]}" "$LOGIN.web1" "cmp /tmp/$GW_PREFIX.scp /tmp/$GW_PREFIX.rsync && rm -f /tmp/$GW_PREFIX.*" ||
	fail "rsync changed the file"
# Ansible, through the same alias and shared connection: ad-hoc command,
# a file copied with SFTP, the module run by python on the target.
if ! ANSIBLE_SSH_ARGS="${CC[*]} -o ControlMaster=auto -o ControlPersist=60s" \
	ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_LOCAL_TEMP="$T/ansible-local" \
	ANSIBLE_REMOTE_TEMP="/tmp/$GW_PREFIX-ansible" ANSIBLE_NOCOLOR=1 \
	ansible all -i "$LOGIN.web1," -m copy -a "src=$T/blob dest=/tmp/$GW_PREFIX.ansible" </dev/null \
	>"$T/ansible.out" 2>&1; then
	cat "$T/ansible.out" >&2
	fail "ansible copy through the gateway"
fi
ssh "${CC[@]}" "$LOGIN.web1" "cmp /tmp/$GW_PREFIX.ansible - && rm -rf /tmp/$GW_PREFIX.ansible /tmp/$GW_PREFIX-ansible" <"$T/blob" ||
	fail "ansible copied something else"
"$B" session list | grepq "sftp" || fail "sftp session not logged"
# sftp is the one kind not recorded: a fixed program, no command line.
sftp_sid=$("$B" session list | awk '$4 == "sftp" {print $1; exit}')
[ -n "$sftp_sid" ] || fail "no sftp session in the list"
"$B" session show "$sftp_sid" | grep '^recording' | grepq -v sha256 || fail "an sftp session has a recording"
"$B" session list | grepq "rsync" || fail "rsync session not logged"
ok

# ---- forwarding of every kind is refused --------------------------------
expect_fail "ssh -W (what -J, -L and -D use)" "prohibited|refused|failed" \
	cm -W "127.0.0.1:$TPORT" 127.0.0.1
expect_fail "ssh -J" "." \
	ssh -F /dev/null -o ProxyCommand="ssh -F /dev/null -o ControlPath=$CM -l $ALICE -p $GWPORT -W %h:%p 127.0.0.1" \
	-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p "$TPORT" "$LOGIN@127.0.0.1" true
expect_fail "ssh -R" "forwarding|failed" \
	cm -o ExitOnForwardFailure=yes -R "0:127.0.0.1:$TPORT" 127.0.0.1 "$LOGIN@web1" true
eval "$(ssh-agent -s)" >/dev/null
ssh-add -q "$GW_DIR/$ALICE" 2>/dev/null
agent=$(gw_ssh "$ALICE" -A -o ControlPath=none 127.0.0.1 "$LOGIN@web1" 'echo "agent=${SSH_AUTH_SOCK:-none}"' 2>&1 || true)
ssh-agent -k >/dev/null
grep -q "agent=none" <<<"$agent" || fail "agent forwarding reached the target: $agent"
ok

# ---- refusals, each with an audit event ---------------------------------
n=$(events auth.publickey deny)
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
expect_fail "unregistered key" "Permission denied" \
	ssh -F /dev/null -p "$GWPORT" -i "$T/stranger" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o UserKnownHostsFile="$GW_DIR/known_hosts" -l "$ALICE" 127.0.0.1 true
expect_event auth.publickey deny "$n"
# A flood of unknown keys (5 per connection, 20 connections) is counted,
# not written one entry each (gateway/coalesce.h): checked at the end,
# once the window is over.
for i in 1 2 3 4 5; do ssh-keygen -q -t ed25519 -N '' -f "$T/flood$i"; done
flood_one() {
	ssh -F /dev/null -p "$GWPORT" -o IdentitiesOnly=yes -o BatchMode=yes \
		-i "$T/flood1" -i "$T/flood2" -i "$T/flood3" -i "$T/flood4" -i "$T/flood5" \
		-o UserKnownHostsFile="$GW_DIR/known_hosts" -l "$ALICE" 127.0.0.1 true 2>/dev/null && return 1
	return 0
}
for i in $(seq 5); do
	pids=()
	for j in 1 2 3 4; do flood_one & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || fail "a key of the flood was accepted"; done
done
FLOOD_END=$(date +%s)
# Another user's key offered for $ALICE is never folded into a count: it
# says someone holds that key.
read -r btype bkey _ <"$GW_DIR/$BOB.pub"
# (The keys command answers sshd with no line at all for a refused key.)
runuser -u nobody -- "$GW_BIN/bulwark-keys" --socket "$GW_SOCK" "$ALICE" "$btype" "$bkey" >"$T/keys.out" 2>/dev/null || true
[ ! -s "$T/keys.out" ] || fail "bulwark-keys accepted $BOB's key for $ALICE: $(cat "$T/keys.out")"
"$B" log show --dir "$GW_STATE/log" --json | grep '"a key registered to another user"' |
	grep "\"actor\":\"$ALICE\"" | grepq "\"key_owner\":\"$BOB\"" ||
	fail "another user's key offered for $ALICE left no full audit entry"
ok

n=$(events auth.totp deny)
printf '#!/bin/sh\necho 000000\n' >"$T/wrong.askpass"; chmod 0700 "$T/wrong.askpass"
expect_fail "wrong code" "Permission denied" env SSH_ASKPASS="$T/wrong.askpass" SSH_ASKPASS_REQUIRE=force \
	DISPLAY=none ssh -F /dev/null -p "$GWPORT" -i "$GW_DIR/$ALICE" -o IdentitiesOnly=yes \
	-o NumberOfPasswordPrompts=1 -o UserKnownHostsFile="$GW_DIR/known_hosts" -l "$ALICE" 127.0.0.1 true
expect_event auth.totp deny "$n"

# Replay: the code of the step the askpass used last.
n=$(events auth.totp deny)
step=$(cat "$GW_DIR/$ALICE.step")
printf '#!/bin/sh\noathtool --totp -b --now=@%s %s\n' "$((step * 30))" "$(cat "$GW_DIR/$ALICE.totp")" >"$T/replay.askpass"
chmod 0700 "$T/replay.askpass"
expect_fail "replayed code" "Permission denied" env SSH_ASKPASS="$T/replay.askpass" SSH_ASKPASS_REQUIRE=force \
	DISPLAY=none ssh -F /dev/null -p "$GWPORT" -i "$GW_DIR/$ALICE" -o IdentitiesOnly=yes \
	-o NumberOfPasswordPrompts=1 -o UserKnownHostsFile="$GW_DIR/known_hosts" -l "$ALICE" 127.0.0.1 true
expect_event auth.totp deny "$n"
"$B" log show --dir "$GW_STATE/log" | grepq "replayed code" || fail "replay not named in the audit log"
# Each refusal is also a warning line on bulwarkd's stderr (the journal's
# alert feed), one line each, with who and why.
grep "deny auth.totp: by=\"$ALICE\" from=\"127.0.0.1\"" "$GW_DIR/bulwarkd.log" | grepq 'reason="[^"]*replayed code' ||
	fail "no alert line for the replayed code: $(grep 'deny auth' "$GW_DIR/bulwarkd.log" | tail -3)"
ok

# A disabled user: refused at login, and her open connection's new
# sessions too (--keep-logins leaves the connection up, to show that
# bulwarkd itself refuses them; without it the connection is ended, which
# the end of this script checks).
"$B" user disable --keep-logins "$ALICE"
n=$(events session.authorize deny)
# Session directories there before (another user's with a recycled uid
# could be) are not this session's.
shm_dirs() { find /dev/shm /tmp -maxdepth 1 -name 'bulwark-*' -user "$ALICE" | sort; }
shm_dirs >"$T/dirs.before"
expect_fail "session of a disabled user" "disabled" cm 127.0.0.1 "$LOGIN@web1" true
expect_event session.authorize deny "$n"
# bulwark-shell starts ssh before asking bulwarkd (session.c): a refusal
# leaves no ssh running and no private directory behind.
sleep 0.2
[ -z "$(pgrep -u "$ALICE" -x ssh || true)" ] || fail "an ssh of a refused session is still running"
shm_dirs >"$T/dirs.after"
[ -z "$(comm -13 "$T/dirs.before" "$T/dirs.after")" ] ||
	fail "a refused session left its directory: $(comm -13 "$T/dirs.before" "$T/dirs.after")"
ok
n=$(events auth.publickey deny)
expect_fail "login of a disabled user" "Permission denied" gw_ssh "$ALICE" -o ControlPath=none \
	-o BatchMode=yes 127.0.0.1 true
expect_event auth.publickey deny "$n"
"$B" user enable "$ALICE"

# No grant: the same message as for a target that does not exist.
expect_fail "login without a grant" "may not log in as root on web1" cm 127.0.0.1 root@web1 true
expect_fail "unknown target" "may not log in as $LOGIN on nosuch" cm 127.0.0.1 "$LOGIN@nosuch" true
ok

# ---- FIDO2 with verify-required stands for both factors -----------------
# Every key of BOB is a FIDO2 key: user add put him in the FIDO2 group,
# whose Match block lets the key log in alone (no keyboard-interactive),
# and pam_bulwark's account step logs both factors.
FIDO_GROUP=$GW_SVC-fido2
members() { getent group "$FIDO_GROUP" | cut -d: -f4 | tr ',' '\n'; }
members | grepq -x "$BOB" || fail "FIDO2 user $BOB is not in $FIDO_GROUP ($(getent group "$FIDO_GROUP"))"
members | grepq -x "$ALICE" && fail "TOTP user $ALICE is in $FIDO_GROUP"
"$B" user show "$BOB" | grepq "^login *FIDO2 key alone (group $FIDO_GROUP)" || fail "user show: $BOB's login"
"$B" user show "$ALICE" | grepq "^login *key, then keyboard-interactive" || fail "user show: $ALICE's login"
nf=$(events auth.fido2 allow)
out=$(gw_ssh "$BOB" -o ControlPath=none -o KbdInteractiveAuthentication=no -o BatchMode=yes \
	127.0.0.1 "$LOGIN@web1" 'echo fido-ok') ||
	fail "FIDO2 login with the key alone: $(tail -5 "$GW_DIR/sshd.log")"
grep -q fido-ok <<<"$out" || fail "FIDO2 session output lost"
expect_event auth.fido2 allow "$nf"
grep "Accepted publickey for $BOB" "$GW_DIR/sshd.log" | grepq . ||
	fail "sshd did not accept $BOB's key as the whole login"
# The account step holds the line whatever sshd's configuration says: a
# plain key in the FIDO2 group is one factor, and refused.
usermod -aG "$FIDO_GROUP" "$ALICE"
n=$(events auth.account deny)
# (sshd ends the connection: at LogLevel=ERROR the client says nothing.)
if gw_ssh "$ALICE" -o ControlPath=none -o KbdInteractiveAuthentication=no -o BatchMode=yes \
	127.0.0.1 true 2>"$T/err"; then
	fail "a plain key alone logged in, its user put in the FIDO2 group"
fi
grepq "Access denied for user $ALICE by PAM account configuration" <"$GW_DIR/sshd.log" ||
	fail "sshd did not refuse the plain key alone at the account step"
expect_event auth.account deny "$n"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"auth.account"' | tail -n 1 |
	grepq 'not every key of the user is a FIDO2 key' || fail "the refusal does not say why"
gpasswd -d "$ALICE" "$FIDO_GROUP" >/dev/null
expect_fail "FIDO2 key without user verification" "Permission denied" env BWT_SK_SOFT_NO_UV=1 \
	bash -c "$(declare -f gw_ssh); GW_DIR=$GW_DIR GW_PORT=$GW_PORT GW_SK_PROVIDER=$GW_SK_PROVIDER gw_ssh $BOB -o ControlPath=none -o NumberOfPasswordPrompts=1 127.0.0.1 true"
ok
# A key that is not FIDO2 takes BOB out of the group: from then on his
# FIDO2 key goes through keyboard-interactive again (answered without a
# prompt), and the key alone no longer logs in.
ssh-keygen -q -t ed25519 -N '' -f "$T/bobplain"
"$B" user key add "$BOB" "$T/bobplain.pub" >"$T/keyadd" 2>&1 || { cat "$T/keyadd"; fail "user key add"; }
grep -q "removed '$BOB' from group $FIDO_GROUP" "$T/keyadd" || { cat "$T/keyadd"; fail "key add does not say $BOB left the group"; }
members | grepq -x "$BOB" && fail "$BOB still in $FIDO_GROUP with a plain key"
"$B" user show "$BOB" | grepq "^login *key, then keyboard-interactive" || fail "user show: $BOB's login after a plain key"
expect_fail "FIDO2 key alone, its user out of the group" "Permission denied" \
	gw_ssh "$BOB" -o ControlPath=none -o KbdInteractiveAuthentication=no -o BatchMode=yes 127.0.0.1 true
gw_ssh "$BOB" -o ControlPath=none 127.0.0.1 "$LOGIN@web1" true ||
	fail "FIDO2 login through keyboard-interactive: $(tail -5 "$GW_DIR/sshd.log")"
ok

# ---- user key list / key del: BOB's plain key deleted makes him
# FIDO2-only again, back in the group; the deleted key is no longer one
# that sshd takes; a fingerprint of ALICE's key named with BOB is refused.
plain_try() {	# 1 when the gateway's sshd takes BOB's plain key (as a first factor)
	ssh -v -F /dev/null -p "$GW_PORT" -i "$T/bobplain" -o IdentitiesOnly=yes \
		-o IdentityAgent=none -o UserKnownHostsFile="$GW_DIR/known_hosts" \
		-o StrictHostKeyChecking=yes -o BatchMode=yes \
		-o ControlPath=none -l "$BOB" 127.0.0.1 true >"$T/plain.out" 2>&1 &&
		fail "BOB's plain key logged in alone"
	grep -c 'Authenticated using "publickey" with partial success' "$T/plain.out" || true
}
"$B" user key list "$BOB" >"$T/keys" || fail "user key list"
[ "$(wc -l <"$T/keys")" -eq 2 ] || { cat "$T/keys"; fail "user key list: two keys expected"; }
pfp=$(ssh-keygen -l -f "$T/bobplain.pub" | awk '{print $2}')
afp=$(ssh-keygen -l -f "$GW_DIR/$ALICE.pub" | awk '{print $2}')
grepq "^$pfp  ssh-ed25519  added 20[0-9-]*T[0-9:]*Z" <"$T/keys" || { cat "$T/keys"; fail "key list: no line for the plain key"; }
grepq "  sk-ssh-ed25519@openssh.com  added " <"$T/keys" || { cat "$T/keys"; fail "key list: no FIDO2 key"; }
[ "$(plain_try)" -eq 1 ] || { cat "$T/plain.out"; fail "sshd never took BOB's plain key (the check after key del would prove nothing)"; }
expect_fail "key del: another user's key" "has no key SHA256:" "$B" user key del "$BOB" "$afp"
expect_fail "key del: not a fingerprint" "not a key fingerprint" "$B" user key del "$BOB" nonsense
nd=$("$B" log show --dir "$GW_STATE/log" --json | grep -c '"action":"user.key.del"' || true)
"$B" user key del "$BOB" "$pfp" >"$T/keydel" 2>&1 || { cat "$T/keydel"; fail "user key del"; }
grep -q "deleted key $pfp of '$BOB'" "$T/keydel" || { cat "$T/keydel"; fail "key del output"; }
grep -q "added '$BOB' to group $FIDO_GROUP" "$T/keydel" || { cat "$T/keydel"; fail "key del did not put $BOB back in the group"; }
members | grepq -x "$BOB" || fail "$BOB, FIDO2-only again, is not in $FIDO_GROUP"
[ "$("$B" log show --dir "$GW_STATE/log" --json | grep '"action":"user.key.del"' | grep -c "$pfp")" -gt "$nd" ] ||
	fail "no user.key.del audit event naming the key"
[ "$(plain_try)" -eq 0 ] || fail "sshd still takes BOB's deleted key"
grepq "Permission denied" <"$T/plain.out" || { cat "$T/plain.out"; fail "the deleted key: no refusal"; }
[ "$("$B" user key list "$BOB" | wc -l)" -eq 1 ] || fail "key list after key del"
"$B" user key list "$ALICE" | grepq "^$afp " || fail "ALICE's key went with a refused key del"
gw_ssh "$BOB" -o ControlPath=none -o KbdInteractiveAuthentication=no -o BatchMode=yes \
	127.0.0.1 "$LOGIN@web1" true || fail "FIDO2 key alone after the plain key was deleted"
ok

# ---- what the target accepts: only fresh CA certificates, from the
# gateway, for the certified login (signed here with the CA key itself)
tssh() {
	ssh -F /dev/null -p "$TPORT" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -l "$LOGIN" "$@" true
}
expect_fail "target: the user's own key" "Permission denied" tssh -i "$GW_DIR/$ALICE" 127.0.0.1
ssh-keygen -q -t ed25519 -N '' -f "$T/k"
sign() { rm -f "$T/k-cert.pub"; ssh-keygen -q -s "$GW_STATE/ca" -I test -z 1 "$@" "$T/k.pub"; }
sign -n "$LOGIN" -V -1m:+1m -O source-address=127.0.0.1
tssh -i "$T/k" 127.0.0.1 || fail "target refuses a valid certificate (the checks below would prove nothing)"
sign -n "$LOGIN" -V -10m:-5m -O source-address=127.0.0.1
expect_fail "target: expired certificate" "Permission denied" tssh -i "$T/k" 127.0.0.1
sign -n root -V -1m:+1m -O source-address=127.0.0.1
expect_fail "target: certificate for another principal" "Permission denied" tssh -i "$T/k" 127.0.0.1
sign -n "$LOGIN" -V -1m:+1m -O source-address=127.0.0.1
expect_fail "target: certificate from another address" "Permission denied" tssh -i "$T/k" -b 127.0.0.2 127.0.0.1
ok

# ---- the user's shell cannot read the gateway's secrets -----------------
for f in "$GW_STATE/ca" "$GW_STATE/state.db" "$GW_STATE/log/private" "$GW_STATE/rec"; do
	if runuser -u "$ALICE" -- cat "$f" >/dev/null 2>&1 || runuser -u "$ALICE" -- ls "$f" >/dev/null 2>&1; then
		fail "$ALICE can read $f"
	fi
done
if runuser -u "$ALICE" -- ls "$GW_STATE/log/blob" >/dev/null 2>&1; then
	fail "$ALICE can list the recordings"
fi
ok

# ---- bulwarkd survives hostile clients (as a gateway user) --------------
runuser -u "$ALICE" -- python3 - "$GW_SOCK" <<'EOF' || fail "hostile client script"
import socket, struct, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(5); return s
for payload in [b'\xff\xff\xff\xff', struct.pack('>IH', 2, 20),
                struct.pack('>IH', 8, 7) + b'\x00\x05\x00\x00\x00\x00',
                struct.pack('>I', 70000) + b'x' * 100, b'\x00\x00\x00\x01\x00']:
    s = conn(); s.sendall(payload)
    try: s.recv(100)
    except Exception: pass
    s.close()
EOF
# A session ended with byte counts past what SQLite and the log hold is
# refused, not half recorded: the session is then ended as abandoned. The
# client runs as a shell of a live login of $ALICE (gwlogin.py).
python3 "$SRC_DIR/tests/integration/gwlogin.py" "$GW_SOCK" "$ALICE" "$(id -u "$ALICE")" "$(id -g "$ALICE")" -- \
	python3 - "$GW_SOCK" "$LOGIN" <<'EOF' || fail "session end with huge counts"
import ctypes, socket, struct, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)	# PR_SET_DUMPABLE 0, as bulwark-shell
path, login = sys.argv[1:3]
def field(tag, data): return struct.pack('>HI', tag, len(data)) + data
def frame(typ, *fields):
    body = struct.pack('>H', typ) + b''.join(fields)
    return struct.pack('>I', len(body)) + body
def call(s, msg):
    s.sendall(msg)
    n = struct.unpack('>I', s.recv(4, socket.MSG_WAITALL))[0]
    body = s.recv(n, socket.MSG_WAITALL)
    i, f = 2, {}
    while i < len(body):
        tag, ln = struct.unpack('>HI', body[i:i + 6])
        f[tag] = body[i + 6:i + 6 + ln]
        i += 6 + ln
    return struct.unpack('>i', f[0].rjust(4, b'\0'))[0], f
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(5)
st, f = call(s, frame(6, field(6, b'web1'), field(7, login.encode()), field(8, b'exec'),
                      field(9, b'true'), field(10, b'\0')))
if st != 0 or f.get(29) != b'allow': sys.exit('session open: status %r, %r' % (st, f.get(28)))
st, f = call(s, frame(9, field(17, struct.pack('>I', 0)), field(18, struct.pack('>Q', 1 << 63)),
                      field(19, struct.pack('>Q', 5))))
if st in (0, None): sys.exit('session end with 2^63 bytes in: status %r' % st)
s.close()
EOF
gw_wait_ended || fail "the session with huge counts was left open"
cm 127.0.0.1 "$LOGIN@web1" true || fail "bulwarkd stopped answering after hostile clients"
kill -0 "$GW_BULWARKD_PID" || fail "bulwarkd died"
ok

# ---- another process of the user cannot take a session's key ----------
# What the review of issue 3 did: a process of $ALICE outside any login
# (tests/integration/thief.py) watches for session directories, connects
# to each session's agent socket the moment it appears, reads every file
# there, and opens /proc files of $ALICE's ssh processes. It must find no
# private key, get no answer from any agent (the user is told), and be
# denied ssh's memory and environment (the execute-only copy).
install -d -o "$ALICE" -m 0700 "$T/thief"
rm -f "$T/thief.stop"
runuser -u "$ALICE" -- python3 - "$T/thief/got.json" "$T/thief.stop" \
	<"$SRC_DIR/tests/integration/thief.py" &
thief=$!
sleep 0.3
for i in $(seq 12); do
	cm 127.0.0.1 "$LOGIN@web1" 'echo STARTED; sleep 0.5' >"$T/held.$i" 2>&1 ||
		fail "a session beside the thief failed: $(cat "$T/held.$i")"
	grepq "tried to use this session's key" "$T/held.$i" && [ "$i" -ge 3 ] && break
done
touch "$T/thief.stop"
wait "$thief" || fail "the thief script failed"
python3 - "$T/thief/got.json" <<'EOF' || fail "the thief got something: $(cat "$T/thief/got.json")"
import json, sys
g = json.load(open(sys.argv[1]))
assert g["dirs"] >= 3, "saw too few session directories: %r" % g
assert g["connects"] >= 1, "never reached an agent socket: %r" % g
assert all(a == "" or a.startswith("error:") for a in g["answers"]), \
    "an agent answered: %r" % g
assert g["private_keys"] == [] and "id" not in g["files"], "found a key: %r" % g
assert g["ssh_procs"] >= 1, "saw no ssh process: %r" % g
assert g["proc_readable"] == [], "read ssh's /proc files: %r" % g
EOF
echo "the thief's haul (nothing may be in it): $(cat "$T/thief/got.json")"
cat "$T"/held.* | grepq "tried to use this session's key" ||
	fail "the user was not told of the attempt on the agent"
# ... and it is in the audit log, with the process that tried.
gw_wait_ended || fail "the sessions beside the thief did not end"
thief_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$T/thief/got.json")
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.key"' |
	grep '"decision":"deny"' | grep '"attempts":[1-9]' | grepq "\"pid\":$thief_pid[,}]" ||
	fail "no session.key refusal naming the thief ($thief_pid) in the audit log"
grepq "^bulwarkd: deny session.key: by=\"$ALICE\"" "$GW_DIR/bulwarkd.log" || fail "no alert line for the attempt on the key"
# Every session still worked, and nothing is left on disk after it.
[ "$(cat "$T"/held.* | grep -c STARTED)" -ge 3 ] || fail "sessions beside the thief failed"
left=$(find /dev/shm /tmp -maxdepth 1 -name 'bulwark-*' -user "$ALICE" 2>/dev/null)
[ -z "$left" ] || fail "session directories left behind: $left"
ok

# ---- nor send a session to a target of its own -------------------------
# The helper's attack on the first version (tests/integration/impostor.py):
# a process of $ALICE rewrites a live session's directory (it is the
# user's) so that ssh reaches a fake target that takes any key, with a
# host key of its choosing. bulwark-dial takes the connection only from
# bulwark-shell's socket; were ssh to log in anywhere without the
# session's own agent, bulwark-shell would show nothing of it.
E=$T/evil
install -d -m 0755 "$E"
ssh-keygen -q -t ed25519 -N '' -f "$E/hk"
ssh-keygen -q -t ed25519 -N '' -f "$E/uk"
cp "$E/uk.pub" "$E/authorized"
chmod 0644 "$E"/*.pub "$E/authorized"
EPORT=$(gw_free_port)
cat >"$E/sshd_config" <<EOF
Port $EPORT
ListenAddress 127.0.0.1
HostKey $E/hk
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile $E/authorized
ForceCommand echo FAKE-TARGET
EOF
/usr/sbin/sshd -D -e -f "$E/sshd_config" 2>"$E/sshd.log" &
GW_PIDS+=($!)
gw_wait_port "$EPORT"
install -d -o "$ALICE" -m 0700 "$T/imp"
cp "$E/uk" "$E/uk.pub" "$E/hk.pub" "$T/imp/"
chown "$ALICE" "$T/imp"/*
runuser -u "$ALICE" -- ssh-agent -a "$T/imp/agent.sock" >/dev/null
runuser -u "$ALICE" -- env SSH_AUTH_SOCK="$T/imp/agent.sock" ssh-add -q "$T/imp/uk"
# impostor_sessions MODE PORT TARGET LOG MARK SHOWN OUT [LOST]: runs the
# impostor in MODE while sessions to TARGET run, none of which may show
# SHOWN, until its LOG says MARK (and, with LOST, that session failed: a
# swap that came after ssh had used the real agent lost the race). Sets rc.
impostor_sessions() {
	local mode=$1 port=$2 target=$3 log=$4 mark=$5 shown=$6 out=$7 lost=${8:-} imp i
	rm -f "$T/imp/stop"
	runuser -u "$ALICE" -- python3 - "$mode" "$port" "$T/imp/agent.sock" "$T/imp/hk.pub" \
		"$T/imp/uk.pub" "$T/imp/stop" "$log" <"$SRC_DIR/tests/integration/impostor.py" &
	imp=$!
	sleep 0.3
	for i in $(seq 15); do
		rc=0
		cm 127.0.0.1 "$LOGIN@$target" 'echo REAL-TARGET' >"$out" 2>&1 || rc=$?
		! grepq "$shown" "$out" || fail "a session showed $shown: $(cat "$out")"
		grepq "$mark" "$log" && { [ -z "$lost" ] || [ "$rc" != 0 ]; } && break
	done
	touch "$T/imp/stop"
	wait "$imp" || true
}
# The impostor races bulwark-dial for each session: until it wins one.
impostor_sessions dial "$EPORT" web1 "$T/imp/log" "bulwark-dial connected to the impostor" \
	FAKE-TARGET "$T/imp.out"
grepq "bulwark-dial connected to the impostor" "$T/imp/log" ||
	fail "the impostor never got in the way: $(cat "$T/imp/log")"
[ "$rc" != 0 ] || fail "a session whose directory was rewritten went ahead: $(cat "$T/imp.out")"
grepq "not bulwark-shell's" "$T/imp.out" || fail "bulwark-dial did not say why: $(cat "$T/imp.out")"
gw_wait_ended || fail "the rewritten session was not ended"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.handover"' |
	grepq '"decision":"deny"' || fail "the refused hand-over is not in the audit log"
# And a target that also takes a standing key (web9: its sshd reads an
# authorized_keys file with the impostor's key): the impostor points the
# session at its own agent, ssh logs in to the real, pinned host without
# the session's agent, and bulwark-shell shows nothing of it.
ssh-keygen -q -t ed25519 -N '' -f "$E/hk9"
E9PORT=$(gw_free_port)
"$B" target add web9 --host 127.0.0.1 --port "$E9PORT" --group web --sensitivity 2 \
	--host-key "$E/hk9.pub" >/dev/null || fail "target add web9"
sed -e "s/^Port .*/Port $E9PORT/" -e "s|^HostKey .*|HostKey $E/hk9|" \
	-e "s/^ForceCommand .*/ForceCommand echo STANDING-KEY/" "$E/sshd_config" >"$E/sshd9_config"
/usr/sbin/sshd -D -e -f "$E/sshd9_config" 2>"$E/sshd9.log" &
GW_PIDS+=($!)
gw_wait_port "$E9PORT"
impostor_sessions agent 0 web9 "$T/imp/log9" "swapped the agent" STANDING-KEY \
	"$T/imp9.out" lost
pkill -u "$ALICE" -x ssh-agent || true
grepq "swapped the agent" "$T/imp/log9" || fail "the impostor never swapped an agent: $(cat "$T/imp/log9")"
[ "$rc" != 0 ] || fail "a session logged in without its agent went ahead: $(cat "$T/imp9.out")"
grepq "ssh was answered without logging in with this session's key" "$T/imp9.out" ||
	fail "the user was not told why: $(cat "$T/imp9.out")"
gw_wait_ended || fail "the session without its agent was not ended"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.key"' |
	grepq 'without the session.s key agent' || fail "the login without the agent is not in the audit log"
ok

# ---- the gateway's binaries: execute-only, or no session ----------------
for f in bulwark-shell bulwark-dial bulwark-ssh; do
	[ "$(stat -c '%a %U' "$GW_BIN/$f")" = "111 root" ] ||
		fail "$f is not root's with mode 0111: $(stat -c '%a %U' "$GW_BIN/$f")"
done
# A bulwark-shell its users can read could be traced before it protects
# itself: it refuses to run.
chmod 0755 "$GW_BIN/bulwark-shell"
rc=0; cm 127.0.0.1 "$LOGIN@web1" true 2>"$T/ro.err" || rc=$?
chmod 0111 "$GW_BIN/bulwark-shell"
[ "$rc" != 0 ] || fail "a readable bulwark-shell ran a session"
grepq "bulwark-shell is readable by its users" "$T/ro.err" || fail "readable bulwark-shell: $(cat "$T/ro.err")"
# Without bulwark-ssh no session runs (never a traceable /usr/bin/ssh);
# a stale one still runs.
mv "$GW_BIN/bulwark-ssh" "$T/bulwark-ssh.away"
rc=0; cm 127.0.0.1 "$LOGIN@web1" true 2>"$T/nossh.err" || rc=$?
mv "$T/bulwark-ssh.away" "$GW_BIN/bulwark-ssh"
[ "$rc" != 0 ] || fail "a session ran without bulwark-ssh"
grepq "the gateway's copy of ssh, is missing" "$T/nossh.err" || fail "no bulwark-ssh: $(cat "$T/nossh.err")"
touch -d '2001-01-01' "$GW_BIN/bulwark-ssh"
cm 127.0.0.1 "$LOGIN@web1" 'echo STALE-OK' >"$T/stale.out" 2>&1 || fail "a stale bulwark-ssh: $(cat "$T/stale.out")"
grepq STALE-OK "$T/stale.out" || fail "a stale bulwark-ssh: $(cat "$T/stale.out")"
"$B" gateway ssh-copy --bindir "$GW_BIN" >/dev/null || fail "ssh-copy"
gw_wait_ended || fail "sessions left open"
ok

# ---- only a shell of a live gateway login opens sessions ---------------
# A process of $ALICE that sshd did not start for a login (a job left
# behind, cron, su) gets no session and no certificate: login.c. Each
# case runs the same client; "allow" only as a direct shell of a live
# login of $ALICE.
cat >"$T/open.py" <<'EOF'
import ctypes, socket, struct, sys
path, login = sys.argv[1:3]
# As bulwark-shell: out of reach of the user's other processes, unless
# told to stay traceable.
if sys.argv[3:] != ['dumpable']:
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)	# PR_SET_DUMPABLE 0
def field(tag, data): return struct.pack('>HI', tag, len(data)) + data
body = struct.pack('>H', 6) + field(6, b'web1') + field(7, login.encode()) + field(8, b'exec') + field(9, b'id')
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(5)
s.sendall(struct.pack('>I', len(body)) + body)
n = struct.unpack('>I', s.recv(4, socket.MSG_WAITALL))[0]
body = s.recv(n, socket.MSG_WAITALL)
i, f = 2, {}
while i < len(body):
    tag, ln = struct.unpack('>HI', body[i:i + 6]); f[tag] = body[i + 6:i + 6 + ln]; i += 6 + ln
print(f.get(29, b'?').decode(), f.get(28, b'').decode())
EOF
chmod 0644 "$T/open.py"
gwl() { python3 "$SRC_DIR/tests/integration/gwlogin.py" "$GW_SOCK" "$@"; }
UA=$(id -u "$ALICE"); GA=$(id -g "$ALICE")
# The shared ControlMaster connection is a live login, and listed.
"$B" session logins >"$T/logins" || fail "session logins"
head -n 1 "$T/logins" | grepq "^LOGIN *USER *FROM *SINCE *SSHD-PID" || fail "session logins header: $(cat "$T/logins")"
grep -Eq "^[0-9]+ +$ALICE +127\.0\.0\.1 +[0-9]{4}-" "$T/logins" || fail "the ControlMaster login is not listed: $(cat "$T/logins")"
opener() { echo python3 "$T/open.py" "$GW_SOCK" "$LOGIN"; }
n0=$(events session.authorize deny)
runuser -u "$ALICE" -- $(opener) >"$T/o1" || fail "client outside a login"
grepq "^deny this process is not part of a gateway login" <"$T/o1" || fail "outside a login: $(cat "$T/o1")"
expect_event session.authorize deny "$n0"
gwl "$ALICE" "$UA" "$GA" -- $(opener) >"$T/o2" || fail "client in a login"
grepq "^allow" <"$T/o2" || fail "a shell of a live login was refused: $(cat "$T/o2")"
gwl --close-first "$ALICE" "$UA" "$GA" -- $(opener) >"$T/o3" 2>&1 || fail "client after logout: $(cat "$T/o3")"
grepq "^deny" <"$T/o3" || fail "a login that ended still opens sessions: $(cat "$T/o3")"
gwl "$BOB" "$UA" "$GA" -- $(opener) >"$T/o4" || fail "client in another user's login"
grepq "^deny" <"$T/o4" || fail "$ALICE opened a session in $BOB's login: $(cat "$T/o4")"
# A shell of a live login that other processes of the user could trace
# (dumpable: a readable bulwark-shell before it protects itself, or one
# whose prctl a tracer undid) gets nothing.
gwl "$ALICE" "$UA" "$GA" -- $(opener) dumpable >"$T/o6" || fail "dumpable client in a login"
grepq "^deny this gateway's bulwark-shell can be traced" <"$T/o6" ||
	fail "a traceable shell of a live login was not refused: $(cat "$T/o6")"
grep -q "no session: the caller can be traced" "$GW_DIR/bulwarkd.log" ||
	fail "bulwarkd's log does not say the caller could be traced"
# Outside any login, dumpable or not, the reason is the missing login.
runuser -u "$ALICE" -- $(opener) dumpable >"$T/o7" || fail "dumpable client outside a login"
grepq "^deny this process is not part of a gateway login" <"$T/o7" ||
	fail "a dumpable process outside a login got another reason: $(cat "$T/o7")"
# One level further down (a process the shell started) is not the shell.
gwl "$ALICE" "$UA" "$GA" -- sh -c "$(opener); true" >"$T/o5" || fail "client under the shell"
grepq "^deny" <"$T/o5" || fail "a grandchild of the login's sshd opened a session: $(cat "$T/o5")"
grep -q "no session: no live login started the caller" "$GW_DIR/bulwarkd.log" ||
	fail "bulwarkd's log does not say why"
[ "$("$B" log show --dir "$GW_STATE/log" --json | grep -c '"action":"login.open"')" -ge 5 ] ||
	fail "logins are not in the audit log"
# Every login of the real sshd ended with its connection (the shared
# ControlMaster one is still open).
gw_wait_ended || fail "sessions of these logins left open"
ok

# ---- a target whose host key changed is refused -------------------------
eval "kill \$GW_TARGET_PID_web1"
sleep 0.3
# While it is down: bulwark-shell's own connection (dial.c) is refused,
# with ssh's wording and status, and the session is ended in the log.
rc=0
cm 127.0.0.1 "$LOGIN@web1" true 2>"$T/err" || rc=$?
[ "$rc" = 255 ] || fail "unreachable target: status $rc, not 255"
grep -q "connect to host 127.0.0.1 port $TPORT: Connection refused (target web1)" "$T/err" ||
	fail "unreachable target: $(cat "$T/err")"
gw_wait_ended || fail "unreachable target: the session was not ended"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.end"' | tail -n 1 |
	grep -q '"exit":255' || fail "unreachable target: no session.end with status 255"
ok
ssh-keygen -q -t ed25519 -N '' -f "$GW_DIR/target-web1/host_key.new"
mv "$GW_DIR/target-web1/host_key.new" "$GW_DIR/target-web1/host_key"
mv "$GW_DIR/target-web1/host_key.new.pub" "$GW_DIR/target-web1/host_key.pub"
gw_target_run web1 "$TPORT"
n=$(events session.hostkey deny)
expect_fail "changed host key" "does not match the key pinned" cm 127.0.0.1 "$LOGIN@web1" true
expect_event session.hostkey deny "$n"

# ---- the audit log verifies ---------------------------------------------
"$B" log verify --dir "$GW_STATE/log" >/dev/null || fail "audit log does not verify"
ok

# ---- the flood of unknown keys, counted ---------------------------------
sleep $(( FLOOD_END + 11 - $(date +%s) > 0 ? FLOOD_END + 11 - $(date +%s) : 0 ))
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"auth.publickey"' |
	grep "\"actor\":\"$ALICE\"" | grep '"key not registered for this user"' >"$T/flood.json"
full=$(grep -vc '"repeats"' "$T/flood.json" || true)
repeats=$(sed -n 's/.*"repeats":\([0-9]*\).*/\1/p' "$T/flood.json" | awk '{ n += $1 } END { print n + 0 }')
[ "${repeats:-0}" -ge 90 ] || fail "the flood's refusals were not counted (repeats ${repeats:-0}): $(cat "$T/flood.json")"
[ $((full + ${repeats:-0})) -ge 101 ] || fail "refusals lost: $full entries + $repeats repeats < 101"
[ "$(wc -l <"$T/flood.json")" -le 8 ] || fail "the flood wrote $(wc -l <"$T/flood.json") entries"
ok

# ---- disabling a user cuts their live logins off now ---------------------
ssh -F /dev/null -O check -o ControlPath="$CM" -l "$ALICE" -p "$GWPORT" 127.0.0.1 2>/dev/null ||
	fail "the shared connection is not up before the disable"
# A session running on it, which must end, recorded (web1's new host key
# pinned first: the host-key test above left it changed).
"$B" target rekey web1 --host-key "$GW_DIR/target-web1/host_key.pub" >/dev/null ||
	fail "target rekey web1"
cm 127.0.0.1 "$LOGIN@web1" 'echo RUNNING; sleep 60' >"$T/cut.out" 2>&1 &
cut=$!
for i in $(seq 200); do grep -q RUNNING "$T/cut.out" && break; sleep 0.05; done
grep -q RUNNING "$T/cut.out" || fail "the session to be cut off did not start: $(cat "$T/cut.out")"
"$B" user disable "$ALICE" >"$T/disable.out" 2>&1 || fail "user disable: $(cat "$T/disable.out")"
for i in $(seq 100); do kill -0 "$cut" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$cut" 2>/dev/null; then fail "a session of the disabled user went on"; fi
wait "$cut" 2>/dev/null || true
grepq "ended [0-9]* live login" <"$T/disable.out" || fail "user disable ended no login: $(cat "$T/disable.out")"
for i in $(seq 100); do
	ssh -F /dev/null -O check -o ControlPath="$CM" -l "$ALICE" -p "$GWPORT" 127.0.0.1 2>/dev/null || break
	sleep 0.05
done
if ssh -F /dev/null -O check -o ControlPath="$CM" -l "$ALICE" -p "$GWPORT" 127.0.0.1 2>/dev/null; then
	fail "the disabled user's connection is still up"
fi
"$B" session logins | grep -q " $ALICE " && fail "a login of the disabled user is still listed"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"login.close"' | grep "\"actor\":\"$ALICE\"" |
	grepq '"how":"logout"' || fail "the ended login has no login.close"
gw_wait_ended || fail "sessions of the disabled user left open"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.end"' | tail -n 1 |
	grepq '"recording":"' || fail "the cut-off session's end has no recording"
"$B" user enable "$ALICE" >/dev/null || fail "user enable"
ok
done_checks
