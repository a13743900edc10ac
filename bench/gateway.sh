#!/usr/bin/env bash
# Gateway benchmark: a session through Bulwark against the same session
# through a plain OpenSSH jump host (ssh -J), both on this machine, in
# the same run, with the same sshd binary, and the ratios.
#
#   bench/gateway.sh [BUILD_DIR]        (default: build-release, built here)
#
#   RUNS=N     session setups per path and mode (default 50: a p50 of 20
#              moved by 4 % from run to run)
#   BULK_MB=N  MiB per bulk transfer (default 1024)
#   CONC=N     concurrent interactive sessions held open (default 100)
#   ECHO_N=N   keystrokes per path in the echo-latency sample (default
#              4000: p99 is the fortieth slowest. With 1000, the added p99
#              of runs on the same build spread from -1.5 to +3.8 ms,
#              because a tenth-slowest sample is mostly the machine's noise)
#
# The two paths, both client -> middle box -> target on 127.0.0.1:
#   bulwark: ssh -> gateway sshd (pam_bulwark, AuthorizedKeysCommand) ->
#            bulwark-shell -> ssh with a one-minute certificate -> target
#            sshd configured by `bulwark target setup-script`;
#   jump:    ssh -J: ssh -W through a second, plain sshd (UsePAM no, an
#            authorized key) -> a plain target sshd (authorized key), the
#            same Unix login on the target.
# The client logs in to either middle box with the same FIDO2 key (the
# tests' software provider, verify-required: no TOTP code to wait for);
# a TOTP user would add a keyboard-interactive prompt to every new
# gateway connection. The jump path's hop to the target uses an ed25519
# key, the gateway's an ed25519 certificate.
#
# Prints, with ratios (bulwark/jump for times, jump/bulwark for rates):
#   1. session setup to run `true`, new connection each time, p50/p90;
#   2. the same over an existing ControlMaster connection to the middle box;
#   3. bulk upload and download of BULK_MB MiB over the ControlMaster
#      connections, median of three;
#   4. CONC interactive (pty) sessions per path, each its own connection,
#      both paths' open together: PSS per session of every process on the
#      middle box, and keystroke echo latency p50/p99 on one session of
#      each path, keys alternating between the two, the others idle.
#
# Everything it creates is named bwb<pid> (users, PAM service, /run/bwb<pid>)
# or lives in a temporary directory, and goes at exit (gw_teardown). The
# machine's own sshd and PAM configuration are not touched; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
RUNS=${RUNS:-50}
BULK_MB=${BULK_MB:-1024}
CONC=${CONC:-100}
ECHO_N=${ECHO_N:-4000}
CMDLINE="RUNS=$RUNS BULK_MB=$BULK_MB CONC=$CONC ECHO_N=$ECHO_N bench/gateway.sh $BUILD"

