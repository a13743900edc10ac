# gateway-env.sh - a complete local Bulwark gateway on 127.0.0.1, for the
# demo, the integration tests and bench/gateway.sh (sourced, not run).
#
# Everything it makes is named after $GW_PREFIX (tests use "bwt<pid>"):
# Unix users ${GW_PREFIX}d (bulwarkd), ${GW_PREFIX}t (the target's login),
# gateway users given to gw_user, the PAM service /etc/pam.d/${GW_PREFIX}-sshd,
# the binaries' directory /run/${GW_PREFIX}; the rest lives in $GW_DIR.
# gw_teardown removes all of it; call it from an EXIT trap.
#
# Binaries are copied to /run/${GW_PREFIX}: sshd runs the
# AuthorizedKeysCommand only from a path whose every directory is owned
# by root and not writable by others, which a build tree under /tmp or a
# home directory is not.
#
# Needs: GW_PREFIX, GW_DIR (absolute, fresh), GW_BUILD (the build dir).

: "${GW_PREFIX:?}" "${GW_DIR:?}" "${GW_BUILD:?}"
GW_BIN=/run/$GW_PREFIX
GW_STATE=$GW_DIR/state
GW_ETC=$GW_DIR/etc
GW_RUN=$GW_DIR/run
GW_SOCK=$GW_RUN/bulwarkd.sock
GW_SVC=${GW_PREFIX}d
GW_PAM=${GW_PREFIX}-sshd
GW_LOGIN=${GW_PREFIX}t
GW_USERS=()
GW_PIDS=()
export BULWARK_SOCKET=$GW_SOCK BULWARK_STATE=$GW_STATE

gw_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# gw_wait_port PORT: until something listens on 127.0.0.1:PORT (10 s).
gw_wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

gw_install() {
	install -d -m 0755 "$GW_BIN"
	install -m 0755 "$GW_BUILD/bulwark" "$GW_BUILD/bulwarkd" \
		"$GW_BUILD/bulwark-shell" "$GW_BUILD/bulwark-dial" \
		"$GW_BUILD/bulwark-keys" "$GW_BIN/"
	install -m 0644 "$GW_BUILD/pam_bulwark.so" "$GW_BIN/"
	mkdir -p "$GW_DIR"
	# The service user must reach its state directory under GW_DIR.
	chmod 0711 "$GW_DIR"
	install -d -m 0755 /run/sshd
}

# gw_setup PORT: bulwark gateway setup on 127.0.0.1:PORT.
gw_setup() {
	GW_PORT=$1
	"$GW_BIN/bulwark" gateway setup --service-user "$GW_SVC" \
		--state "$GW_STATE" --etc "$GW_ETC" --run "$GW_RUN" \
		--port "$GW_PORT" --listen 127.0.0.1 --source-address 127.0.0.1 \
		--pam-service "$GW_PAM" --systemd-dir "$GW_ETC/systemd" \
		--apt-dir "$GW_ETC/apt" \
		--bindir "$GW_BIN" --no-start
}

# gw_bulwarkd [OPTION...]: (re)starts bulwarkd in the background with the
# gateway's options and these, and waits until it answers.
gw_bulwarkd() {
	"$GW_BIN/bulwarkd" --user "$GW_SVC" --state "$GW_STATE" \
		--socket "$GW_SOCK" --source-address 127.0.0.1 --keys-user nobody \
		"$@" </dev/null >>"$GW_DIR/bulwarkd.log" 2>&1 &
	GW_PIDS+=($!)
	GW_BULWARKD_PID=$!
	local i
	for i in $(seq 200); do
		"$GW_BIN/bulwark" grant list >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bulwarkd did not start; see $GW_DIR/bulwarkd.log" >&2
	return 1
}

# gw_dump_logs: the tails of the daemons' logs, on stderr (for failures).
gw_dump_logs() {
	local f
	for f in "$GW_DIR/bulwarkd.log" "$GW_DIR/sshd.log" "$GW_DIR"/target-*/sshd.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 15 "$f"; } >&2
	done
	return 0
}

