#!/usr/bin/env bash
# Interactive sessions through the gateway on a real terminal (a pty driven
# from python): window size at start and after a resize reaches the
# target, Ctrl-C interrupts the remote command, the exit status comes
# back; the recording holds the resize; and a recording over the daemon's
# cap ends with a marker while the session itself goes on.
source "$SRC_DIR/tests/integration/lib.sh"
: "${BUILD_DIR:?}"

GW_PREFIX=bwy$$
GW_DIR=$T/gw
chmod 0711 "$T"
GW_BUILD=$BUILD_DIR
source "$SRC_DIR/scripts/gateway-env.sh"
# The disk-reserve check mounts a tmpfs over the recordings' directory.
RESERVE_MNT=
trap '[ -z "$RESERVE_MNT" ] || umount "$RESERVE_MNT" 2>/dev/null; gw_teardown; cleanup' EXIT
B=$GW_BIN/bulwark
ALICE=${GW_PREFIX}a

fail() {
	gw_dump_logs
	echo "FAIL: $*" >&2
	exit 1
}

gw_standard "$ALICE" || fail "gateway, target, user and shared connection"
CM=$GW_CM

# drive SCRIPT: runs ssh -tt through the shared connection on a pty and
# plays SCRIPT (python statements using send/expect/resize); exits with
# the session's exit status.
cat >"$T/drive.py" <<'EOF'
import fcntl, os, pty, select, struct, sys, termios, time
argv, script = sys.argv[2:], sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def resize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
def send(s):
    os.write(fd, s.encode())
def expect(pat, timeout=10):
    global buf
    end = time.time() + timeout
    while pat.encode() not in buf:
        left = end - time.time()
        if left <= 0:
            sys.stderr.write("timeout waiting for %r; got %r\n" % (pat, buf[-300:]))
            os._exit(100)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                d = b""
            if not d:
                sys.stderr.write("EOF waiting for %r; got %r\n" % (pat, buf[-300:]))
                os._exit(101)
            buf += d
    i = buf.index(pat.encode()) + len(pat)
    buf = buf[i:]
resize(31, 100)
exec(script)
while True:
    try:
        if not os.read(fd, 65536):
            break
    except OSError:
        break
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
EOF
drive() {
	python3 "$T/drive.py" "$1" ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" \
		-p "$GW_PORT" -tt 127.0.0.1 "$GW_LOGIN@web1"
}

# live_session MARK: the id of the open session whose recording, as
# bulwarkd has received it, holds MARK (within 10 s).
live_session() {
	local i sid
	for i in $(seq 200); do
		sid=$("$B" session list --open | awk 'NR > 1 {print $1; exit}')
		[ -n "$sid" ] && grepq -a "$1" "$GW_STATE/rec/$sid.cast" 2>/dev/null &&
			{ echo "$sid"; return 0; }
		sleep 0.05
	done
	return 1
}

rc=0
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("stty size\n"); expect("31 100"); expect("PROMPT$ ")
resize(40, 120); time.sleep(0.5)
send("stty size\n"); expect("40 120"); expect("PROMPT$ ")
t = time.time(); send("sleep 30\n"); time.sleep(0.5); send("\x03"); expect("PROMPT$ ")
assert time.time() - t < 10, "Ctrl-C did not interrupt"
send("exit 5\n")
' || rc=$?
[ "$rc" = 5 ] || fail "window size, Ctrl-C or exit status did not pass through (status $rc)"
ok

gw_wait_ended || fail "the session was not ended"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session play "$sid" --raw >"$T/s.cast"
grep -q '"r", *"120x40"' "$T/s.cast" || fail "the resize is not in the recording"
head -1 "$T/s.cast" | grepq '"width": *100' || fail "the recording's header lacks the width"
ok

# What a target prints is replayed to whoever reads the recording, so a
# recording must not be able to talk to that reader's terminal: the
# recording keeps every byte, and play shows the drawing but drops what
# makes a terminal answer (into the reader's shell), write the clipboard
# or keep a mode. The audit log's listing shows a typed escape as text.
rc=0
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("printf \"\\033]52;c;cHduZWQ=\\a\\033[6n\\033]2;PWN\\a\\033[21t\\033P\\044qm\\033\\134\\302\\233c\\033[?1000h\\033[1;32mGR%sN\\033[0m\\n\" EE\n")
expect("GREEN"); expect("PROMPT$ ")
send("exit 0\n")
' || rc=$?
[ "$rc" = 0 ] || fail "the session printing escape sequences (status $rc)"
gw_wait_ended || fail "the session was not ended"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session play "$sid" --raw >"$T/esc.cast"
grepq -F '\u001b]52;c;cHduZWQ=' "$T/esc.cast" || fail "the recording lost what the target printed"
"$B" session play "$sid" --cat >"$T/esc.out"
python3 - "$T/esc.out" <<'PYEOF' || fail "session play let a dangerous sequence through: $(od -c "$T/esc.out" | tail -20)"
import sys
out = open(sys.argv[1], 'rb').read()
assert b'\x1b[1;32mGREEN\x1b[0m' in out, 'the colours are gone'
for bad in (b'\x1b]', b'\x1bP', b'\x1b[6n', b'\x1b[21t', b'\xc2\x9b', b'\x1b[?1000h'):
    assert bad not in out, bad
