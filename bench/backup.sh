#!/usr/bin/env bash
# Backup benchmark: Bulwark's backup against restic and borg, in the same
# run, on the same corpus, over the same transports, with the ratios and
# the physical limits measured on this machine.
#
#   bench/backup.sh [BUILD_DIR]         (default: build-release, built here
#                                        when its bulwark is missing)
#
#   SCALE=F        corpus scale (default 1: about 1.4 GB in about 40,000
#                  files, see bench/mkcorpus.py)
#   TOOLS=LIST     tools to run (default "bulwark restic borg")
#   TRANSPORTS=L   "local" (repository on this file system) and/or "ssh"
#                  (repository behind a dedicated sshd on 127.0.0.1, owned
#                  by a Unix user of its own) (default "local ssh")
#   BENCH_DIR=DIR  work directory, must not exist or be empty (default
#                  /var/tmp/bwbench.<pid>; /tmp and /var/tmp are the root
#                  file system here, so the repositories are measured on it)
#   KEEP=1         keep the work directory (logs, repositories) at exit
#   SETTLE=S       idle seconds before each timed step (default 0)
#
# The corpus (bench/mkcorpus.py, deterministic): Maildirs with list mail
# delivered byte-identically to many users, copies of this machine's
# binaries and libraries, a sparse VM image and a clone of it with 5% of
# its blocks rewritten. For every tool and transport, in this order:
#   1. init a repository; the first backup of the corpus, all tools and
#      transports one after the other;
#   2. mkcorpus.py --mutate (about 1% of the files: new, rewritten, renamed
#      and deleted mail, upgraded binaries, 20 regions of clone.img), once;
#   3. the second backup, all tools and transports;
#   4. a full restore of the second snapshot into an empty directory,
#      checked against the mutated corpus (sorted manifest of types, modes,
#      symlink targets and SHA-256 of every file: FAIL if it differs; the
#      run goes on); restores stay until the end of the run (see
#      restore_and_check).
# Measured: wall time of each backup and restore, the repository's size
# after each backup (du -sb), the backup client's peak RSS (/usr/bin/time
# %M: the largest process of the client; for ssh the server side's program
# - sftp-server, borg serve, bulwark vault receive - is measured the same
# way through a wrapper and shown apart), and the physical limits on the
# same warm corpus: tar | zstd -3 -T2 and cat | sha256sum, in MiB/s.
#
# Page cache: before every backup the caches are dropped and the corpus is
# read in full again, so each tool reads the same warm corpus and nothing
# else is cached (the share of the corpus in the page cache is printed,
# fincore). Restores start from a cold cache: a restore after a disaster
# reads a repository nobody has read for a while, and Bulwark's vault
# writes packs past the page cache, so a warm cache would favour the
# others. An untimed sync follows every timed step, so that one tool's
# writeback does not land in the next one's time.
#
# Why the caches are dropped before every step: this VM's host takes back
# guest memory that stays free for a second or two (virtio-balloon free
# page reporting), and the next process to touch such memory pays a host
# fault per page. What the step before had cached and freed decided how
# much of it a tool got: Bulwark's first backup over ssh took 7.4 s alone,
# 10.6 s right after a borg backup, 7.3 s after dropping the caches. With
# the caches dropped, every tool starts from the same memory. SETTLE=S
# adds S seconds of idle before each timed step (default 0).
#
# Settings: restic 0.14 repository format 2 (compression auto = zstd),
# its default chunker; borg repokey-blake2 with its default compression
# (lz4) and chunker; Bulwark's defaults. Passwords from RESTIC_PASSWORD,
# BORG_PASSPHRASE and a passphrase file. Restores: borg extract --sparse;
# restic 0.14 has no sparse restore; Bulwark restores holes. Over ssh,
# restic and borg restore through the transport, while `bulwark restore`
# reads the vault directory where it is: by design the vault is not
# readable from the host that sends to it.
#
# Everything it creates system-wide is named bwb<pid> (a Unix user and its
# group, owning the ssh side's repositories, home in the work directory)
# and goes at exit with the sshd it started and the work directory, also
# on failure. Loopback only; the machine's own sshd is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
SCALE=${SCALE:-1}
TOOLS=${TOOLS:-bulwark restic borg}
TRANSPORTS=${TRANSPORTS:-local ssh}
KEEP=${KEEP:-0}
SETTLE=${SETTLE:-0}
W=${BENCH_DIR:-/var/tmp/bwbench.$$}
U=bwb$$
CMDLINE="SCALE=$SCALE TOOLS=\"$TOOLS\" TRANSPORTS=\"$TRANSPORTS\" bench/backup.sh $BUILD"

