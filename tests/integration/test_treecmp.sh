#!/usr/bin/env bash
# treecmp.py is what the restore tests trust to say "exact", so it must be
# seen to fail: a tree with every kind of entry is copied with cp -a (which
# treecmp must call identical), then each fresh copy gets one change, and
# treecmp must exit 1 naming that path and that kind of difference, and
# nothing else. Times that the change disturbs in passing (the file's own
# mtime, its directory's) are put back, so that only the change counts.
#
# Needs root for the device, the file owned by nobody and the owner checks;
# setfattr (Debian package attr) and setfacl (package acl) for the xattr and
# ACL checks. What cannot be done here is skipped with a "# skip" line.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
TREECMP=$HERE/treecmp.py
# Debian's interpreter when there is one: a version manager's python3 shim
# on PATH can cost half a second a call, and this runs python dozens of times.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
treecmp() { "$PY" "$TREECMP" "$@"; }
W=$(mktemp -d /tmp/bulwark-treecmp.XXXXXX)
trap 'rm -rf "$W"' EXIT
S=$W/src	# the reference tree
C=$W/copy	# a fresh copy per check

N=0
FAILED=0
pass() {
	N=$((N + 1))
	echo "ok $N - $*"
}
flunk() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $*"
}
skip() { echo "# skip: $*"; }

ROOT=no
[ "$(id -u)" = 0 ] && ROOT=yes
XATTR=no
ACL=no
if ! command -v setfattr >/dev/null; then
	skip "setfattr not found (Debian package attr is not installed): xattr checks skipped"
else
	XATTR=yes
fi
if ! command -v setfacl >/dev/null; then
	skip "setfacl not found (Debian package acl is not installed): ACL checks skipped"
else
	ACL=yes
fi
[ $ROOT = yes ] || skip "not root: device, owner and setuid-owner checks skipped"

# set_mtime PATH SECONDS.NANOSECONDS, without following a symlink
set_mtime() { touch -h -d "@$2" "$1"; }

# bump_mtime PATH: mtime one nanosecond later, atime untouched
bump_mtime() {
	"$PY" - "$1" <<'EOF'
import os, sys
st = os.lstat(sys.argv[1])
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1),
         follow_symlinks=False)
EOF
}

# --- the reference tree
mkdir "$S"
mkdir -p "$S/sub/deep" "$S/dir/inner" "$S/sticky"
seq 1 30000 >"$S/sub/file"	# ~170 KB, no 'X' anywhere
: >"$S/empty"
printf 'deep\n' >"$S/sub/deep/leaf"
printf 'inner\n' >"$S/dir/inner/a"
printf 'b\n' >"$S/dir/b"
truncate -s 10M "$S/sparse"
printf 'abcdefgh%.0s' $(seq 512) | dd of="$S/sparse" bs=4096 seek=1280 conv=notrunc status=none
printf 'linked\n' >"$S/sub/hl1"
ln "$S/sub/hl1" "$S/hl2"
ln -s sub/file "$S/link"
ln -s nowhere "$S/dangling"
mkfifo "$S/fifo"
printf '#!/bin/sh\n' >"$S/suid"
chmod 4755 "$S/suid"
chmod 1777 "$S/sticky"
chmod 2750 "$S/dir"
printf 'nobody\n' >"$S/nobody"
if [ $ROOT = yes ]; then
	mknod "$S/null" c 1 3
	chown 65534:65534 "$S/nobody"
fi
if [ $XATTR = yes ]; then
	printf 'x\n' >"$S/xfile"
	if ! setfattr -n user.k -v v "$S/xfile" 2>"$W/err"; then
		skip "setfattr on $W failed ($(cat "$W/err")): xattr checks skipped"
		XATTR=no
	fi
	setfattr -n user.dir -v 0sAAEC/w== "$S/dir" 2>/dev/null || true	# binary
fi
if [ $ACL = yes ]; then
	printf 'acl\n' >"$S/aclfile"
	mkdir "$S/acldir"
	if ! setfacl -m u:nobody:r "$S/aclfile" 2>"$W/err" ||
		! setfacl -d -m u:nobody:rx "$S/acldir" 2>>"$W/err"; then
		skip "setfacl on $W failed ($(cat "$W/err")): ACL checks skipped"
		ACL=no
	fi