assert out.endswith(b'\x1b[0m'), 'the attributes were not reset at the end'
PYEOF
rc=0
python3 "$T/drive.py" 'expect("GREEN"); expect("\x1b[0m")' "$B" session play "$sid" --speed 1000 || rc=$?
[ "$rc" = 0 ] || fail "session play on a terminal (status $rc)"
ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" -p "$GW_PORT" 127.0.0.1 \
	"$GW_LOGIN@web1 true '"$'\033]2;LOGPWN\a\302\2336n'"'" || fail "an exec session with escapes in its command"
gw_wait_ended || fail "the exec session was not ended"
"$B" log show --dir "$GW_STATE/log" >"$T/log.txt"
grepq -F 'LOGPWN\u0007\xc2\x9b6n' "$T/log.txt" || fail "log show does not show the command's escapes as text: $(grep -a LOGPWN "$T/log.txt")"
! grep -q $'\033\\|\302\233' "$T/log.txt" || fail "log show let an escape through: $(grep -a LOGPWN "$T/log.txt" | od -c | head)"
"$B" log show --dir "$GW_STATE/log" --json >"$T/log.json"
grepq -F 'LOGPWN\u0007\u009b6n' "$T/log.json" || fail "log show --json does not escape the C1 control: $(grep -a LOGPWN "$T/log.json")"
! grep -q $'\302\233' "$T/log.json" || fail "log show --json let a C1 control through"
ok

# Ctrl-C in the middle of a replay still undoes what the recording set:
# here the colour of a session that paused before resetting it.
rc=0
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("printf \"\\033[1;31mRED%s\" ED; sleep 3; printf \"\\033[0m\\n\"\n"); expect("REDED")
expect("PROMPT$ "); send("exit 0\n")
' || rc=$?
[ "$rc" = 0 ] || fail "the session with a paused colour (status $rc)"
gw_wait_ended || fail "the session was not ended"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
rc=0
python3 "$T/drive.py" '
expect("REDED", 20); t = time.time(); send("\x03"); expect("\x1b[0m", 5)
assert time.time() - t < 1.5, "the reset came with the recording, not with Ctrl-C"
' "$B" session play "$sid" --speed 0.5 || rc=$?
[ "$rc" = 0 ] || fail "Ctrl-C during session play did not end it with the reset (status $rc)"
ok

# An administrator ends a live session (bulwark session kill): at once,
# though nothing is happening in it, with the user told; session.kill is
# in the audit log, the end says who ended it, and what was recorded is
# kept. A session that is not open is refused with a clear message.
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("echo KILL$((3*3))ME; sleep 120\n"); expect("KILL9ME")
expect("ended by the gateway: an administrator ended it", 60)
' >"$T/kill.out" 2>&1 &
driver=$!
sid=$(live_session KILL9ME) || fail "the session to end did not start"
sleep 1.5	# idle: nothing is printed while the administrator acts
t0=$(date +%s%N)
"$B" session kill "$sid" >"$T/kill.msg" || fail "session kill $sid: $(cat "$T/kill.msg")"
rc=0
wait "$driver" || rc=$?
t1=$(date +%s%N)
! grep -q "timeout waiting\|EOF waiting" "$T/kill.out" || fail "the user was not told, or the session did not end: $(cat "$T/kill.out")"
[ $(( (t1 - t0) / 1000000 )) -lt 3000 ] || fail "the killed session took $(( (t1 - t0) / 1000000 )) ms to end"
gw_wait_ended || fail "the killed session is still open"
"$B" session list --open | grepq "^no open sessions" || fail "session list --open still lists a session: $("$B" session list --open)"
"$B" log show --dir "$GW_STATE/log" --json >"$T/kill.log"
grep '"action":"session.kill"' "$T/kill.log" | grepq "\"session\":\"$sid\"" ||
	fail "no session.kill event for session $sid"
grep '"action":"session.end"' "$T/kill.log" | grep "\"session\":\"$sid\"" |
	grepq 'ended by an administrator' || fail "the end of session $sid does not say an administrator ended it"
"$B" session play "$sid" --cat | grepq KILL9ME || fail "the killed session's recording was not kept"
! "$B" session kill "$sid" 2>"$T/kill2.err" || fail "a session that has ended was killed again"
grepq "is not open" "$T/kill2.err" || fail "no clear message for a session that is not open: $(cat "$T/kill2.err")"
ok