log() { echo "[gateway-bench $(date +%T)] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "run as root (it makes Unix users and a PAM service)" >&2; exit 1; }

# --- build: BUILD_TESTING=ON for the software security key provider.
# Only the targets needed here are built.
if ! grep -qs '^BUILD_TESTING:BOOL=ON' "$BUILD/CMakeCache.txt"; then
	./scripts/deps.sh --test >/dev/null
fi
log "configuring $BUILD (Release, BUILD_TESTING=ON)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
log "building bulwark, bulwarkd, bulwark-shell, bulwark-dial, bulwark-keys, pam_bulwark, bwt_sk_soft in $BUILD"
cmake --build "$BUILD" -j"$(nproc)" --target bulwark bulwarkd bulwark-shell bulwark-dial bulwark-keys \
	pam_bulwark bwt_sk_soft >/dev/null

BENCH=$(mktemp -d /tmp/bulwark-bench-gw.XXXXXX)
chmod 0711 "$BENCH"	# the service user must reach its state under it
GW_PREFIX=bwb$$
GW_DIR=$BENCH/gw
GW_BUILD=$(realpath "$BUILD")
GW_SK_PROVIDER=$GW_BUILD/tests/sk-soft/bwt_sk_soft.so
source scripts/gateway-env.sh

JUSER=${GW_PREFIX}j
JDIR=$BENCH/jump
TDIR=$BENCH/plain-target
JCFG=$BENCH/jump_config
EXTRA_PIDS=()
MASTERS=()

cleanup() {
	local m p
	for m in "${MASTERS[@]}"; do
		eval "$m" >/dev/null 2>&1 || true
	done
	for p in "${EXTRA_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	gw_teardown
	rm -rf "$BENCH"
}
trap cleanup EXIT

die() {
	local f
	for f in "$GW_DIR/bulwarkd.log" "$GW_DIR/sshd.log" "$GW_DIR"/target-*/sshd.log \
		"$JDIR/sshd.log" "$TDIR/sshd.log" "$BENCH/err"; do
		[ -s "$f" ] && { echo "--- $f (tail)"; tail -n 15 "$f"; } >&2
	done
	echo "gateway bench: $*" >&2
	exit 1
}

# --- the gateway: setup, bulwarkd, gateway sshd, target web1, a FIDO2 user
log "setting up the gateway ($GW_PREFIX) under $BENCH"
gw_install
GWPORT=$(gw_free_port)
gw_setup "$GWPORT" >"$BENCH/setup.out" 2>&1 || { cat "$BENCH/setup.out" >&2; die "gateway setup"; }
gw_start
# gw_start waits 5 s for bulwarkd's socket; a busy machine may need more.
for i in $(seq 250); do
	[ -S "$GW_SOCK" ] && break
	kill -0 "$GW_BULWARKD_PID" 2>/dev/null || die "bulwarkd exited"
	sleep 0.1
done
[ -S "$GW_SOCK" ] || die "bulwarkd did not open $GW_SOCK"
TPORT=$(gw_free_port)
gw_target web1 "$TPORT" web >&2
LOGIN=$GW_LOGIN
FIDO=${GW_PREFIX}f
gw_user "$FIDO" ed25519-sk
GW_LISTENER=$GW_SSHD_PID

# --- the peer: a plain jump sshd and a plain target sshd, same binary
log "setting up the plain jump host and target"
mkdir -p "$JDIR" "$TDIR"
ssh-keygen -q -t ed25519 -N '' -C client -f "$BENCH/client"
useradd --create-home --password '*' --shell /bin/bash "$JUSER"
GW_USERS+=("$JUSER")	# gw_teardown kills its processes and removes it
# The jump host gets the gateway user's FIDO2 key (verify-required, as
# pam_bulwark wants it), so that the client's work on the first hop is
# the same on both paths; the target gets a plain ed25519 key, as the
# gateway's own hop to the target uses an ed25519 certificate.
echo "verify-required $(cat "$GW_DIR/$FIDO.pub")" >"$BENCH/jump.authorized_keys"
for u in "$JUSER" "$LOGIN"; do
	h=$(getent passwd "$u" | cut -d: -f6)
	k=$BENCH/client.pub
	[ "$u" = "$JUSER" ] && k=$BENCH/jump.authorized_keys
	install -d -m 0700 -o "$u" -g "$(id -gn "$u")" "$h/.ssh"
	install -m 0600 -o "$u" -g "$(id -gn "$u")" "$k" "$h/.ssh/authorized_keys"
done
JPORT=$(gw_free_port)
ssh-keygen -q -t ed25519 -N '' -C jump -f "$JDIR/host_key"
cat >"$JDIR/sshd_config" <<EOF
Port $JPORT
ListenAddress 127.0.0.1
HostKey $JDIR/host_key
PidFile none
UsePAM no
StrictModes no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
EOF
/usr/sbin/sshd -D -e -f "$JDIR/sshd_config" -o LogLevel=VERBOSE 2>>"$JDIR/sshd.log" &
EXTRA_PIDS+=($!)
JUMP_LISTENER=$!
PTPORT=$(gw_free_port)
ssh-keygen -q -t ed25519 -N '' -C target -f "$TDIR/host_key"
# As gw_target's, without the certificate configuration from setup-script.
cat >"$TDIR/sshd_config" <<EOF
Port $PTPORT
ListenAddress 127.0.0.1
HostKey $TDIR/host_key
PidFile none
UsePAM no
StrictModes no
ExposeAuthInfo yes
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
/usr/sbin/sshd -D -e -f "$TDIR/sshd_config" 2>>"$TDIR/sshd.log" &
EXTRA_PIDS+=($!)
gw_wait_port "$JPORT"
gw_wait_port "$PTPORT"
{
	ssh-keyscan -T 5 -p "$JPORT" -t ed25519 127.0.0.1 2>/dev/null | sed 's/^[^ ]*/jump/'
	ssh-keyscan -T 5 -p "$PTPORT" -t ed25519 127.0.0.1 2>/dev/null | sed 's/^[^ ]*/target/'
} >"$BENCH/known_hosts"
cat >"$JCFG" <<EOF
Host jump
	HostName 127.0.0.1
	Port $JPORT
	User $JUSER
	HostKeyAlias jump
	IdentityFile $GW_DIR/$FIDO
	SecurityKeyProvider $GW_SK_PROVIDER
Host target
	HostName 127.0.0.1
	Port $PTPORT
	User $LOGIN
	HostKeyAlias target
	IdentityFile $BENCH/client
Host *
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile $BENCH/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	LogLevel ERROR
EOF

# The commands, as arrays of words. The gateway client is gw_ssh's ssh
# without its askpass: the FIDO2 user is asked nothing, and with
# SSH_ASKPASS set ssh would run it as a "confirm user presence" notifier
# on every login, a cost of the harness rather than of either path. The
# FIDO2 user is in the gateway's FIDO2 group (bulwark user add), so the
# key alone logs in, as on the jump host.
GWC=(ssh -F /dev/null -p "$GWPORT" -i "$GW_DIR/$FIDO" -o IdentitiesOnly=yes
	-o IdentityAgent=none -o UserKnownHostsFile="$GW_DIR/known_hosts"
	-o StrictHostKeyChecking=yes -o LogLevel=ERROR
	-o SecurityKeyProvider="$GW_SK_PROVIDER" -l "$FIDO")
GW_NEW=("${GWC[@]}" 127.0.0.1 "$LOGIN@web1")
JP_NEW=(ssh -F "$JCFG" -J jump target)
GW_CM=(ssh -F /dev/null -S "$BENCH/gcm" -l "$FIDO" -p "$GWPORT" 127.0.0.1 "$LOGIN@web1")
JP_CM=(ssh -F "$JCFG" -o "ProxyCommand=ssh -F $JCFG -S $BENCH/jcm -W %h:%p jump" target)

log "checking both paths"
out=$("${GW_NEW[@]}" 'echo ok-$(id -un)' 2>>"$BENCH/err") || die "bulwark path does not work"
[ "$out" = "ok-$LOGIN" ] || die "bulwark path: unexpected output: $out"
out=$("${JP_NEW[@]}" 'echo ok-$(id -un)' 2>>"$BENCH/err") || die "jump path does not work"
[ "$out" = "ok-$LOGIN" ] || die "jump path: unexpected output: $out"

# Negotiated ciphers (client side; neither path sets Ciphers/MACs/KEX,
# bulwark-shell's ssh included).
cipher() { grep -m1 -o 'kex: server->client cipher: [^ ]* MAC: [^ ]*' | sed 's/kex: server->client cipher: //'; }
C_GW=$("${GWC[@]}" -v 127.0.0.1 "$LOGIN@web1" true </dev/null 2>&1 | cipher || true)
C_JO=$(ssh -v -F "$JCFG" jump true </dev/null 2>&1 | cipher || true)
C_JI=$(ssh -v -F "$JCFG" -J jump target true </dev/null 2>&1 | cipher || true)

# --- helpers
# timed FILE CMD...: appends CMD's wall time in ms to FILE; dies on failure.
timed() {
	local f=$1 s e
	shift
	s=$EPOCHREALTIME
	"$@" </dev/null >/dev/null 2>>"$BENCH/err" || die "failed: $*"
	e=$EPOCHREALTIME
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }' >>"$f"
}
# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
pct() {
	sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END {
		i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
f1() { awk -v a="$1" 'BEGIN { printf "%.1f", a }'; }

# --- 1. session setup, new connection each time (alternating paths)
log "1. session setup, new connection to the middle box: $RUNS runs each"
"${GW_NEW[@]}" true </dev/null >/dev/null 2>&1 || true	# warm-up, not counted
"${JP_NEW[@]}" true </dev/null >/dev/null 2>&1 || true
for i in $(seq "$RUNS"); do
	timed "$BENCH/new.gw" "${GW_NEW[@]}" true
	timed "$BENCH/new.jp" "${JP_NEW[@]}" true
done

# --- 2. over an existing ControlMaster connection
log "2. session setup over a ControlMaster connection: $RUNS runs each"
"${GWC[@]}" -o ControlMaster=yes -o ControlPath="$BENCH/gcm" -o ControlPersist=900 \
	-fN 127.0.0.1 </dev/null 2>>"$BENCH/err" || die "gateway control master"
MASTERS+=("ssh -F /dev/null -S $BENCH/gcm -O exit -l $FIDO -p $GWPORT 127.0.0.1")
ssh -F "$JCFG" -o ControlMaster=yes -o ControlPath="$BENCH/jcm" -o ControlPersist=900 \
	-fN jump </dev/null 2>>"$BENCH/err" || die "jump control master"
MASTERS+=("ssh -F $JCFG -S $BENCH/jcm -O exit jump")
# A missing master would make the clients below connect on their own.
ssh -F /dev/null -S "$BENCH/gcm" -O check -l "$FIDO" -p "$GWPORT" 127.0.0.1 2>>"$BENCH/err" ||
	die "no gateway control master"
ssh -F "$JCFG" -S "$BENCH/jcm" -O check jump 2>>"$BENCH/err" || die "no jump control master"
"${GW_CM[@]}" true </dev/null >/dev/null 2>&1 || true
"${JP_CM[@]}" true </dev/null >/dev/null 2>&1 || true
for i in $(seq "$RUNS"); do
	timed "$BENCH/cm.gw" "${GW_CM[@]}" true
	timed "$BENCH/cm.jp" "${JP_CM[@]}" true
done

# --- 3. bulk transfer over the ControlMaster connections
BYTES=$((BULK_MB * 1048576))
log "3. bulk transfer, $BULK_MB MiB each way, 3 runs per path and direction"
xfer() {	# xfer DIR FILE CMD...: one transfer's MiB/s appended to FILE
	local dir=$1 f=$2 s e
	shift 2
	s=$EPOCHREALTIME
	if [ "$dir" = up ]; then
		head -c "$BYTES" /dev/zero | "$@" 'cat >/dev/null' 2>>"$BENCH/err" || die "upload: $*"
	else
		n=$("$@" "head -c $BYTES /dev/zero" </dev/null 2>>"$BENCH/err" | wc -c) || die "download: $*"
		[ "$n" = "$BYTES" ] || die "download: got $n bytes of $BYTES: $*"
	fi
	e=$EPOCHREALTIME
	awk -v s="$s" -v e="$e" -v m="$BULK_MB" 'BEGIN { printf "%.1f\n", m / (e - s) }' >>"$f"
}
for i in 1 2 3; do
	xfer up "$BENCH/up.gw" "${GW_CM[@]}"
	xfer up "$BENCH/up.jp" "${JP_CM[@]}"
	xfer down "$BENCH/down.gw" "${GW_CM[@]}"
	xfer down "$BENCH/down.jp" "${JP_CM[@]}"
done
for m in "${MASTERS[@]}"; do
	eval "$m" >/dev/null 2>&1 || true
done
MASTERS=()
sleep 1

# --- 4. CONC interactive sessions: memory on the middle box, echo latency
cat >"$BENCH/conc.py" <<'PYEOF'
# conc.py CONC ECHO_N CONFIG.json
# CONFIG: [{"name", "listener" (pid of the middle box's sshd), "daemon"
# (pid or 0), "argv" (an `ssh -tt` command)}, ...], one per path.
# For each path in turn: opens CONC sessions, each on its own pty and its
# own connection, waits for the shell prompt on each, and measures the
# proportional set size (PSS, /proc/PID/smaps_rollup) and RSS of every
# descendant of its listener, after minus before. Then, with all the
# sessions of all paths open, times ECHO_N one-byte keystrokes on the
# first session of each path until each one's echo is back, the paths
# taking turns key by key so that load from elsewhere hits both alike.
# Prints one JSON object per path, keyed by name.
import fcntl, json, os, random, re, select, signal, struct, sys, termios, time

conc, echo_n = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3]) as f:
    paths = json.load(f)