log() { echo "[backup-bench $(date +%T)] $*" >&2; }
die() { echo "backup bench: $*" >&2; exit 1; }

for x in $TOOLS; do
	case $x in bulwark|restic|borg) ;; *) die "unknown tool '$x' in TOOLS" ;; esac
done
for x in $TRANSPORTS; do
	case $x in local|ssh) ;; *) die "unknown transport '$x' in TRANSPORTS" ;; esac
done
awk -v s="$SCALE" 'BEGIN { exit !(s + 0 > 0) }' || die "SCALE must be a number > 0"
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }	# has WORD LIST

[ "$(id -u)" = 0 ] || die "run as root (it installs packages, makes a Unix user, runs an sshd)"
W_EXISTED=0
if [ -e "$W" ]; then
	[ -d "$W" ] && [ -z "$(ls -A "$W")" ] || die "$W exists and is not an empty directory"
	W_EXISTED=1
fi
! id "$U" >/dev/null 2>&1 || die "user $U exists already"

./scripts/deps.sh --bench >/dev/null

# --- build (only the bulwark target); always, so that a stale binary is
# never what gets measured (an incremental build is quick)
B=
if has bulwark "$TOOLS"; then
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		log "configuring $BUILD (Release)"
		cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	fi
	log "building bulwark in $BUILD"
	cmake --build "$BUILD" -j"$(nproc)" --target bulwark >/dev/null
	B=$(realpath "$BUILD/bulwark")
fi

# --- work directory, cleanup
SSHD_PID=
USER_MADE=0
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$SSHD_PID" ]; then
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
	fi
	if [ "$USER_MADE" = 1 ]; then
		pkill -KILL -u "$U" 2>/dev/null
		sleep 0.2
		if [ "$KEEP" = 1 ]; then
			userdel "$U" >/dev/null 2>&1
		else
			userdel -r "$U" >/dev/null 2>&1
		fi
		id "$U" >/dev/null 2>&1 && echo "backup bench: could not remove user $U" >&2
	fi
	if [ "$KEEP" = 1 ]; then
		echo "backup bench: kept $W" >&2
	elif [ "$W_EXISTED" = 1 ]; then
		find "$W" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$W"
W=$(realpath "$W")
chmod 0711 "$W"		# the ssh user reaches its home under it
C=$W/corpus
mkdir -p "$W/res" "$W/log" "$W/keys" "$W/cache" "$W/repos/local"
chmod 0700 "$W/keys" "$W/res" "$W/log" "$W/cache" "$W/repos"

# Space: the corpus, a restore, and up to one repository per tool and
# transport, each about the corpus's size at worst.
need=$(awk -v s="$SCALE" -v n="$(($(wc -w <<<"$TOOLS") * $(wc -w <<<"$TRANSPORTS") + 2))" \
	'BEGIN { printf "%d", s * 1.5 * 1024 * 1024 * n }')	# KiB
avail=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
[ "$avail" -ge "$need" ] || die "$W: $((avail / 1024)) MiB free, about $((need / 1024)) MiB needed"