# An administrator watches a live session (bulwark session watch): what
# it showed before, at once; what it shows next, while it runs (within
# the second the shell takes to send it); the watch ends with the
# session. A session that has ended is refused with what to do instead.
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("echo WATCH$((4*4))START\n"); expect("WATCH16START")
time.sleep(3)
send("echo LIVE$((5*5))NOW\n"); expect("LIVE25NOW"); expect("PROMPT$ ")
time.sleep(4)
send("exit 3\n")
' >"$T/watch.drv" 2>&1 &
driver=$!
sid=$(live_session WATCH16START) || fail "the session to watch did not start"
"$B" session watch "$sid" >"$T/watch.out" 2>"$T/watch.err" &
watcher=$!
! "$B" session play "$sid" --cat >/dev/null 2>"$T/playlive.err" || fail "a live session was played as if complete"
grepq "still running" "$T/playlive.err" || fail "play of a live session does not say it is running: $(cat "$T/playlive.err")"
for i in $(seq 60); do
	grepq LIVE25NOW "$T/watch.out" && break
	sleep 0.1
done
grepq WATCH16START "$T/watch.out" || fail "the watch did not show what came before it: $(cat "$T/watch.err")"
grepq LIVE25NOW "$T/watch.out" || fail "the watch did not show the session's new output"
"$B" session list | awk -v s="$sid" 'NR > 1 && $1 == s && $7 == "-" {f = 1} END {exit !f}' ||
	fail "the new output was seen only after the session had ended: not live"
rc=0
wait "$driver" || rc=$?
[ "$rc" = 3 ] || fail "the watched session did not end normally (status $rc): $(cat "$T/watch.drv")"
for i in $(seq 50); do
	kill -0 "$watcher" 2>/dev/null || break
	sleep 0.1
done
! kill -0 "$watcher" 2>/dev/null || { kill "$watcher"; fail "the watch did not end with the session"; }
wait "$watcher" || fail "the watch failed: $(cat "$T/watch.err")"
grepq "the end of session $sid" "$T/watch.err" || fail "the watch did not say the session ended: $(cat "$T/watch.err")"
! "$B" session watch "$sid" 2>"$T/watch2.err" || fail "an ended session was watched"
grepq "session play $sid" "$T/watch2.err" || fail "no pointer to session play for an ended session: $(cat "$T/watch2.err")"
ok

# A command on a terminal (ssh -t gw login@web1 CMD) runs on one, and is
# recorded like a shell.
rc=0
python3 "$T/drive.py" 'expect("/dev/pts/")' ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" \
	-p "$GW_PORT" -tt 127.0.0.1 "$GW_LOGIN@web1 tty; exit 4" || rc=$?
[ "$rc" = 4 ] || fail "a command with -t did not run on a terminal (status $rc)"
line=$("$B" session list -n 1 | awk 'NR==2')
grep -q " exec " <<<"$line" || fail "not an exec session: $line"
grep -Eq '[0-9a-f]{16}' <<<"$line" || fail "a command on a terminal was not recorded: $line"
ok

# The menu on a terminal: ssh -t alice@gw, pick the target by number.
rc=0
python3 "$T/drive.py" '
expect("Target number"); send("1\n")
expect("$ "); send("echo MENU$((2+3))OK; exit 6\n"); expect("MENU5OK")
' ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" -p "$GW_PORT" -tt 127.0.0.1 || rc=$?
[ "$rc" = 6 ] || fail "the menu did not open the chosen target (status $rc)"
ok

# ---- a recording over the cap --------------------------------------------
kill "$GW_BULWARKD_PID"
wait "$GW_BULWARKD_PID" 2>/dev/null || true
gw_bulwarkd --recording-cap 8192 --recording-cap-notty 8192 || fail "bulwarkd with a recording cap"
rc=0
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("head -c 100000 /dev/zero | tr \"\\\\0\" x; echo; echo STILL$((1+1))ALIVE\n")
expect("STILL2ALIVE", 20); expect("PROMPT$ ")
send("exit 0\n")
' || rc=$?
[ "$rc" = 0 ] || fail "the session over the recording cap did not go on (status $rc)"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session play "$sid" --raw >"$T/cap.cast"
size=$(stat -c %s "$T/cap.cast")
[ "$size" -le $((8192 + 4096)) ] || fail "recording of $size bytes passed the cap"
tail -1 "$T/cap.cast" | grepq '"m".*cap' || fail "no marker at the end of a capped recording: $(tail -c 200 "$T/cap.cast")"
script -qec "asciinema cat $T/cap.cast" /dev/null </dev/null >/dev/null 2>&1 || fail "asciinema cannot read a capped recording"
# The cap is logged when it is reached, before the session's end, and is
# on the alert feed: what follows goes unrecorded, and an administrator
# can watch or end the session meanwhile.
gw_wait_ended || fail "the capped session was not ended"
"$B" log show --dir "$GW_STATE/log" --json | grep "\"session\":\"$sid\"" >"$T/cap.events"
capped=$(grep -n '"action":"session.recording"' "$T/cap.events" | grep '"decision":"capped"' | cut -d: -f1)
ended=$(grep -n '"action":"session.end"' "$T/cap.events" | cut -d: -f1)
[ -n "$capped" ] && [ -n "$ended" ] && [ "$capped" -lt "$ended" ] ||
	fail "no session.recording capped event before the session's end: $(cat "$T/cap.events")"