fi
# Distinct mtimes with nanoseconds, deepest first so that no later step
# changes a directory's; the root last.
i=0
while IFS= read -r -d '' p; do
	i=$((i + 1))
	set_mtime "$p" "$((1700000000 + i)).$(printf '%09d' $((i * 7919 % 1000000000 + 1)))"
done < <(find "$S" -mindepth 1 -depth -print0)
set_mtime "$S" 1700000000.123456789
ENTRIES=$(find "$S" | wc -l)

SPARSE=yes
read -r blocks bsize size < <(stat -c '%b %B %s' "$S/sparse")
if [ $((blocks * bsize)) -ge "$size" ]; then
	skip "the file system under $W made no hole in the sparse file: hole check skipped"
	SPARSE=no
fi

fresh_copy() {
	rm -rf "$C"
	cp -a --sparse=always "$S" "$C"
}

# keep_times REL...: the copy's REL gets back the reference's times.
keep_times() {
	local r
	for r in "$@"; do
		touch -h -r "$S/$r" "$C/$r"
	done
}

# ere TEXT: TEXT quoted for use in an extended regular expression
# shellcheck disable=SC2016
ere() { sed 's/[][\.*^$(){}?+|/]/\\&/g' <<<"$1"; }

# expect_diff DESC "PATH..." KIND [treecmp options]: treecmp of $S and $C
# exits 1, reports "PATH: KIND" for the first PATH, and every difference
# it reports is KIND (an ERE) at one of the PATHs; the count line agrees.
expect_diff() {
	local desc=$1 paths=$2 kind=$3 rc=0 alt="" p first
	shift 3
	treecmp "$@" "$S" "$C" >"$W/out" 2>&1 || rc=$?
	for p in $paths; do
		alt+="${alt:+|}$(ere "$p")"
	done
	first=$(ere "${paths%% *}")
	local lines
	lines=$(grep -c '^treecmp: .*: ' "$W/out" || true)
	if [ $rc -ne 1 ]; then
		flunk "$desc: treecmp exited $rc, not 1"
	elif ! grep -Eq "^treecmp: $first: ($kind)" "$W/out"; then
		flunk "$desc: no line for '${paths%% *}: $kind'"
	elif grep -Ev "^treecmp: ($alt): ($kind)" "$W/out" | grep -q '^treecmp: .*: '; then
		flunk "$desc: other differences reported"
	elif ! grep -Eq "^treecmp: $lines differences?\$" "$W/out"; then
		flunk "$desc: count line does not say $lines"
	else
		pass "$desc"
		return 0
	fi
	sed 's/^/#   /' "$W/out"
}

# expect_same DESC [treecmp options]
expect_same() {
	local desc=$1 rc=0
	shift
	treecmp "$@" "$S" "$C" >"$W/out" 2>&1 || rc=$?
	if [ $rc -eq 0 ] && grep -qx "treecmp: $ENTRIES entries identical" "$W/out"; then
		pass "$desc"
	else
		flunk "$desc: exit $rc, expected 0 and $ENTRIES entries identical"
		sed 's/^/#   /' "$W/out"
	fi
}

# --- the copy is identical, and only what is ignored may differ
fresh_copy
expect_same "cp -a --sparse=always copy is identical"
expect_same "identical with every option" --no-owner --no-atime --no-symlink-mtime --ignore-root-meta
"$PY" - "$C" <<'EOF'
import os, sys
for d, dirs, files in os.walk(sys.argv[1]):
    for n in [d] + [os.path.join(d, f) for f in dirs + files]:
        st = os.lstat(n)
        os.utime(n, ns=(st.st_atime_ns + 12345, st.st_mtime_ns),
                 follow_symlinks=False)
EOF
expect_same "atime and ctime are not compared"	# cp makes new ctimes
if "$TREECMP" "$S" "$S" >"$W/out" && grep -qx "treecmp: $ENTRIES entries identical" "$W/out"; then
	pass "a tree against itself is identical (run as a command)"
