#!/usr/bin/env python3
"""treecmp: prove that two directory trees are the same, for restore tests.

Usage: treecmp.py [--no-owner] [--no-atime] [--no-symlink-mtime]
                  [--ignore-root-meta] A B

Walks both trees without following symbolic links and compares, for every
path relative to the roots:
  - which names exist (an entry only in A is "missing", only in B "extra";
    what lies under such a directory is not listed again);
  - the file type;
  - the permission bits, setuid, setgid and sticky included (S_IMODE);
  - uid and gid (not with --no-owner);
  - the modification time to the nanosecond, directories and symbolic links
    included (not for symbolic links with --no-symlink-mtime);
  - regular files: size, contents byte for byte (the first differing offset
    is reported) and the map of holes from SEEK_DATA/SEEK_HOLE; holes are
    compared on the grid of the larger of the two file systems' block sizes,
    so a hole smaller than a block does not count;
  - symbolic link targets;
  - st_rdev of character and block devices;
  - hard links: regular files must fall into the same groups sharing an
    inode, by relative path, in both trees (st_nlink itself is not compared:
    links from outside the tree would count in it);
  - extended attributes, names and values, including the POSIX ACLs
    system.posix_acl_access and system.posix_acl_default (security.selinux
    is skipped).
The roots' own metadata is compared too, unless --ignore-root-meta.
Access and change times are never compared; --no-atime is accepted so that
callers can say so explicitly, and changes nothing.

Prints one line per difference, "treecmp: PATH: what (A=..., B=...)", at
most 50 of them, then a count; or "treecmp: N entries identical".
Exit status: 0 identical, 1 a difference (or an entry that could not be
read), 2 usage error.
"""

import argparse
import errno
import os
import stat
import struct
import sys

MAX_LINES = 50
BLOCK = 1 << 20
SKIP_XATTRS = {"security.selinux"}
NOATIME = getattr(os, "O_NOATIME", 0)


def show(text):
    """A path or string printable on one line: control characters, the
    backslash and undecodable bytes are escaped."""
    out = []
    for c in text:
        o = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif 0xDC80 <= o <= 0xDCFF:  # a byte that was not valid UTF-8
            out.append("\\x%02x" % (o - 0xDC00))
        elif c.isprintable():
            out.append(c)
        elif o < 0x100:
            out.append("\\x%02x" % o)
        else:
            out.append("\\u%04x" % o)
    return "".join(out)


def quote(text):
    return "'" + show(text).replace("'", "\\'") + "'"


def type_name(mode):
    if stat.S_ISREG(mode):
        return "regular file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "char device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "unknown type %o" % stat.S_IFMT(mode)


def fmt_ns(ns):
    sign = "-" if ns < 0 else ""
    s, n = divmod(abs(ns), 10**9)
    return "%s%d.%09d" % (sign, s, n)


def fmt_dev(rdev):
    return "%d:%d" % (os.major(rdev), os.minor(rdev))