export RESTIC_PASSWORD=bwbench-restic-$$
export BORG_PASSPHRASE=bwbench-borg-$$
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
head -c 24 /dev/urandom | base64 >"$W/keys/bulwark.pass"
chmod 0600 "$W/keys/bulwark.pass"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "-"; else printf "%.2f", a / b }'; }
mib() { awk -v a="$1" 'BEGIN { if (a == "") print "-"; else printf "%.1f", a / 1048576 }'; }
kmib() { awk -v a="$1" 'BEGIN { if (a == "") print "-"; else printf "%.1f", a / 1024 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) print "-"; else printf "%.1f", b / 1048576 / s }'; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.2f", e - s }'; }
# cached: "X of Y MiB (Z%)": the corpus's files' pages in the page cache,
# of their sizes in pages
cached() {
	find "$C" -type f -print0 | xargs -0 -r fincore -b -n -r -o RES,SIZE |
		awk '{ r += $1; a += int(($2 + 4095) / 4096) * 4096 }
			END { printf "%.0f of %.0f MiB (%.0f%%)", r / 1048576, a / 1048576, (a > 0 ? r / a * 100 : 0) }'
}

# --- 1. the corpus
log "generating the corpus (scale $SCALE) in $C"
s=$EPOCHREALTIME
python3 bench/mkcorpus.py "$C" --scale "$SCALE" >"$W/log/mkcorpus" || { cat "$W/log/mkcorpus" >&2; die "mkcorpus.py failed"; }
e=$EPOCHREALTIME
GEN_S=$(secs "$s" "$e")
GEN_OUT=$(cat "$W/log/mkcorpus")
sync
NFILES=$(find "$C" -type f | wc -l)
CBYTES=$(du -sb "$C" | cut -f1)			# apparent, hard links once
CALLOC=$(du -sB1 "$C" | cut -f1)
CATBYTES=$(find "$C" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }')
log "corpus: $NFILES files, $(mib "$CBYTES") MiB ($(mib "$CALLOC") MiB allocated) in ${GEN_S} s"

# --- 2. physical limits, on the warm corpus (the first read warms it)
log "physical limits: tar | zstd -3 -T2, cat | sha256sum"
find "$C" -type f -print0 | xargs -0 cat >/dev/null
CACHE1=$(cached)
sync
s=$EPOCHREALTIME
tar -C "$C" -cf - . | zstd -3 -T2 -q >/dev/null
e=$EPOCHREALTIME
ZSTD_S=$(secs "$s" "$e")
ZSTD_BYTES=$(tar -C "$C" -cf - . | zstd -3 -T2 -q | wc -c)
s=$EPOCHREALTIME
find "$C" -type f -print0 | xargs -0 cat | sha256sum >/dev/null
e=$EPOCHREALTIME
SHA_S=$(secs "$s" "$e")
ZSTD_RATE=$(rate "$CBYTES" "$ZSTD_S")
SHA_RATE=$(rate "$CATBYTES" "$SHA_S")
log "tar | zstd -3 -T2: $ZSTD_RATE MiB/s; sha256sum: $SHA_RATE MiB/s"

# --- the ssh side: a user, keys, a dedicated sshd on 127.0.0.1
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$SSHD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
SSH_OPTS=()
RSSD=$W/home/rss
if has ssh "$TRANSPORTS"; then
	log "ssh side: user $U, sshd on 127.0.0.1"
	useradd --create-home --home-dir "$W/home" --password '*' --shell /bin/bash "$U"
	USER_MADE=1
	install -d -m 0700 -o "$U" -g "$(id -gn "$U")" "$W/home/repos" "$RSSD"
	for x in bulwark restic borg; do
		install -m 0644 -o "$U" /dev/null "$RSSD/$x"
		ssh-keygen -q -t ed25519 -N '' -C "bwbench-$x" -f "$W/keys/$x"
	done
	mkdir -p "$W/sshd"
	chmod 0755 "$W/sshd"
	ssh-keygen -q -t ed25519 -N '' -C bwbench-host -f "$W/sshd/host_key"
	PORT=2290
	if ! port_free "$PORT"; then
		PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	fi
	cat >"$W/sshd/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/sshd/host_key
PidFile none
UsePAM no
StrictModes no
PermitRootLogin no
AllowUsers $U
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $W/sshd/authorized_keys
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
	# restic's and borg's keys log in plainly; Bulwark's line is added
	# at enrolment (a forced command).
	{
		echo "$(cat "$W/keys/restic.pub")"
		echo "$(cat "$W/keys/borg.pub")"
	} >"$W/sshd/authorized_keys"
	chmod 0644 "$W/sshd/authorized_keys"
	install -d -m 0755 /run/sshd
	/usr/sbin/sshd -f "$W/sshd/sshd_config" -D -e 2>>"$W/log/sshd" &
	SSHD_PID=$!
	wait_port "$PORT" || { tail -n 20 "$W/log/sshd" >&2; die "sshd did not start on 127.0.0.1:$PORT"; }
	SSH_OPTS=(-F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
	out=$(ssh "${SSH_OPTS[@]}" -p "$PORT" -i "$W/keys/restic" "$U@127.0.0.1" 'echo ok-$(id -un)' </dev/null 2>>"$W/log/ssh") ||
		{ tail -n 20 "$W/log/sshd" "$W/log/ssh" >&2; die "ssh to $U@127.0.0.1:$PORT does not work"; }
	[ "$out" = "ok-$U" ] || die "ssh: unexpected output: $out"
	SSH_CIPHER=$(ssh -v "${SSH_OPTS[@]}" -p "$PORT" -i "$W/keys/restic" "$U@127.0.0.1" true </dev/null 2>&1 |
		grep -m1 -o 'kex: server->client cipher: [^ ]* MAC: [^ ]*' | sed 's/kex: server->client cipher: //' || true)
fi

# --- the tools. Each tool/transport pair: REPO_<pair>, its cache, and
# failures in FAILED[pair] (the pair's later steps are skipped).
declare -A FAILED=() REPO=() CACHE=()
for t in $TRANSPORTS; do
	for tool in $TOOLS; do
		p=$tool.$t
		CACHE[$p]=$W/cache/$p
		mkdir -p "${CACHE[$p]}"
		if [ "$t" = local ]; then
			REPO[$p]=$W/repos/local/$tool
		else
			REPO[$p]=$W/home/repos/$tool
		fi
	done
done

# restic_cmd T: the restic command for transport T, in the array RC
restic_cmd() {
	RC=(restic --cache-dir "${CACHE[restic.$1]}")
	if [ "$1" = local ]; then
		RC+=(-r "${REPO[restic.local]}")
	else
		RC+=(-r "sftp:$U@127.0.0.1:${REPO[restic.ssh]}"
			-o "sftp.command=ssh ${SSH_OPTS[*]} -p $PORT -i $W/keys/restic $U@127.0.0.1 /usr/bin/time -a -o $RSSD/restic -f %M /usr/lib/openssh/sftp-server")
	fi
}
# borg_cmd T: env + borg for transport T in BC, the repository in BR
borg_cmd() {
	BC=(env "BORG_BASE_DIR=${CACHE[borg.$1]}")
	if [ "$1" = local ]; then
		BR=${REPO[borg.local]}
	else
		BC+=("BORG_RSH=ssh ${SSH_OPTS[*]} -i $W/keys/borg"
			"BORG_REMOTE_PATH=/usr/bin/time -a -o $RSSD/borg -f %M borg")
		BR=ssh://$U@127.0.0.1:$PORT${REPO[borg.ssh]}
	fi
	BC+=(borg)
}
# bulwark_vault T: the --vault argument and ssh options in BV
bulwark_vault() {
	if [ "$1" = local ]; then
		BV=(--vault "${REPO[bulwark.local]}")
	else
		BV=(--vault "$U@127.0.0.1:${REPO[bulwark.ssh]}" --ssh-identity "$W/keys/bulwark"
			--ssh-option "Port=$PORT" --ssh-option StrictHostKeyChecking=no
			--ssh-option UserKnownHostsFile=/dev/null --ssh-option IdentitiesOnly=yes
			--ssh-option BatchMode=yes)
	fi
}

# fail PAIR STEP: records the failure and shows the step's log
fail() {
	FAILED[$1]="$2"
	log "FAIL: $1 $2 (log: $W/log/$1.$2)"
	tail -n 15 "$W/log/$1.$2" >&2 || true
}
# run PAIR STEP CMD...: runs CMD, output to the step's log; writes
# "seconds peak-RSS-KiB" to $W/res/PAIR.STEP; returns CMD's status.
run() {
	local pair=$1 step=$2 s e rc=0 rss
	shift 2
	case $step in
	backup*|restore)
		# Every tool starts from the same state (see "Settling" above):
		# nothing cached but the corpus, for a backup.
		sync
		echo 3 >/proc/sys/vm/drop_caches
		if [ "$step" != restore ]; then
			find "$C" -type f -print0 | xargs -0 cat >/dev/null
		fi
		sleep "$SETTLE"
		;;
	esac
	s=$EPOCHREALTIME
	/usr/bin/time -o "$W/res/$pair.$step.time" -f %M "$@" </dev/null >"$W/log/$pair.$step" 2>&1 || rc=$?
	e=$EPOCHREALTIME
	rss=$(grep -E '^[0-9]+$' "$W/res/$pair.$step.time" | tail -n 1 || true)
	echo "$(secs "$s" "$e") ${rss:-0}" >"$W/res/$pair.$step"
	sync
	return "$rc"
}
# server_rss TOOL PAIR STEP: the ssh side's peak RSS during the step
server_rss() {
	local i v=
	for i in $(seq 20); do	# the wrapper writes when the server exits
		v=$(grep -E '^[0-9]+$' "$RSSD/$1" 2>/dev/null | sort -n | tail -n 1 || true)
		[ -n "$v" ] && break
		sleep 0.1
	done
	echo "${v:-}" >"$W/res/$2.$3.srss"
	: >"$RSSD/$1"
}

tool_init() {	# tool_init TOOL T
	local tool=$1 t=$2 p=$1.$2 line
	case $tool in
	restic)
		restic_cmd "$t"
		run "$p" init "${RC[@]}" init --repository-version 2 || return 1
		;;
	borg)
		borg_cmd "$t"
		run "$p" init "${BC[@]}" init --encryption=repokey-blake2 "$BR" || return 1
		;;
	bulwark)
		# init and enroll as root (enroll reads keys/repo.key); over ssh
		# the vault then belongs to the ssh user, but for its keys.
		mkdir -p "$(dirname "${REPO[$p]}")"
		run "$p" init "$B" vault init "${REPO[$p]}" --admin-key "$W/keys/bulwark-admin.$t.key" \
			--passphrase-file "$W/keys/bulwark.pass" || return 1
		[ -f "$W/keys/bulwark.pub" ] || ssh-keygen -q -t ed25519 -N '' -C bwbench-bulwark -f "$W/keys/bulwark"
		run "$p" enroll "$B" vault enroll "bwbench-$t" --dir "${REPO[$p]}" \
			--ssh-key "$W/keys/bulwark.pub" --out "$W/keys/bulwark-agent.$t.conf" || { fail "$p" enroll; return 2; }
		if [ "$t" = ssh ]; then
			line=$(grep -m1 'command="' "$W/log/$p.enroll" || true)
			[ -n "$line" ] || { echo "no authorized_keys line in the output" >>"$W/log/$p.enroll"; fail "$p" enroll; return 2; }
			grep -qF "$(cut -d' ' -f2 "$W/keys/bulwark.pub")" <<<"$line" ||
				{ echo "the authorized_keys line is not for $W/keys/bulwark.pub" >>"$W/log/$p.enroll"; fail "$p" enroll; return 2; }
			if grep -q 'command="bulwark ' <<<"$line"; then
				line=$(sed "s#command=\"bulwark #command=\"$B #" <<<"$line")
			fi
			# the server side's peak RSS, as for restic's and borg's
			line=$(sed "s#command=\"#command=\"/usr/bin/time -a -o $RSSD/bulwark -f %M #" <<<"$line")
			echo "$line" >>"$W/sshd/authorized_keys"
			chown -R "$U:" "${REPO[$p]}"
			if [ -d "${REPO[$p]}/keys" ]; then
				chown root:root "${REPO[$p]}/keys"
				chmod 0711 "${REPO[$p]}/keys"
				if [ -e "${REPO[$p]}/keys/repo.key" ]; then
					chown root:root "${REPO[$p]}/keys/repo.key"
					chmod 0600 "${REPO[$p]}/keys/repo.key"
				fi
			fi
		fi
		;;
	esac
}