else
	flunk "a tree against itself is identical (run as a command)"
fi

# --- one change at a time
fresh_copy
printf 'X' | dd of="$C/sub/file" bs=1 seek=100000 conv=notrunc status=none
keep_times sub/file
expect_diff "one content byte changed" sub/file "contents differ at offset 100000 \(A=0x[0-9a-f]{2}, B=0x58\)"

fresh_copy
printf 'X' | dd of="$C/sparse" bs=1 seek=$((8 * 1048576)) conv=notrunc status=none
keep_times sparse
expect_diff "a byte written into a hole" sparse "contents differ at offset 8388608 \(A=0x00, B=0x58\)|holes differ"

fresh_copy
printf 'x' >>"$C/empty"
keep_times empty
expect_diff "the empty file gained a byte" empty "size \(A=0, B=1\)|contents differ at offset 0 \(A=EOF, B=0x78\)"

fresh_copy
truncate -s -1 "$C/sub/file"
keep_times sub/file
expect_diff "the last byte cut off" sub/file "size|contents differ at offset 168893 \(A=0x0a, B=EOF\)"

fresh_copy
chmod 0755 "$C/suid"
expect_diff "setuid bit dropped" suid "mode \(A=4755, B=0755\)"

fresh_copy
chmod -t "$C/sticky"
expect_diff "sticky bit dropped" sticky "mode \(A=1777, B=0777\)"

fresh_copy
chmod g-s "$C/dir"
expect_diff "setgid bit dropped from a directory" dir "mode \(A=2750, B=0750\)"

fresh_copy
chmod g+w "$C/sub/deep/leaf"
expect_diff "a permission bit" sub/deep/leaf "mode \(A=0644, B=0664\)"

if [ $ROOT = yes ]; then
	fresh_copy
	chown 0 "$C/nobody"
	expect_diff "owner changed" nobody "uid \(A=65534, B=0\)"
	expect_same "owner change ignored with --no-owner" --no-owner

	fresh_copy
	chgrp 65534 "$C/sub/file"
	expect_diff "group changed" sub/file "gid \(A=0, B=65534\)"

	fresh_copy
	chown -h 65534 "$C/link"
	expect_diff "symlink owner changed" link "uid"

	fresh_copy
	rm "$C/null"
	mknod "$C/null" c 1 5
	keep_times null .
	expect_diff "device number changed" null "device number \(A=1:3, B=1:5\)"
fi

fresh_copy
bump_mtime "$C/sub/file"
expect_diff "file mtime one nanosecond later" sub/file "mtime"

fresh_copy
bump_mtime "$C/sub/deep"
expect_diff "directory mtime one nanosecond later" sub/deep "mtime"

fresh_copy
bump_mtime "$C/fifo"
expect_diff "fifo mtime one nanosecond later" fifo "mtime"

fresh_copy
bump_mtime "$C/link"
expect_diff "symlink mtime one nanosecond later" link "mtime"
expect_same "symlink mtime ignored with --no-symlink-mtime" --no-symlink-mtime

fresh_copy
bump_mtime "$C"
expect_diff "root mtime one nanosecond later" . "mtime"
expect_same "root mtime ignored with --ignore-root-meta" --ignore-root-meta

fresh_copy
chmod 0700 "$C"
expect_diff "root mode" . "mode"

fresh_copy
rm "$C/sub/deep/leaf"
keep_times sub/deep
expect_diff "a missing file" sub/deep/leaf "missing \(A=regular file, B=absent\)"

fresh_copy
rm -r "$C/dir"
keep_times .
expect_diff "a missing directory is one line" dir "missing \(A=directory with 3 entries below, B=absent\)"

fresh_copy
: >"$C/sub/new"
keep_times sub
expect_diff "an extra file" sub/new "extra \(A=absent, B=regular file\)"

fresh_copy
rm "$C/link"
ln -s sub/deep/leaf "$C/link"
keep_times link .
expect_diff "symlink target" link "symlink target \(A='sub/file', B='sub/deep/leaf'\)"

fresh_copy
rm "$C/fifo"
: >"$C/fifo"
keep_times fifo .
expect_diff "fifo became a regular file" fifo "type \(A=fifo, B=regular file\)"

