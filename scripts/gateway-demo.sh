#!/usr/bin/env bash
# The main job: a complete Bulwark gateway on this machine, on embedded
# defaults and loopback only, left running for you to try:
#
#   bulwarkd            state, user CA and audit log in /var/lib/bulwark-demo
#   gateway sshd        127.0.0.1:2222 (or the next free port), Debian's own
#                       sshd with pam_bulwark for the second factor
#   target "web1"       another sshd on 127.0.0.1, configured by
#                       `bulwark target setup-script` to trust the CA only
#   user bwdemo-alice   an SSH key and a TOTP secret
#
# It runs one command and one recorded interactive session through the
# gateway, shows the session list, the recording and the audit log
# verifying, then prints the commands to try. Run it again to start over;
# `scripts/run.sh --stop` removes everything it made (Unix users
# bwdemo-alice, bwdemod, bwdemot, /etc/pam.d/bwdemo-sshd, /run/bwdemo,
# /var/lib/bulwark-demo).
#
# usage: scripts/gateway-demo.sh [BUILD_DIR] | --stop
set -euo pipefail
cd "$(dirname "$0")/.."

GW_PREFIX=bwdemo
GW_DIR=/var/lib/bulwark-demo
GW_BUILD=${1:-build-release}
[ "$GW_BUILD" = --stop ] && GW_BUILD=build-release
source scripts/gateway-env.sh
ALICE=bwdemo-alice
GW_USERS=("$ALICE")

stop() {
	local p
	if [ -f "$GW_DIR/pids" ]; then
		while read -r p; do
			kill "$p" 2>/dev/null || true
		done <"$GW_DIR/pids"
	fi
	gw_teardown
	rm -rf "$GW_DIR"
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	if port_free "$1"; then echo "$1"; else gw_free_port; fi
}

if [ "${1:-}" = --stop ]; then
	stop
	echo "the demo gateway is stopped and removed"
	exit 0
fi

[ "$(id -u)" = 0 ] || { echo "run as root: it creates Unix users and a PAM service" >&2; exit 1; }
stop >/dev/null 2>&1 || true
trap 'echo "the demo failed; logs are in $GW_DIR (*.log); scripts/run.sh --stop cleans up" >&2' ERR

step "installing the binaries in $GW_BIN and setting up the gateway"
gw_install
gw_setup "$(pick_port 2222)"
gw_start
step "a target, web1, whose sshd trusts only the Bulwark CA"
GW_TARGET_PORT=$(pick_port 2201)
gw_target web1 "$GW_TARGET_PORT" web
step "a gateway user, $ALICE, with an SSH key and a TOTP secret"
gw_user "$ALICE"
printf '%s\n' "${GW_PIDS[@]}" >"$GW_DIR/pids"
trap - ERR

SECRET=$(cat "$GW_DIR/$ALICE.totp")
KEY=$GW_DIR/$ALICE
SSH="ssh -p $GW_PORT -i $KEY -o UserKnownHostsFile=$GW_DIR/known_hosts"

step "a command on web1 through the gateway (the code comes from oathtool)"
echo "\$ $SSH $ALICE@127.0.0.1 $GW_LOGIN@web1 'uname -n; id -un; uptime'"
gw_ssh "$ALICE" -o ControlMaster=yes -o ControlPath="$GW_DIR/cm" \
	-o ControlPersist=300 127.0.0.1 "$GW_LOGIN@web1" 'uname -n; id -un; uptime'

step "a recorded interactive session"
printf 'echo "hello from the recorded session"\nls -la / | head -3\nexit\n' |
	gw_ssh "$ALICE" -tt -o ControlPath="$GW_DIR/cm" 127.0.0.1 "$GW_LOGIN@web1" >/dev/null 2>&1 || true
gw_wait_ended || true
"$GW_BIN/bulwark" session list
sid=$("$GW_BIN/bulwark" session list -n 1 | awk 'NR==2 {print $1}')
step "its recording (bulwark session play $sid --cat)"
"$GW_BIN/bulwark" session play "$sid" --cat | tr -d '\r' | head -12

step "the audit log: last events, then a full verification"
"$GW_BIN/bulwark" log show --dir "$GW_STATE/log" | tail -6
"$GW_BIN/bulwark" log verify --dir "$GW_STATE/log"

cat <<EOF

The gateway is running. Try (as root, from this machine):

  oathtool --totp -b $SECRET        # the code for the prompt
  $SSH $ALICE@127.0.0.1 $GW_LOGIN@web1 uptime
  $SSH -t $ALICE@127.0.0.1 $GW_LOGIN@web1         # interactive, recorded
  $SSH -t $ALICE@127.0.0.1                       # pick a target from a menu
  ssh -i $KEY -J $ALICE@127.0.0.1:$GW_PORT -p $GW_TARGET_PORT $GW_LOGIN@127.0.0.1   # refused

  export BULWARK_SOCKET=$GW_SOCK BULWARK_STATE=$GW_STATE
  $GW_BIN/bulwark session list
  $GW_BIN/bulwark session play ID
  $GW_BIN/bulwark session list --open           # sessions running now; then watch ID, or kill ID
  $GW_BIN/bulwark session logins                # who is logged in to the gateway now
  tail -f $GW_DIR/bulwarkd.log                  # every refusal, live (journalctl -u bulwarkd -p warning -f under systemd)
  $GW_BIN/bulwark user list ; $GW_BIN/bulwark target list
  $GW_BIN/bulwark log show --dir $GW_STATE/log
  $GW_BIN/bulwark ssh-config $ALICE --gateway 127.0.0.1 --port $GW_PORT

Logs: $GW_DIR/*.log.  Stop and remove everything: scripts/run.sh --stop
EOF