tool_backup() {	# tool_backup TOOL T N
	local tool=$1 t=$2 n=$3 p=$1.$2
	if [ "$t" = ssh ]; then : >"$RSSD/$tool"; fi
	case $tool in
	restic)
		restic_cmd "$t"
		run "$p" "backup$n" "${RC[@]}" backup --host bwbench "$C" || return 1
		;;
	borg)
		borg_cmd "$t"
		run "$p" "backup$n" "${BC[@]}" create "$BR::backup$n" "$C" || return 1
		;;
	bulwark)
		bulwark_vault "$t"
		run "$p" "backup$n" "$B" backup "$C" --config "$W/keys/bulwark-agent.$t.conf" \
			"${BV[@]}" --cache "${CACHE[$p]}" || return 1
		;;
	esac
	if [ "$t" = ssh ]; then server_rss "$tool" "$p" "backup$n"; fi
	du -sb "${REPO[$p]}" | cut -f1 >"$W/res/$p.size$n"
	du -sb "${CACHE[$p]}" | cut -f1 >"$W/res/$p.cache$n"
}

tool_restore() {	# tool_restore TOOL T DEST
	local tool=$1 t=$2 d=$3 p=$1.$2 id
	mkdir -p "$d"
	case $tool in
	restic)
		restic_cmd "$t"
		run "$p" restore "${RC[@]}" restore latest --target "$d" || return 1
		;;
	borg)
		borg_cmd "$t"
		run "$p" restore env -C "$d" "${BC[@]}" extract --sparse "$BR::backup2" || return 1
		;;
	bulwark)
		"$B" snapshots --vault "${REPO[$p]}" >"$W/log/$p.snapshots" 2>&1 ||
			{ fail "$p" snapshots; return 2; }
		id=$(awk 'NF && $1 != "ID" { id = $1 } END { print id }' "$W/log/$p.snapshots")
		[ -n "$id" ] || { echo "no snapshot listed" >>"$W/log/$p.snapshots"; fail "$p" snapshots; return 2; }
		echo "$id" >"$W/res/$p.snapshot"
		run "$p" restore "$B" restore "$id" --vault "${REPO[$p]}" --key "$W/keys/bulwark-admin.$t.key" \
			--passphrase-file "$W/keys/bulwark.pass" --to "$d" || return 1
		;;
	esac
}