PROMPT = re.compile(rb'[$#] $')

def children_map():
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(')') + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids

def descendants(pid):
    kids, out, stack = children_map(), [], [pid]
    while stack:
        p = stack.pop()
        for c in kids.get(p, []):
            out.append(c); stack.append(c)
    return out

def mem(pid):
    pss = rss = 0
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    pss = int(line.split()[1])
                elif line.startswith('Rss:'):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss

def comm(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().split(b'\0')[0].decode(errors='replace')
    except OSError:
        return '?'

def box(listener):
    ps = descendants(listener)
    tot = [0, 0]
    names = {}
    for p in ps:
        pss, rss = mem(p)
        tot[0] += pss; tot[1] += rss
        c = comm(p)
        n = os.path.basename(c.split()[0]) if c.strip() else '?'
        n = re.sub(r'^.*sshd:?$', 'sshd', n)
        k = names.setdefault(n, [0, 0])
        k[0] += 1; k[1] += pss
    return len(ps), tot[0], tot[1], names

def spawn(argv):
    m, s = os.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.close(m)
        fcntl.ioctl(s, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(s, fd)
        if s > 2:
            os.close(s)
        env = dict(os.environ, TERM='xterm')
        os.execvpe(argv[0], argv, env)
    os.close(s)
    os.set_blocking(m, False)
    return pid, m

def read_until(fd, pred, timeout, buf=b''):
    end = time.monotonic() + timeout
    while not pred(buf):
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(buf[-200:])
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                d = b''
            if not d:
                raise EOFError(buf[-200:])
            buf += d
    return buf

def drain(fd, quiet=0.15):
    while select.select([fd], [], [], quiet)[0]:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return

def spawn_all(argv):
    sessions, batch = [], []
    BATCH = 5	# below sshd's MaxStartups 10 unauthenticated connections
    try:
        for i in range(0, conc, BATCH):
            batch = [spawn(argv) for _ in range(min(BATCH, conc - i))]
            for pid, fd in batch:
                read_until(fd, lambda b: PROMPT.search(b) is not None, 60)
            sessions += batch
            batch = []
    except Exception as e:
        sys.stderr.write('conc.py: opening session %d: %r\n' % (len(sessions) + 1, e))
        for pid, fd in sessions + batch:
            try: os.kill(pid, signal.SIGKILL)
            except OSError: pass
        raise
    return sessions

# Memory before and after for every path with all paths' sessions open,
# so that pages shared between the paths are shared alike.
res, all_sessions = {}, []
try:
    for P in paths:
        P['before'] = box(P['listener'])
        P['dmem0'] = mem(P['daemon']) if P['daemon'] else (0, 0)
    for P in paths:
        t0 = time.monotonic()
        P['sessions'] = spawn_all(P['argv'])
        all_sessions += P['sessions']
        P['opened'] = time.monotonic() - t0
    for _, fd in all_sessions:
        drain(fd, 0.01)
    time.sleep(2)
    for P in paths:
        before, after = P['before'], box(P['listener'])
        dmem1 = mem(P['daemon']) if P['daemon'] else (0, 0)
        res[P['name']] = {
            'open_s': round(P['opened'], 2), 'procs': after[0] - before[0],
            'names': {n: '%d, %d KiB PSS each' % (v[0], round(v[1] / v[0]))
                      for n, v in after[3].items()},
            'pss_kib': after[1] - before[1], 'rss_kib': after[2] - before[2],
            'daemon_rss_kib': dmem1[1] - P['dmem0'][1], 'daemon_rss_after_kib': dmem1[1],
        }
        P['lat'] = []
except Exception:
    for pid, fd in all_sessions:
        try: os.kill(pid, signal.SIGKILL)
        except OSError: pass
    sys.exit(1)

# Echo latency on the first session of each path, key by key in turn.
for P in paths:
    drain(P['sessions'][0][1])
letters = b'abcdefghijklmnopqrstuvwxyz'
for i in range(echo_n):
    for P in paths:
        fd = P['sessions'][0][1]
        if i and i % 40 == 0:
            os.write(fd, b'\x15')	# ^U: keep the line short
            drain(fd)
        c = letters[i % 26:i % 26 + 1]
        time.sleep(random.uniform(0.005, 0.015))
        t = time.perf_counter_ns()
        os.write(fd, c)
        read_until(fd, lambda b: c in b, 10)
        P['lat'].append((time.perf_counter_ns() - t) / 1000.0)
for P in paths:
    alive = 0
    for pid, fd in P['sessions']:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            alive += 1
    lat = sorted(P['lat'])
    def p(q):
        return lat[min(len(lat) - 1, max(0, int(len(lat) * q / 100 + 0.999999) - 1))]
    res[P['name']].update({'alive': alive, 'p50_us': round(p(50)),
                           'p99_us': round(p(99)), 'max_us': round(lat[-1])})
# How far the added p99 moves by chance alone: the p99 of each path from
# resamples of its own keys (a bootstrap, 500 rounds), their difference's
# 2.5th and 97.5th percentiles. A p99 is the 40th slowest of 4000 keys,
# and on this VM the slowest keys are scheduling stalls.
def q99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(len(xs) * 0.99 + 0.999999) - 1))]
if len(paths) == 2 and paths[0]['lat'] and paths[1]['lat']:
    rng = random.Random(1)
    g, j = paths[0]['lat'], paths[1]['lat']
    d = sorted(q99(rng.choices(g, k=len(g))) - q99(rng.choices(j, k=len(j)))
               for _ in range(500))
    res[paths[0]['name']]['added_p99_ci_us'] = [round(d[12]), round(d[487])]