fresh_copy
cp -p "$C/hl2" "$C/hl2.tmp"
mv "$C/hl2.tmp" "$C/hl2"
keep_times .
expect_diff "a hard link broken" "hl2 sub/hl1" "hard links \(A=linked to [a-z/0-9]+, B=not linked\)"

fresh_copy
rm "$C/dir/b"
ln "$C/sub/file" "$C/dir/b"
keep_times dir
# dir/b is now sub/file's content, so contents and size differ as well
treecmp "$S" "$C" >"$W/out" || true
if grep -q '^treecmp: dir/b: hard links (A=not linked, B=linked to sub/file)$' "$W/out" &&
	grep -q '^treecmp: sub/file: hard links (A=not linked, B=linked to dir/b)$' "$W/out"; then
	pass "a hard link made"
else
	flunk "a hard link made"
	sed 's/^/#   /' "$W/out"
fi

if [ $SPARSE = yes ]; then
	fresh_copy
	cp -a --sparse=never "$C/sparse" "$C/sparse.tmp"
	mv "$C/sparse.tmp" "$C/sparse"
	keep_times .
	cmp -s "$S/sparse" "$C/sparse" || flunk "cp --sparse=never changed the content"
	expect_diff "holes filled with zeros, same content" sparse "holes differ \(A=2 holes \[0,5242880\) \[5246976,10485760\), B=no holes\)"
fi

if [ $XATTR = yes ]; then
	fresh_copy
	setfattr -n user.k -v w "$C/xfile"
	expect_diff "xattr value" xfile "xattr user.k \(A='v', B='w'\)"

	fresh_copy
	setfattr -x user.k "$C/xfile"
	expect_diff "xattr removed" xfile "xattr user.k \(A='v', B=absent\)"

	fresh_copy
	setfattr -n user.new -v 1 "$C/sub"
	expect_diff "xattr added to a directory" sub "xattr user.new \(A=absent, B='1'\)"
fi

if [ $ACL = yes ]; then
	fresh_copy
	setfacl -b "$C/aclfile"
	expect_diff "ACL removed" aclfile "xattr system.posix_acl_access \(A=user::rw-,user:65534:r--,group::r--,mask::r--,other::r--, B=absent\)"

	fresh_copy
	setfacl -m u:nobody:rw "$C/aclfile"
	expect_diff "ACL entry changed" aclfile "xattr system.posix_acl_access|mode"

	fresh_copy
	setfacl -k "$C/acldir"
	expect_diff "default ACL removed" acldir "xattr system.posix_acl_default"
fi

# --- output limits and usage
fresh_copy
for k in $(seq -w 1 60); do : >"$C/sub/deep/extra$k"; done
keep_times sub/deep
rc=0
treecmp "$S" "$C" >"$W/out" 2>&1 || rc=$?
if [ $rc -eq 1 ] && [ "$(grep -c '^treecmp: sub/deep/extra[0-9]*: extra' "$W/out")" = 50 ] &&
	[ "$(wc -l <"$W/out")" = 51 ] && grep -qx 'treecmp: 60 differences (first 50 shown)' "$W/out"; then
	pass "at most 50 lines, then the count"
else
	flunk "at most 50 lines, then the count (exit $rc)"
	sed 's/^/#   /' "$W/out" | head -60
fi

usage() {
	local desc=$1 rc=0
	shift
	treecmp "$@" >"$W/out" 2>&1 || rc=$?
	if [ $rc -eq 2 ]; then
		pass "usage error exits 2: $desc"
	else
		flunk "usage error exits 2: $desc (exit $rc)"
	fi
}
usage "no arguments"
usage "one argument" "$S"
usage "three arguments" "$S" "$C" "$C"
usage "unknown option" --frobnicate "$S" "$C"
usage "a root that does not exist" "$S" "$W/nonexistent"
usage "a root that is a file" "$S" "$S/sub/file"

echo "1..$N"
if [ $FAILED -ne 0 ]; then
	echo "# $FAILED of $N checks failed" >&2
	exit 1
fi
echo "# all $N checks passed"