# manifest DIR: types, modes, symlink targets, SHA-256 of every file
manifest() {
	(
		cd "$1"
		find . -mindepth 1 -printf '%y %m %p %l\n' | LC_ALL=C sort -k3
		find . -type f -print0 | xargs -0 -r -n 256 -P 2 sha256sum | LC_ALL=C sort -k2
	)
}
# restored_root DEST: where the corpus landed in a restore to DEST
restored_root() {
	local d
	for d in "$1$C" "$1/corpus" "$1"; do
		if [ -d "$d/mail" ] && [ -d "$d/vm" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# each WHAT FUNC [ARGS]: FUNC TOOL T [ARGS] for every pair not failed yet;
# FUNC returns 1 when a timed step failed (recorded here as LAST_STEP),
# 2 when it recorded the failure itself
each() {
	local what=$1 fn=$2 t tool rc
	shift 2
	for t in $TRANSPORTS; do
		for tool in $TOOLS; do
			[ -z "${FAILED[$tool.$t]:-}" ] || continue
			log "$what: $tool, $t"
			rc=0
			"$fn" "$tool" "$t" "$@" || rc=$?
			if [ "$rc" = 1 ]; then
				fail "$tool.$t" "$LAST_STEP"
			fi
		done
	done
}

LAST_STEP=init
each "init" tool_init
LAST_STEP=backup1
each "first backup" tool_backup 1

log "mutating the corpus"
s=$EPOCHREALTIME
python3 bench/mkcorpus.py --mutate "$C" --scale "$SCALE" >"$W/log/mutate" || { cat "$W/log/mutate" >&2; die "mkcorpus.py --mutate failed"; }
e=$EPOCHREALTIME
MUT_S=$(secs "$s" "$e")
MUT_OUT=$(cat "$W/log/mutate")
sync
find "$C" -type f -print0 | xargs -0 cat >/dev/null
CACHE2=$(cached)
NFILES2=$(find "$C" -type f | wc -l)
CBYTES2=$(du -sb "$C" | cut -f1)

LAST_STEP=backup2
each "second backup" tool_backup 2

log "manifest of the mutated corpus"
manifest "$C" >"$W/manifest.corpus"
declare -A CHECK=()
restore_and_check() {	# restore_and_check TOOL T
	local tool=$1 t=$2 p=$1.$2 d=$W/restore.$1.$2 r rc=0 n
	tool_restore "$tool" "$t" "$d" || rc=$?
	if [ "$rc" = 0 ]; then
		if r=$(restored_root "$d"); then
			manifest "$r" >"$W/manifest.$p"
			if cmp -s "$W/manifest.corpus" "$W/manifest.$p"; then
				CHECK[$p]=OK
			else
				n=$(diff "$W/manifest.corpus" "$W/manifest.$p" | grep -c '^[<>]' || true)
				CHECK[$p]="FAIL ($n manifest lines differ)"
				log "FAIL: $p restore differs from the corpus: $n manifest lines; first ones:"
				diff "$W/manifest.corpus" "$W/manifest.$p" | grep '^[<>]' | head -n 10 >&2 || true
			fi
			# a sparse restore: the images' allocated size
			du -sB1 "$r/vm" | cut -f1 >"$W/res/$p.vmalloc"
		else
			CHECK[$p]="FAIL (corpus not found under $d)"
			log "FAIL: $p: no corpus under $d"
			find "$d" -maxdepth 4 | head -n 10 >&2
		fi
	fi
	# Not removed until the end of the run: ext4 without a journal (this
	# machine's root) skips every inode freed in the last half minute
	# when it allocates one, so 39,000 files created right after another
	# tool's 39,000 were removed cost far more - the next tool's restore
	# would pay for this one's cleanup.
	return "$rc"
}
LAST_STEP=restore
each "restore" restore_and_check

# --- the tables
get() { [ -f "$W/res/$1" ] && cut -d' ' -f"${2:-1}" "$W/res/$1" || true; }
cell() {	# cell PAIR STEP: a table cell for a pair's step (value or FAIL/-)
	local v=$3
	if [ -n "${FAILED[$1]:-}" ] && [ -z "$v" ]; then echo FAIL; elif [ -z "$v" ]; then echo -; else echo "$v"; fi
}
# goal RATIO OP LIMIT: "[>= 2.00] met" etc.
goal() {
	local m=
	if [ "$1" != - ]; then
		if awk -v r="$1" -v l="$3" -v o="$2" 'BEGIN { exit !((o == ">=") ? r >= l : r <= l) }'; then m=" met"; else m=" missed"; fi
	fi
	echo "[$2 $3]$m"
}
maxrss() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" && b == "") print ""; else print (a + 0 > b + 0 ? a : b) }'; }

FMT='%-34s %10s %10s %10s   %-15s %6s  %s\n'
table() {	# table T
	local t=$1 row tool v r
	declare -A val=()
	for tool in bulwark restic borg; do
		local p=$tool.$t
		has "$tool" "$TOOLS" || continue
		val[$tool.b1]=$(get "$p.backup1")
		val[$tool.b2]=$(get "$p.backup2")
		val[$tool.rs]=$(get "$p.restore")
		val[$tool.size1]=$(get "$p.size1")
		val[$tool.size]=$(get "$p.size2")
		val[$tool.rss]=$(maxrss "$(get "$p.backup1" 2)" "$(get "$p.backup2" 2)")
		val[$tool.srss]=$(maxrss "$(get "$p.backup1.srss")" "$(get "$p.backup2.srss")")
		val[$tool.cache]=$(get "$p.cache2")
		val[$tool.rate]=$( [ -n "${val[$tool.b1]}" ] && rate "$CBYTES" "${val[$tool.b1]}" || true)
	done
	c() { local tool=$1 k=$2 f=${3:-} v; has "$tool" "$TOOLS" || { echo "-"; return; }
		v=${val[$tool.$k]:-}; [ -n "$v" ] && [ -n "$f" ] && v=$($f "$v"); cell "$tool.$t" "$k" "$v"; }
	if [ "$t" = local ]; then
		echo "transport: local (repository on $(df -PT "$W" | awk 'NR == 2 { print $2 }') in $W)"
	else
		echo "transport: ssh (127.0.0.1:$PORT, dedicated sshd, repositories owned by $U; cipher ${SSH_CIPHER:-?})"
	fi
	printf "$FMT" "" bulwark restic borg "ratio" "" "goal"
	for row in "b1:first backup (s)" "b2:second backup (s)" "rs:restore (s)"; do
		k=${row%%:*}
		r=$(ratio "${val[restic.$k]:-}" "${val[bulwark.$k]:-}")
		case $k in b1) g=$(goal "$r" ">=" 2.00) ;; b2) g=$(goal "$r" ">=" 3.00) ;; rs) g=$(goal "$r" ">=" 2.00) ;; esac
		printf "$FMT" "${row#*:}" "$(c bulwark "$k")" "$(c restic "$k")" "$(c borg "$k")" "restic/bulwark" "$r" "$g"
	done
	r=$(ratio "${val[bulwark.size]:-}" "${val[restic.size]:-}")
	printf "$FMT" "repository size (MiB)" "$(c bulwark size mib)" "$(c restic size mib)" "$(c borg size mib)" \
		"bulwark/restic" "$r" "$(goal "$r" "<=" 1.00)"
	r=$(ratio "${val[bulwark.rss]:-}" "${val[restic.rss]:-}")
	printf "$FMT" "peak RSS, backup client (MiB)" "$(c bulwark rss kmib)" "$(c restic rss kmib)" "$(c borg rss kmib)" \
		"bulwark/restic" "$r" "$(goal "$r" "<=" 1.00)"
	echo "  not goals:"
	printf "$FMT" "first backup (MiB/s)" "$(c bulwark rate)" "$(c restic rate)" "$(c borg rate)" \
		"bulwark/restic" "$(ratio "${val[bulwark.rate]:-}" "${val[restic.rate]:-}")" ""
	printf "$FMT" "repository after 1st backup (MiB)" "$(c bulwark size1 mib)" "$(c restic size1 mib)" "$(c borg size1 mib)" \
		"bulwark/restic" "$(ratio "${val[bulwark.size1]:-}" "${val[restic.size1]:-}")" ""
	if [ "$t" = ssh ]; then
		printf "$FMT" "peak RSS, ssh side's program (MiB)" "$(c bulwark srss kmib)" "$(c restic srss kmib)" "$(c borg srss kmib)" \
			"bulwark/restic" "$(ratio "${val[bulwark.srss]:-}" "${val[restic.srss]:-}")" ""
	fi
	printf "$FMT" "client cache (MiB)" "$(c bulwark cache mib)" "$(c restic cache mib)" "$(c borg cache mib)" "" "" ""
	printf "%-34s" "restore check"
	for tool in bulwark restic borg; do
		if ! has "$tool" "$TOOLS"; then v=-; elif [ -n "${CHECK[$tool.$t]:-}" ]; then v=${CHECK[$tool.$t]%% *};
		elif [ -n "${FAILED[$tool.$t]:-}" ]; then v=FAIL; else v=-; fi
		printf " %10s" "$v"
	done
	echo
	for tool in bulwark restic borg; do
		p=$tool.$t
		if [ -n "${FAILED[$p]:-}" ]; then
			echo "  $tool: FAIL at ${FAILED[$p]}: $(grep -v '^Command exited' "$W/log/$p.${FAILED[$p]}" 2>/dev/null | grep . | tail -n 1 | cut -c1-160)"
			echo "    (log: $W/log/$p.${FAILED[$p]}$([ "$KEEP" = 1 ] || echo ', removed at exit; KEEP=1 keeps it'))"
		fi
		case ${CHECK[$p]:-} in FAIL*) echo "  $tool: restore ${CHECK[$p]}" ;; esac
		if [ -f "$W/res/$p.vmalloc" ]; then
			echo "  $tool: restored vm/ allocates $(mib "$(cat "$W/res/$p.vmalloc")") MiB (corpus: $(mib "$(du -sB1 "$C/vm" | cut -f1)") MiB)"
		fi
	done
	echo
}