grepq "capped session.recording: by=\"$ALICE\" .* session=\"$sid\"" "$GW_DIR/bulwarkd.log" ||
	fail "no alert line for the capped recording"
ok

# Without a terminal the session goes on past the cap too, every byte
# still passing both ways once the relay is back to splice.
got=$(head -c 3000000 /dev/urandom | ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" -p "$GW_PORT" \
	127.0.0.1 "$GW_LOGIN@web1" 'wc -c; head -c 2000000 /dev/zero' | wc -c)
[ "$got" = $((2000000 + 8)) ] || fail "bytes lost past the cap without a terminal: $got"
gw_wait_ended || fail "the session past the cap was not ended"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session show "$sid" | grep '^bytes in' | grepq -w 3000000 || fail "bytes in past the cap: $("$B" session show "$sid")"
"$B" session play "$sid" --raw >"$T/cap2.cast"
size=$(stat -c %s "$T/cap2.cast")
[ "$size" -le $((8192 + 4096)) ] || fail "recording of $size bytes passed the cap"
tail -1 "$T/cap2.cast" | grepq '"m".*cap' || fail "no marker at the end of a capped recording without a terminal"
ok

# ---- the disk reserve: recordings cannot fill the audit log's disk -------
# The recordings' directory on a 24 MiB tmpfs. A reserve larger than it
# refuses recorded sessions; a 20 MiB one ends a session whose recording
# has taken 4 MiB, with the reason in session.end.
kill "$GW_BULWARKD_PID"
wait "$GW_BULWARKD_PID" 2>/dev/null || true
RESERVE_MNT=$GW_STATE/rec
mount -t tmpfs -o size=24m,mode=0700,uid="$(id -u "$GW_SVC")",gid="$(id -g "$GW_SVC")" \
	bwt-reserve "$RESERVE_MNT" || fail "cannot mount a tmpfs for the disk-reserve check"
gw_bulwarkd --disk-reserve $((64 * 1024 * 1024)) || fail "bulwarkd with a large disk reserve"
rc=0
ssh -F /dev/null -o ControlPath="$CM" -l "$ALICE" -p "$GW_PORT" 127.0.0.1 "$GW_LOGIN@web1" true \
	2>"$T/reserve.err" || rc=$?
[ "$rc" != 0 ] || fail "a recorded session opened under the disk reserve"
grepq "short of disk space" <"$T/reserve.err" || fail "no reason for the user: $(cat "$T/reserve.err")"
grepq "under the reserve of 64 MiB" <"$GW_DIR/bulwarkd.log" || fail "bulwarkd's log does not say why"
kill "$GW_BULWARKD_PID"
wait "$GW_BULWARKD_PID" 2>/dev/null || true
gw_bulwarkd --disk-reserve $((20 * 1024 * 1024)) || fail "bulwarkd with a disk reserve"
rc=0
drive '
send("PS1=PROMPT\\$\\ \n"); expect("PROMPT$ ")
send("head -c 12000000 /dev/zero | tr \"\\\\0\" x; echo; sleep 5\n")
expect("the gateway did not accept its recording", 60)
' >"$T/reserve.out" 2>&1 || rc=$?
# drive exits 100 or 101 when the message never came.
[ "$rc" != 100 ] && [ "$rc" != 101 ] ||
	fail "the session was not ended at the disk reserve: $(tail -c 300 "$T/reserve.out")"
gw_wait_ended || fail "the session ended at the reserve was left open"
"$B" log show --dir "$GW_STATE/log" --json | grep '"action":"session.end"' | tail -n 1 |
	grepq '"reason":"disk reserve reached"' || fail "session.end does not say the reserve ended it"
sid=$("$B" session list -n 1 | awk 'NR==2 {print $1}')
"$B" session play "$sid" --raw | wc -c >"$T/reserve.size"
[ "$(cat "$T/reserve.size")" -ge $((3 * 1024 * 1024)) ] ||
	fail "the recording before the reserve was not kept ($(cat "$T/reserve.size") bytes)"
ok
done_checks