# gw_start: bulwarkd and the gateway sshd, in the background. The sshd
# is started as it is without systemd: `bulwark gateway sshd` makes its
# listening socket (TCP_NODELAY) and execs it (same pid).
gw_start() {
	gw_bulwarkd
	"$GW_BIN/bulwark" gateway sshd --etc "$GW_ETC" --pam-service "$GW_PAM" \
		-- -e -o LogLevel=VERBOSE </dev/null >>"$GW_DIR/sshd.log" 2>&1 &
	GW_PIDS+=($!)
	GW_SSHD_PID=$!
	gw_wait_port "$GW_PORT"
	ssh-keyscan -T 5 -p "$GW_PORT" -t ed25519 127.0.0.1 2>/dev/null |
		sed "s/^127.0.0.1/[127.0.0.1]:$GW_PORT/" >"$GW_DIR/known_hosts"
}

# gw_target NAME PORT GROUP: a target sshd on 127.0.0.1:PORT whose sshd
# configuration comes from `bulwark target setup-script`; the login
# $GW_LOGIN is granted to role "admin" on GROUP.
gw_target() {
	local name=$1 port=$2 group=$3 d=$GW_DIR/target-$1
	mkdir -p "$d"
	id "$GW_LOGIN" >/dev/null 2>&1 ||
		useradd --create-home --password '*' --shell /bin/bash "$GW_LOGIN"
	ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$d/host_key"
	"$GW_BIN/bulwark" target add "$name" --host 127.0.0.1 --port "$port" \
		--group "$group" --sensitivity 2 --host-key "$d/host_key.pub" >/dev/null
	"$GW_BIN/bulwark" grant add admin "$group" "$GW_LOGIN" >/dev/null 2>&1 || true
	"$GW_BIN/bulwark" target setup-script "$name" --sshd-dir "$d" \
		--no-reload >"$d/setup.sh"
	sh "$d/setup.sh"
	cat >"$d/sshd_config" <<-EOF
		Include $d/sshd_config.d/*.conf
		Port $port
		ListenAddress 127.0.0.1
		HostKey $d/host_key
		PidFile none
		UsePAM no
		StrictModes no
		ExposeAuthInfo yes
		LogLevel VERBOSE
		Subsystem sftp /usr/lib/openssh/sftp-server
	EOF
	gw_target_run "$name" "$port"
}

# gw_target_run NAME PORT: (re)starts the target's sshd.
gw_target_run() {
	local d=$GW_DIR/target-$1
	/usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >>"$d/sshd.log" 2>&1 &
	GW_PIDS+=($!)
	eval "GW_TARGET_PID_${1//[^a-zA-Z0-9]/_}=$!"
	gw_wait_port "$2"
}

# gw_user NAME [KEYTYPE]: a gateway user with a new key in $GW_DIR/NAME
# (and NAME.pub) and, for ed25519 keys, a TOTP seed in $GW_DIR/NAME.totp.
gw_user() {
	local name=$1 type=${2:-ed25519}
	GW_USERS+=("$name")
	if [ "$type" = ed25519-sk ]; then
		ssh-keygen -q -t ed25519-sk -O verify-required -N '' \
			-w "$GW_SK_PROVIDER" -f "$GW_DIR/$name" >/dev/null
	else
		ssh-keygen -q -t ed25519 -N '' -f "$GW_DIR/$name"
	fi
	"$GW_BIN/bulwark" user add "$name" --key "$GW_DIR/$name.pub" \
		--role admin --shell "$GW_BIN/bulwark-shell" >/dev/null
	if [ "$type" = ed25519 ]; then
		"$GW_BIN/bulwark" user mfa enroll "$name" >"$GW_DIR/$name.enroll"
		grep -o 'secret=[A-Z2-7]*' "$GW_DIR/$name.enroll" | head -1 |
			cut -d= -f2 >"$GW_DIR/$name.totp"
	fi
	gw_askpass "$name"
}

# The askpass program ssh runs for the keyboard-interactive prompt: it
# prints the code of the next unused 30 s step (each code is accepted
# once), waiting for the clock when both usable steps are spent.
gw_askpass() {
	local name=$1
	cat >"$GW_DIR/$name.askpass" <<-EOF
		#!/bin/bash
		secret=\$(cat "$GW_DIR/$name.totp")
		last=\$(cat "$GW_DIR/$name.step" 2>/dev/null || echo 0)
		while :; do
			now=\$(date +%s); step=\$((now / 30))
			[ "\$step" -le "\$last" ] && step=\$((last + 1))
			[ "\$step" -le \$((now / 30 + 1)) ] && break
			sleep 1
		done
		echo "\$step" >"$GW_DIR/$name.step"
		oathtool --totp -b --now="@\$((step * 30))" "\$secret"
	EOF
	chmod 0700 "$GW_DIR/$name.askpass"
}

# gw_ssh NAME ARGS...: ssh to the gateway as NAME, answering the code
# prompt through the askpass above.
gw_ssh() {
	local name=$1 ap=()
	shift
	# FIDO2 users are asked no code: no askpass to run for them.
	[ -f "$GW_DIR/$name.totp" ] &&
		ap=(SSH_ASKPASS="$GW_DIR/$name.askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none)
	env "${ap[@]}" ssh -F /dev/null -p "$GW_PORT" -i "$GW_DIR/$name" \
		-o IdentitiesOnly=yes -o IdentityAgent=none \
		-o UserKnownHostsFile="$GW_DIR/known_hosts" \
		-o StrictHostKeyChecking=yes -o LogLevel=ERROR \
		-o SecurityKeyProvider="${GW_SK_PROVIDER:-internal}" \
		-l "$name" "$@"
}

# gw_standard NAME: the whole set-up most tests want: the gateway, target
# web1 (group web), gateway user NAME with a TOTP secret, and a shared
# connection for NAME at $GW_CM (one code, then any number of sessions:
# gw_cm ARGS...).
gw_standard() {
	gw_install
	gw_setup "$(gw_free_port)" >/dev/null 2>&1 || { echo "gateway setup failed" >&2; return 1; }
	gw_start
	gw_target web1 "$(gw_free_port)" web >/dev/null 2>&1
	gw_user "$1"
	GW_CM=$GW_DIR/cm
	GW_CM_USER=$1
	gw_ssh "$1" -o ControlMaster=yes -o ControlPath="$GW_CM" \
		-o ControlPersist=600 -fN 127.0.0.1
}

# gw_wait_ended: until no session is open (ENDED "-"), 10 s at most.
# bulwark-shell reports a session's end from a detached child after the
# user's ssh has returned (src/shell/session.c), a few ms later.
gw_wait_ended() {
	local i
	for i in $(seq 200); do
		"$GW_BIN/bulwark" session list | awk 'NR > 1 && $7 == "-" {f = 1} END {exit !f}' ||
			return 0
		sleep 0.05
	done
	echo "sessions still open after 10 s: $("$GW_BIN/bulwark" session list)" >&2
	return 1
}

gw_cm() {
	ssh -F /dev/null -o ControlPath="$GW_CM" -l "$GW_CM_USER" -p "$GW_PORT" "$@"
}

gw_teardown() {
	local p u
	for p in "${GW_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# Sessions' shells and ssh processes of our users, if any remain.
	for u in "${GW_USERS[@]}" "$GW_LOGIN" "$GW_SVC"; do
		pkill -9 -u "$u" 2>/dev/null || true
	done
	sleep 0.2
	for u in "${GW_USERS[@]}" "$GW_LOGIN"; do
		# sshd's ExposeAuthInfo files (/tmp/sshauth.*, owned by the
		# user) of sessions killed before sshd could remove them.
		id -u "$u" >/dev/null 2>&1 &&
			find /tmp -maxdepth 1 -name 'sshauth.*' -user "$u" -delete 2>/dev/null
		userdel -r "$u" >/dev/null 2>&1 || true
	done
	userdel "$GW_SVC" >/dev/null 2>&1 || true
	groupdel "$GW_SVC-fido2" >/dev/null 2>&1 || true	# bulwark gateway setup's
	rm -f "/etc/pam.d/$GW_PAM"
	rm -rf "$GW_BIN"
}