ver() { "$@" 2>&1 | head -n 1; }
echo
echo "bulwark backup benchmark"
echo "command: $CMDLINE"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "corpus: $NFILES files, $(mib "$CBYTES") MiB apparent ($(mib "$CALLOC") MiB allocated), made in $GEN_S s;"
echo "        after the mutation ($MUT_S s): $NFILES2 files, $(mib "$CBYTES2") MiB"
echo "        ${GEN_OUT#mkcorpus: }"
echo "        ${MUT_OUT#mkcorpus: }"
echo "page cache: dropped before each timed step, then the corpus read again before a backup (restores start cold);"
echo "        corpus in the page cache before the first backups:"
echo "        $CACHE1, before the second backups: $CACHE2 (pages of all files, holes read included)"
echo "physical limits (warm): tar | zstd -3 -T2 $ZSTD_RATE MiB/s ($ZSTD_S s, $(mib "$ZSTD_BYTES") MiB out, ratio $(ratio "$CBYTES" "$ZSTD_BYTES"));"
echo "        find | xargs cat | sha256sum $SHA_RATE MiB/s ($SHA_S s, $(mib "$CATBYTES") MiB)"
echo
for t in $TRANSPORTS; do
	table "$t"
done
echo "ratios: restic/bulwark for times (> 1: bulwark faster), bulwark/restic for size and memory (< 1: bulwark smaller)"
echo "times: wall clock of the command, then an untimed sync; peak RSS: /usr/bin/time %M of the client"
echo "(restic and its ssh; borg and its ssh; bulwark), the largest process counted; restore of the second snapshot"
echo "settings: restic repository v2 (compression auto: zstd), borg repokey-blake2 with its default lz4,"
echo "          borg extract --sparse; over ssh bulwark restores from the vault directory where it is"
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo),"
echo "         kernel $(uname -r), $(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }')"
echo "versions: $(ver restic version); $(ver borg --version); $(ver zstd --version | sed 's/^\*\*\* //; s/, by .*//'); $(ver ssh -V); $(ver tar --version); python $(python3 -c 'import platform; print(platform.python_version())')"
if [ -n "$B" ]; then
	echo "          $(ver "$B" version) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (modified src)')"
fi
nfail=0
for k in "${!FAILED[@]}"; do nfail=$((nfail + 1)); done
for k in "${!CHECK[@]}"; do [ "${CHECK[$k]}" = OK ] || nfail=$((nfail + 1)); done
log "done$([ "$nfail" = 0 ] || echo ", $nfail failures")"
[ "$nfail" = 0 ]