class Tree:
    """One side: lstat of every entry by relative path ("" is the root)."""

    def __init__(self, root):
        self.root = root
        self.st = {}
        self.errors = {}  # relative path -> message, for unlistable dirs
        self.st[""] = os.stat(root)
        self._walk("")
        groups = {}
        for rel, st in self.st.items():
            if stat.S_ISREG(st.st_mode):
                groups.setdefault((st.st_dev, st.st_ino), []).append(rel)
        self.links = {}
        for members in groups.values():
            for rel in members:
                self.links[rel] = members

    def path(self, rel):
        return os.path.join(self.root, rel) if rel else self.root

    def _walk(self, rel):
        try:
            names = os.listdir(self.path(rel))
        except OSError as e:
            self.errors[rel] = e.strerror or str(e)
            return
        for name in names:
            sub = rel + "/" + name if rel else name
            try:
                st = os.lstat(self.path(sub))
            except OSError as e:
                self.errors[sub] = e.strerror or str(e)
                continue
            self.st[sub] = st
            if stat.S_ISDIR(st.st_mode):
                self._walk(sub)

    def is_dir(self, rel):
        st = self.st.get(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def count_below(self, rel):
        prefix = rel + "/"
        return sum(1 for r in self.st if r.startswith(prefix))


def sort_key(rel):
    return rel.split("/") if rel else []


class Comparer:
    def __init__(self, a, b, opts):
        self.a = a
        self.b = b
        self.opts = opts
        self.diffs = []

    def diff(self, rel, what, va, vb):
        self.diffs.append("treecmp: %s: %s (A=%s, B=%s)"
                          % (show(rel or "."), what, va, vb))

    def run(self):
        a, b = self.a, self.b
        for rel in sorted(set(a.errors) | set(b.errors), key=sort_key):
            self.diff(rel, "cannot read", a.errors.get(rel, "ok"),
                      b.errors.get(rel, "ok"))
        common_reg = {r for r, st in a.st.items()
                      if stat.S_ISREG(st.st_mode) and r in b.st
                      and stat.S_ISREG(b.st[r].st_mode)}
        for rel in sorted(set(a.st) | set(b.st), key=sort_key):
            sa, sb = a.st.get(rel), b.st.get(rel)
            if sa is None or sb is None:
                # Reported once, where the parent is a directory on both
                # sides; below that the parent's own line covers it.
                parent = rel.rpartition("/")[0]
                if not (a.is_dir(parent) and b.is_dir(parent)):
                    continue
                if sa is None:
                    self.diff(rel, "extra", "absent", self.describe(b, rel))
                else:
                    self.diff(rel, "missing", self.describe(a, rel), "absent")
                continue
            self.entry(rel, sa, sb, common_reg)

    @staticmethod
    def describe(tree, rel):
        st = tree.st[rel]
        text = type_name(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            n = tree.count_below(rel)
            if n:
                text += " with %d entr%s below" % (n, "y" if n == 1 else "ies")
        return text

    def entry(self, rel, sa, sb, common_reg):
        ta, tb = stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)
        if ta != tb:
            self.diff(rel, "type", type_name(sa.st_mode),
                      type_name(sb.st_mode))
            return
        is_root = rel == ""
        meta = not (is_root and self.opts.ignore_root_meta)
        if meta:
            ma, mb = stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)
            if ma != mb:
                self.diff(rel, "mode", "%04o" % ma, "%04o" % mb)
            if not self.opts.no_owner:
                if sa.st_uid != sb.st_uid:
                    self.diff(rel, "uid", sa.st_uid, sb.st_uid)
                if sa.st_gid != sb.st_gid:
                    self.diff(rel, "gid", sa.st_gid, sb.st_gid)
            if not (stat.S_ISLNK(ta) and self.opts.no_symlink_mtime):
                if sa.st_mtime_ns != sb.st_mtime_ns:
                    self.diff(rel, "mtime", fmt_ns(sa.st_mtime_ns),
                              fmt_ns(sb.st_mtime_ns))
        if stat.S_ISCHR(ta) or stat.S_ISBLK(ta):
            if sa.st_rdev != sb.st_rdev:
                self.diff(rel, "device number", fmt_dev(sa.st_rdev),
                          fmt_dev(sb.st_rdev))
        elif stat.S_ISLNK(ta):
            self.symlink(rel)
        elif stat.S_ISREG(ta):
            self.regular(rel, sa, sb)
            self.hardlinks(rel, common_reg)
        if meta:
            self.xattrs(rel, follow=is_root)

    def symlink(self, rel):
        try:
            la = os.readlink(self.a.path(rel))
            lb = os.readlink(self.b.path(rel))
        except OSError as e:
            self.diff(rel, "cannot read symlink", e.strerror, "")
            return
        if la != lb:
            self.diff(rel, "symlink target", quote(la), quote(lb))

    def hardlinks(self, rel, common_reg):
        ga = sorted((set(self.a.links[rel]) & common_reg) - {rel},
                    key=sort_key)
        gb = sorted((set(self.b.links[rel]) & common_reg) - {rel},
                    key=sort_key)
        if ga != gb:
            self.diff(rel, "hard links", self.link_text(ga),
                      self.link_text(gb))

    @staticmethod
    def link_text(group):
        if not group:
            return "not linked"
        shown = ", ".join(show(r) for r in group[:5])
        if len(group) > 5:
            shown += ", +%d more" % (len(group) - 5)
        return "linked to " + shown

    # --- regular files -------------------------------------------------

    def regular(self, rel, sa, sb):
        if sa.st_size != sb.st_size:
            self.diff(rel, "size", sa.st_size, sb.st_size)
        fa = fb = -1
        try:
            try:
                fa = open_ro(self.a.path(rel))
            except OSError as e:
                self.diff(rel, "cannot open", e.strerror, "not tried")
                return
            try:
                fb = open_ro(self.b.path(rel))
            except OSError as e:
                self.diff(rel, "cannot open", "ok", e.strerror)
                return
            size_a = os.fstat(fa).st_size
            size_b = os.fstat(fb).st_size
            data_a, holes_ok_a = data_map(fa, size_a)
            data_b, holes_ok_b = data_map(fb, size_b)
            try:
                self.contents(rel, fa, fb, size_a, size_b, data_a, data_b)
            except OSError as e:
                self.diff(rel, "read error", e.strerror, "")
                return
            bs = max(block_size(fa), block_size(fb))
            ha = grid_holes(data_a, size_a, bs) if holes_ok_a else []
            hb = grid_holes(data_b, size_b, bs) if holes_ok_b else []
            if ha != hb:
                self.diff(rel, "holes differ", hole_text(ha), hole_text(hb))
        finally:
            for fd in (fa, fb):
                if fd >= 0:
                    os.close(fd)

    def contents(self, rel, fa, fb, size_a, size_b, data_a, data_b):
        common = min(size_a, size_b)
        # What is a hole on both sides reads as zeros on both: only the
        # union of the data ranges needs reading.
        for start, end in merge(data_a + data_b):
            end = min(end, common)
            off = start
            while off < end:
                n = min(BLOCK, end - off)
                ba = os.pread(fa, n, off)
                bb = os.pread(fb, n, off)
                if ba != bb or len(ba) != n:
                    i = first_diff(ba, bb)
                    if i < min(len(ba), len(bb)):
                        self.diff(rel, "contents differ at offset %d"
                                  % (off + i), "0x%02x" % ba[i],
                                  "0x%02x" % bb[i])
                        return
                    if len(ba) != len(bb):  # the file changed under us
                        self.diff(rel, "contents differ at offset %d"
                                  % (off + i),
                                  "EOF" if len(ba) == i else "0x%02x" % ba[i],
                                  "EOF" if len(bb) == i else "0x%02x" % bb[i])
                        return
                    if not ba:
                        break
                off += len(ba)
        if size_a != size_b:
            longer, fd = (size_a, fa) if size_a > size_b else (size_b, fb)
            tail = os.pread(fd, 1, common)
            byte = "0x%02x" % tail[0] if tail else "EOF"
            va, vb = (byte, "EOF") if longer == size_a else ("EOF", byte)
            self.diff(rel, "contents differ at offset %d" % common, va, vb)

    # --- extended attributes ---------------------------------------------

    def xattrs(self, rel, follow):
        xa, ea = read_xattrs(self.a.path(rel), follow)
        xb, eb = read_xattrs(self.b.path(rel), follow)
        if ea or eb:
            self.diff(rel, "cannot read xattrs", ea or "ok", eb or "ok")
            return
        for name in sorted(set(xa) | set(xb)):
            va, vb = xa.get(name), xb.get(name)
            if va != vb:
                self.diff(rel, "xattr " + show(name),
                          xattr_text(name, va), xattr_text(name, vb))