for pid, fd in all_sessions:
    try: os.write(fd, b'\x15exit\r')
    except OSError: pass
deadline = time.monotonic() + 30
for pid, fd in all_sessions:
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            break
        drain(fd, 0.05)
    else:
        try: os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
        except OSError: pass
    os.close(fd)
print(json.dumps(res))
PYEOF

python3 - "$BENCH/conc.json" "$GW_LISTENER" "$GW_BULWARKD_PID" "$JUMP_LISTENER" \
	"$JCFG" "${GWC[@]}" -tt 127.0.0.1 "$LOGIN@web1" <<'PYEOF'
import json, sys
out, gl, gd, jl, jcfg = sys.argv[1:6]
json.dump([
    {'name': 'gw', 'listener': int(gl), 'daemon': int(gd), 'argv': sys.argv[6:]},
    {'name': 'jp', 'listener': int(jl), 'daemon': 0,
     'argv': ['ssh', '-F', jcfg, '-J', 'jump', '-tt', 'target']},
], open(out, 'w'))
PYEOF
log "4. $CONC interactive sessions through the gateway, then $CONC through the jump host (one connection each); echo latency over $ECHO_N keystrokes, the paths alternating"
CONC_ALL=$(python3 "$BENCH/conc.py" "$CONC" "$ECHO_N" "$BENCH/conc.json") ||
	die "concurrent sessions"
