#!/usr/bin/env bash
# bulwark gateway sshd on its own, with Debian's real sshd: the socket it
# makes is the one sshd accepts on (IPv4 and IPv6 loopback), and a
# config it cannot use is refused with the reason. test_gateway.sh checks
# TCP_NODELAY on the accepted sockets of a whole gateway.
source "$SRC_DIR/tests/integration/lib.sh"

B=$BULWARK
NAME=bwt$$-sshd
ETC=$T/etc
mkdir -p "$ETC"
chmod 0755 "$T" "$ETC"
ln -s /usr/sbin/sshd "$ETC/$NAME"
ssh-keygen -q -t ed25519 -N '' -C bwt-gateway-sshd -f "$ETC/host_key"
install -d -m 0755 /run/sshd
want=$(ssh-keygen -lf "$ETC/host_key.pub" | cut -d' ' -f2)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# conf ADDR PORT [EXTRA]: the sshd_config, as setup writes its first lines.
conf() {
	printf 'Port %s\nListenAddress %s\nHostKey %s\nPidFile none\nUsePAM no\n%b' \
		"$2" "$1" "$ETC/host_key" "${3:-}" >"$ETC/sshd_config"
}

# serves ADDR PORT: sshd started by bulwark gateway sshd answers there
# with our host key, and the port in the config (not a port of sshd's own
# choosing) is the one it accepts on.
serves() {
	local addr=$1 port=$2 pid got i
	"$B" gateway sshd --etc "$ETC" --pam-service "$NAME" -- -e \
		</dev/null >>"$T/sshd.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for i in $(seq 100); do
		got=$(ssh-keyscan -T 2 -t ed25519 -p "$port" "$addr" 2>/dev/null | ssh-keygen -lf - 2>/dev/null |
			cut -d' ' -f2) || true
		[ -n "$got" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$T/sshd.log" >&2; fail "sshd on $addr exited"; }
		sleep 0.1
	done
	[ "$got" = "$want" ] || { cat "$T/sshd.log" >&2; fail "no sshd with our key on $addr port $port (got '$got')"; }
	# The same process (exec, same pid), and it listens on the socket
	# handed over: that one has TCP_NODELAY, which sshd never sets on a
	# listener of its own.
	grepq "sshd" "/proc/$pid/comm" || fail "pid $pid is $(cat "/proc/$pid/comm"), not sshd"
	python3 "$SRC_DIR/tests/integration/nodelay.py" "$pid" "$port" ||
		fail "sshd on $addr port $port does not listen on the socket it was given"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

# ---- IPv4 and IPv6 loopback ---------------------------------------------
p=$(free_port)
conf 127.0.0.1 "$p"
serves 127.0.0.1 "$p"
ok
p=$(free_port)
conf ::1 "$p" "Match User nobody\n\tPasswordAuthentication no\n"
serves ::1 "$p"
ok

# ---- configs it cannot use ----------------------------------------------
p=$(free_port)
conf 127.0.0.1 "$p" "ListenAddress 127.0.0.2\n"
expect_fail "two addresses" "more than one ListenAddress" \
	"$B" gateway sshd --etc "$ETC" --pam-service "$NAME"
printf 'ListenAddress 127.0.0.1\nHostKey %s\n' "$ETC/host_key" >"$ETC/sshd_config"
expect_fail "no port" "no Port line.*gateway setup" \
	"$B" gateway sshd --etc "$ETC" --pam-service "$NAME"
conf 127.0.0.1 70000
expect_fail "port out of range" "'Port 70000' is not a port" \
	"$B" gateway sshd --etc "$ETC" --pam-service "$NAME"
conf gw.example "$p"
expect_fail "a host name" "ListenAddress 'gw.example' is not an IP address" \
	"$B" gateway sshd --etc "$ETC" --pam-service "$NAME"
conf 127.0.0.1 "$p"
expect_fail "a path for a name" "wants a name" \
	"$B" gateway sshd --etc "$ETC" --pam-service ../sshd
expect_fail "no such service link" "bwt-nothing is missing.*gateway setup" \
	"$B" gateway sshd --etc "$ETC" --pam-service bwt-nothing
expect_fail "an unknown option" "usage: bulwark gateway sshd" \
	"$B" gateway sshd --listen 127.0.0.1
ok

done_checks