def open_ro(path):
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    if NOATIME:
        try:
            return os.open(path, flags | NOATIME)
        except PermissionError:
            pass  # O_NOATIME needs ownership or CAP_FOWNER
    return os.open(path, flags)


def data_map(fd, size):
    """The file's data ranges [(start, end)], and whether the file system
    answered SEEK_DATA/SEEK_HOLE (when not, the whole file is data)."""
    if size == 0:
        return [], True
    if not hasattr(os, "SEEK_DATA"):
        return [(0, size)], False
    ranges = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only a hole from pos to EOF
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if end <= start:  # should not happen; do not loop forever
                end = size
            ranges.append((start, end))
            pos = end
    except OSError:
        return [(0, size)], False
    return ranges, True


def merge(ranges):
    out = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def block_size(fd):
    try:
        sv = os.fstatvfs(fd)
        return sv.f_frsize or sv.f_bsize or 4096
    except OSError:
        return 4096


def grid_holes(data, size, bs):
    """The holes of a file as whole blocks of bs bytes: each hole shrunk to
    the blocks it covers entirely, and dropped if that leaves nothing."""
    holes = []
    pos = 0
    for start, end in data + [(size, size)]:
        if start > pos:
            hs = -(-pos // bs) * bs
            he = start // bs * bs
            if he > hs:
                holes.append((hs, he))
        pos = max(pos, end)
    return holes


def hole_text(holes):
    if not holes:
        return "no holes"
    parts = ["[%d,%d)" % h for h in holes[:4]]
    if len(holes) > 4:
        parts.append("+%d more" % (len(holes) - 4))
    return "%d hole%s %s" % (len(holes), "" if len(holes) == 1 else "s",
                             " ".join(parts))


def first_diff(a, b):
    n = min(len(a), len(b))
    lo = 0
    step = 4096
    while lo < n and a[lo:lo + step] == b[lo:lo + step]:
        lo += step
    lo = min(lo, n)
    while lo < n and a[lo] == b[lo]:
        lo += 1
    return lo


def read_xattrs(path, follow):
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}, None
        return {}, e.strerror
    out = {}
    for name in names:
        if name in SKIP_XATTRS:
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=follow)
        except OSError as e:
            if e.errno == errno.ENODATA:  # removed since listed
                continue
            return {}, "%s: %s" % (name, e.strerror)
    return out, None