CONC_GW=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["gw"]))' "$CONC_ALL")
CONC_JP=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["jp"]))' "$CONC_ALL")
j() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); k=sys.argv[2]; print(v[k] if not isinstance(v[k], dict) else "; ".join("%s %s" % i for i in sorted(v[k].items())))' "$1" "$2"; }

# --- the table
g50=$(pct "$BENCH/new.gw" 50); g90=$(pct "$BENCH/new.gw" 90)
j50=$(pct "$BENCH/new.jp" 50); j90=$(pct "$BENCH/new.jp" 90)
c50=$(pct "$BENCH/cm.gw" 50); c90=$(pct "$BENCH/cm.gw" 90)
k50=$(pct "$BENCH/cm.jp" 50); k90=$(pct "$BENCH/cm.jp" 90)
ugw=$(pct "$BENCH/up.gw" 50); ujp=$(pct "$BENCH/up.jp" 50)
dgw=$(pct "$BENCH/down.gw" 50); djp=$(pct "$BENCH/down.jp" 50)
mg=$(awk -v k="$(j "$CONC_GW" pss_kib)" -v n="$CONC" 'BEGIN { printf "%.0f", k / n }')
mj=$(awk -v k="$(j "$CONC_JP" pss_kib)" -v n="$CONC" 'BEGIN { printf "%.0f", k / n }')
rg=$(awk -v k="$(j "$CONC_GW" rss_kib)" -v n="$CONC" 'BEGIN { printf "%.0f", k / n }')
rj=$(awk -v k="$(j "$CONC_JP" rss_kib)" -v n="$CONC" 'BEGIN { printf "%.0f", k / n }')
eg50=$(j "$CONC_GW" p50_us); eg99=$(j "$CONC_GW" p99_us)
ej50=$(j "$CONC_JP" p50_us); ej99=$(j "$CONC_JP" p99_us)
added=$((eg99 - ej99))
added_ci=$(python3 -c 'import json,sys; print("%d to %d" % tuple(json.loads(sys.argv[1])["added_p99_ci_us"]))' "$CONC_GW")