ACL_TAGS = {0x01: "user:", 0x02: "user:", 0x04: "group:", 0x08: "group:",
            0x10: "mask:", 0x20: "other:"}
ACL_NAMED = {0x02, 0x08}


def acl_text(value):
    """system.posix_acl_* in getfacl's short form, or None if malformed."""
    if len(value) < 4 or (len(value) - 4) % 8:
        return None
    (version,) = struct.unpack_from("<I", value, 0)
    if version != 2:
        return None
    entries = []
    for off in range(4, len(value), 8):
        tag, perm, uid = struct.unpack_from("<HHI", value, off)
        if tag not in ACL_TAGS:
            return None
        who = str(uid) if tag in ACL_NAMED else ""
        rwx = "".join(c if perm & bit else "-"
                      for c, bit in (("r", 4), ("w", 2), ("x", 1)))
        entries.append(ACL_TAGS[tag] + who + ":" + rwx)
    return ",".join(entries)


def xattr_text(name, value):
    if value is None:
        return "absent"
    if name.startswith("system.posix_acl_"):
        text = acl_text(value)
        if text is not None:
            return text
    if len(value) > 64:
        return "%d bytes %s..." % (len(value), value[:64].hex())
    try:
        s = value.decode("utf-8")
        if s.isprintable():
            return quote(s)
    except UnicodeDecodeError:
        pass
    return "0x" + value.hex() if value else "''"


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("treecmp: %s\n" % message)
        sys.exit(2)


def main(argv):
    for f in (sys.stdout, sys.stderr):
        try:
            f.reconfigure(errors="backslashreplace")
        except AttributeError:
            pass
    p = Parser(prog="treecmp.py",
               description="Compare two directory trees exactly.")
    p.add_argument("--no-owner", action="store_true",
                   help="do not compare uid and gid")
    p.add_argument("--no-atime", action="store_true",
                   help="accepted; access times are never compared")
    p.add_argument("--no-symlink-mtime", action="store_true",
                   help="do not compare the mtimes of symbolic links")
    p.add_argument("--ignore-root-meta", action="store_true",
                   help="do not compare the roots' own mode, owner, mtime "
                        "and xattrs")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    opts = p.parse_args(argv)
    for root in (opts.a, opts.b):
        if not os.path.isdir(root):
            p.error("%s: not a directory" % show(root))
    try:
        a = Tree(opts.a)
        b = Tree(opts.b)
    except OSError as e:
        p.error(str(e))
    c = Comparer(a, b, opts)
    c.run()
    if not c.diffs:
        print("treecmp: %d entries identical" % len(a.st))
        return 0
    for line in c.diffs[:MAX_LINES]:
        print(line)
    n = len(c.diffs)
    if n > MAX_LINES:
        print("treecmp: %d differences (first %d shown)" % (n, MAX_LINES))
    else:
        print("treecmp: %d difference%s" % (n, "" if n == 1 else "s"))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