echo "bulwark gateway benchmark: $(nproc) cores, $(uname -r), $(ssh -V 2>&1)"
echo "command: $CMDLINE"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "paths: bulwark = ssh -> gateway sshd (pam_bulwark) -> bulwark-shell -> ssh (1-minute certificate) -> target sshd"
echo "       jump    = ssh -J: ssh -W via a plain sshd (UsePAM no, authorized key) -> plain target sshd"
echo "       same /usr/sbin/sshd binary on 127.0.0.1. The client logs in to both middle boxes with the"
echo "       same FIDO2 key (software security key provider, verify-required), so no TOTP wait; a TOTP"
echo "       user adds a keyboard-interactive prompt (the code, typed or from an askpass program) to"
echo "       each new gateway connection. The jump path's hop to the target uses a plain ed25519 key."
echo "       The gateway sshd listens on a socket with TCP_NODELAY, as its systemd socket unit makes it"
echo "       (here: bulwark gateway sshd); the jump sshd binds its own, as Debian's ssh.service does."
echo "ciphers: bulwark client->gateway $C_GW; jump client->jump $C_JO, client->target $C_JI;"
echo "         nothing sets Ciphers/MACs (bulwark-shell's ssh to the target uses the defaults too)"
echo
printf '%-56s %16s %16s %7s  %s\n' "figure" "bulwark" "ssh -J" "ratio" "goal"
printf '%-56s %16s %16s %7s  %s\n' "1. setup + 'true', new connection, p50 (ms)" "$(f1 "$g50")" "$(f1 "$j50")" "$(ratio "$g50" "$j50")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "   p90 (ms, $RUNS runs)" "$(f1 "$g90")" "$(f1 "$j90")" "$(ratio "$g90" "$j90")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "2. setup + 'true', over a ControlMaster, p50 (ms)" "$(f1 "$c50")" "$(f1 "$k50")" "$(ratio "$c50" "$k50")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "   p90 (ms, $RUNS runs)" "$(f1 "$c90")" "$(f1 "$k90")" "$(ratio "$c90" "$k90")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "3. upload $BULK_MB MiB, MiB/s (median of 3)" "$ugw" "$ujp" "$(ratio "$ujp" "$ugw")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "   download $BULK_MB MiB, MiB/s (median of 3)" "$dgw" "$djp" "$(ratio "$djp" "$dgw")" "[<= 1.00]"
printf '%-56s %16s %16s %7s  %s\n' "4. middle-box PSS per session, KiB ($CONC sessions)" "$mg" "$mj" "$(ratio "$mg" "$mj")" ""
printf '%-56s %16s %16s %7s  %s\n' "   (RSS sum per session, KiB)" "$rg" "$rj" "$(ratio "$rg" "$rj")" ""
printf '%-56s %16s %16s %7s  %s\n' "   keystroke echo p50 (us, $ECHO_N keys)" "$eg50" "$ej50" "$(ratio "$eg50" "$ej50")" ""
printf '%-56s %16s %16s %7s  %s\n' "   keystroke echo p99 (us)" "$eg99" "$ej99" "$(ratio "$eg99" "$ej99")" ""
printf '%-56s %16s %16s %7s  %s\n' "   added by the gateway at p99 (us)" "$added" "" "" "[< 2000]"
printf '%-56s %16s\n' "   (95% bootstrap interval of that, us)" "$added_ci"
echo
echo "ratios: bulwark/jump for times and memory, jump/bulwark for MiB/s (1.00 = as good as ssh -J)"
echo "1: each run a new TCP + SSH connection to the middle box; runs alternate between the paths"
echo "2: gateway: ssh -S cm gw $LOGIN@web1 true; jump: ssh -o ProxyCommand='ssh -S jcm -W %h:%p jump' target true"
echo "3: over the same ControlMaster connections; 1 MiB = 2^20 bytes; all runs:"
echo "   up bulwark $(paste -sd' ' "$BENCH/up.gw")  jump $(paste -sd' ' "$BENCH/up.jp")"
echo "   down bulwark $(paste -sd' ' "$BENCH/down.gw")  jump $(paste -sd' ' "$BENCH/down.jp")"
echo "4: $CONC sessions, each ssh -tt on its own pty and its own connection (no multiplexing, so"
echo "   sshd's MaxSessions does not apply; opened 5 at a time, under MaxStartups 10: gateway sshd"
echo "   started by gw_start unchanged). Both paths' $((2 * CONC)) sessions open together; PSS/RSS of every"
echo "   process under each middle box's sshd, after minus before (PSS: pages shared with the"
echo "   client's own ssh processes on this machine count partly; RSS: counted whole in each);"
echo "   latency on one session of each path, keys alternating between them, the others idle"
echo "   bulwark: opened in $(j "$CONC_GW" open_s) s; $(j "$CONC_GW" procs) processes: $(j "$CONC_GW" names);"
echo "            bulwarkd (shared, not counted above) RSS +$(j "$CONC_GW" daemon_rss_kib) KiB, now $(j "$CONC_GW" daemon_rss_after_kib) KiB;"
echo "            echo max $(j "$CONC_GW" max_us) us; $(j "$CONC_GW" alive) of $CONC sessions still open after the latency run"
echo "   jump:    opened in $(j "$CONC_JP" open_s) s; $(j "$CONC_JP" procs) processes: $(j "$CONC_JP" names);"
echo "            echo max $(j "$CONC_JP" max_us) us; $(j "$CONC_JP" alive) of $CONC sessions still open after the latency run"
log "done"
