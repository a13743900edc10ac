#!/usr/bin/env python3
"""Deterministic backup corpus for bench/backup.sh: a mail server's data.

    bench/mkcorpus.py OUTDIR [--scale F] [--seed N]    make the corpus
    bench/mkcorpus.py --mutate OUTDIR [--scale F] [--seed N]
                                                      the change between
                                                      two backups (apply once)

At scale 1, about 1.4 GB (apparent) in about 40,000 files:

  mail/<domain>/<user>/Maildir/{cur,new,tmp}
      35,000 RFC 5322-looking messages of 2-50 KB: headers (Received
      chains, a DKIM signature), a word-salad body from a Zipf-weighted
      vocabulary (compresses about 3x with zstd -3, like real mail text),
      12% with a base64 attachment of random bytes. 30% of the message
      files are mailing-list mail: each post is delivered byte-identically
      to every subscriber of its list (10-50 users). Real Maildir names:
      1700000000.M123456P4567.mail1,S=1234:2,S; mtime = delivery time.
  sys/usr/{bin,sbin,lib/x86_64-linux-gnu}/...
      copies of this machine's binaries and libraries (regular files only,
      symlinks never followed): about 4,000 files and 350 MB, chosen by a
      keyed hash of the path (stable when packages come and go), mostly
      files up to 1 MiB plus a quarter of the bytes in larger ones; hard
      links among them kept, some of the real symlinks between them, an
      absolute and a dangling symlink.
  vm/base.img (300 MB)
      extents of 64 KiB-4 MiB: random bytes, zeros left as holes (sparse),
      text, and text blocks repeated across the image.
  vm/clone.img
      base.img copied hole for hole, then 5% of its 4 KiB blocks rewritten
      in runs of 1-256 blocks.

--mutate changes about 1% of the files, as between two nightly backups:
new mail (personal and list posts), messages rewritten (a header added),
messages moved new/ -> cur/ or re-flagged (renames, same bytes), a few
expunged, some sys files rewritten as by a package upgrade; and 20 random
64 KiB regions of vm/clone.img rewritten in place (holes elsewhere kept).
Changed files get new, later mtimes.

The same seed, scale and machine give byte-identical trees (the sys/ part
depends on the files installed here). Python 3 standard library only.
Prints the file count and total bytes at the end.
"""
import argparse
import base64
import email.utils
import hashlib
import itertools
import math
import os
import random
import stat
import sys
import time

SEED = 20261127
T0 = 1_690_000_000          # first delivery time
T1 = 1_700_000_000          # last delivery time
TM = 1_700_100_000          # the mutation's times
KB = 1000
MiB = 1 << 20
BLK = 4096

SYS_ROOTS = ("/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu")
SYS_SMALL = MiB             # "small" sys files: up to this size

COMMON = ("the of and to a in is it you that he was for on are with as his they be at one "
          "have this from or had by not word but what some we can out other were all there "
          "when up use your how said an each she which do their time if will way about many "
          "then them write would like so these her long make thing see him two has look more "
          "day could go come did number sound no most people my over know water than call "
          "first who may down side been now find any new work part take get place made live "
          "where after back little only round man year came show every good me give our under "
          "name very through just form sentence great think say help low line differ turn "
          "cause much mean before move right boy old too same tell does set three want air "
          "well also play small end put home read hand port large spell add even land here "
          "must big high such follow act why ask men change went light kind off need house "
          "server backup mail disk please thanks regards meeting tomorrow patch release "
          "invoice attached question update deploy config error log ticket").split()


class Rand:
    """random.Random plus fast deterministic random bytes (SHAKE-128 keyed
    from the generator: one call per block, about 100 MB/s)."""

    def __init__(self, *key):
        self.r = random.Random(hashlib.sha256(repr(key).encode()).digest())

    def __getattr__(self, name):
        return getattr(self.r, name)

    def bytes(self, n):
        return hashlib.shake_128(self.r.getrandbits(128).to_bytes(16, "little")).digest(n)


class Text:
    """A pool of word-salad lines; text is taken as slices of it starting
    and ending at line boundaries."""

    def __init__(self, rng, nbytes):
        vocab = list(COMMON)
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        lw = [12, 9, 8, 8, 7, 7, 6, 6, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1.5, 1.5, 1, 1, 1, 0.5, 0.3, 0.2, 0.1]
        seen = set(vocab)
        while len(vocab) < 20000:
            w = "".join(rng.choices(letters, weights=lw, k=rng.randint(2, 12)))
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        cw = list(itertools.accumulate(1.0 / (i + 1) ** 1.05 for i in range(len(vocab))))
        words = rng.choices(vocab, cum_weights=cw, k=nbytes // 6)
        lines = []
        for i in range(0, len(words), 11):
            ln = " ".join(words[i:i + 11])
            lines.append(ln[0].upper() + ln[1:] + ".")
        self.vocab = vocab
        self.cw = cw
        self.pool = ("\n".join(lines) + "\n").encode()

    def slice(self, rng, n):
        p = self.pool
        off = rng.randrange(0, len(p) - n - 200)
        s = p.find(b"\n", off) + 1
        e = p.find(b"\n", s + max(n, 1) - 1)
        if e < 0:
            e = len(p) - 1
        return p[s:e + 1]

    def words(self, rng, n):
        return " ".join(rng.choices(self.vocab[:3000], cum_weights=self.cw[:3000], k=n))


def b64lines(data):
    s = base64.b64encode(data)
    return b"\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + b"\n"


# --- mail -------------------------------------------------------------------

class Mail:
    def __init__(self, rng, text, scale):
        self.rng, self.text = rng, text
        self.domains = ["example.org", "mail.example.net", "corp.example.com",
                        "lists.example.edu", "example.io"]
        nusers = max(20, round(400 * math.sqrt(scale)))
        self.users = []
        for i in range(nusers):
            d = self.domains[i % len(self.domains)]
            name = "%s%s%d" % (rng.choice("abcdefghijklmnoprstw"), text.words(rng, 1)[:7], i)
            self.users.append((d, name))
        self.senders = ["%s.%s@%s" % (text.words(rng, 1), text.words(rng, 1),
                                      rng.choice(["gmail.example", "outlook.example", "web.example",
                                                  "partner.example.com", "example.org"]))
                        for _ in range(2000)]
        self.lists = []
        for i in range(12):
            lname = "%s-%s" % (text.words(rng, 1)[:8], rng.choice(["users", "dev", "announce", "talk"]))
            subs = rng.sample(range(nusers), min(nusers, rng.randint(10, 50)))
            self.lists.append((lname, sorted(subs)))

    def size(self):
        # 2-50 KB, log-uniform biased toward the small end (mean about 12 KB)
        return int(2 * KB * 25 ** (self.rng.random() ** 1.25))

    def message(self, to, t, size, lst=None, extra=b""):
        r, tx = self.rng, self.text
        frm = r.choice(self.senders)
        fdom = frm.split("@")[1]
        subj = tx.words(r, r.randint(3, 9))
        subj = subj[0].upper() + subj[1:]
        if lst:
            subj = "[%s] %s" % (lst, subj)
        date = email.utils.formatdate(t, localtime=False)
        h = []
        h.append("Return-Path: <%s>" % (("%s-bounces@lists.example.edu" % lst) if lst else frm))
        if not lst:
            h.append("Delivered-To: %s" % to)
        for hop in range(r.randint(1, 4)):
            h.append("Received: from mx%d.%s (mx%d.%s [10.%d.%d.%d])\n\tby mail%d.example.org "
                     "(Postfix) with ESMTPS id %s\n\tfor <%s>; %s"
                     % (hop, fdom, hop, fdom, r.randrange(256), r.randrange(256), r.randrange(256),
                        r.randint(1, 3), r.bytes(5).hex().upper(), to,
                        email.utils.formatdate(t - hop * r.randint(1, 30), localtime=False)))
        sig = base64.b64encode(r.bytes(256)).decode()
        h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s1;\n\th=from:to:subject:date:message-id;\n\tbh=%s;\n\tb=%s"
                 % (fdom, base64.b64encode(r.bytes(32)).decode(),
                    "\n\t  ".join(sig[i:i + 70] for i in range(0, len(sig), 70))))
        h.append("Message-ID: <%s@%s>" % (r.bytes(12).hex(), fdom))
        h.append("Date: " + date)
        h.append("From: %s <%s>" % (frm.split("@")[0].replace(".", " ").title(), frm))
        h.append("To: %s" % (("%s@lists.example.edu" % lst) if lst else to))
        h.append("Subject: " + subj)
        if lst:
            h.append("List-Id: <%s.lists.example.edu>" % lst)
            h.append("List-Unsubscribe: <mailto:%s-leave@lists.example.edu>" % lst)
            h.append("Precedence: list")
        h.append("MIME-Version: 1.0")
        head = ("\n".join(h) + "\n").encode() + extra
        left = max(size - len(head) - 100, 200)
        if r.random() < 0.12 and left > 3000:
            att = r.bytes(int(left * r.uniform(0.4, 0.7) * 3 / 4))
            bnd = "=_" + r.bytes(8).hex()
            body = tx.slice(r, max(left - len(att) * 4 // 3 - 300, 100))
            name = "%s.%s" % (tx.words(r, 1), r.choice(["pdf", "zip", "png", "xlsx", "docx"]))
            return b"".join([
                head,
                b'Content-Type: multipart/mixed; boundary="%s"\n\n' % bnd.encode(),
                b"--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" % bnd.encode(),
                body,
                b"\n--%s\nContent-Type: application/octet-stream; name=\"%s\"\n"
                b"Content-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n"
                % (bnd.encode(), name.encode(), name.encode()),
                b64lines(att),
                b"--%s--\n" % bnd.encode()])
        return b"".join([head, b"Content-Type: text/plain; charset=utf-8\n"
                         b"Content-Transfer-Encoding: 8bit\n\n", tx.slice(r, left)])


def maildir(out, d, u):
    return os.path.join(out, "mail", d, u, "Maildir")


def deliver(out, mail, uidx, data, t, where=None):
    """Writes one message into user uidx's Maildir, named as Dovecot does."""
    r = mail.rng
    d, u = mail.users[uidx]
    md = maildir(out, d, u)
    if where is None:
        where = "cur" if r.random() < 0.9 else "new"
    while True:
        base = "%d.M%dP%d.mail%d,S=%d" % (t, r.randrange(1000000), r.randrange(2, 65536),
                                           r.randint(1, 3), len(data))
        if where == "cur":
            name = base + ":2," + r.choice(["S", "S", "S", "S", "RS", "FS", "", "S", "ST"])
        else:
            name = base
        p = os.path.join(md, where, name)
        if not os.path.exists(p):
            break
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, (t, t))
    return p


def make_mail(out, rng, text, scale):
    mail = Mail(rng, text, scale)
    for d, u in mail.users:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir(out, d, u), sub), exist_ok=True)
    total = round(35000 * scale)
    list_target = round(total * 0.30)
    n = 0
    # list posts: each delivered byte-identically to every subscriber
    while n < list_target:
        lname, subs = rng.choice(mail.lists)
        t = rng.randint(T0, T1)
        data = mail.message(None, t, mail.size(), lst=lname)
        for s in subs:
            deliver(out, mail, s, data, t + rng.randint(0, 20))
        n += len(subs)
    # personal mail, some users busier than others
    weights = [rng.paretovariate(1.5) for _ in mail.users]
    for uidx in rng.choices(range(len(mail.users)), weights=weights, k=max(total - n, 0)):
        d, u = mail.users[uidx]
        t = rng.randint(T0, T1)
        deliver(out, mail, uidx, mail.message("%s@%s" % (u, d), t, mail.size()), t)
    return mail


# --- sys --------------------------------------------------------------------

def sys_candidates():
    """Regular files and symlinks under SYS_ROOTS, symlinks not followed."""
    files, links = [], []
    for root in SYS_ROOTS:
        for dp, dns, fns in os.walk(root):
            dns.sort()
            for fn in sorted(fns) + sorted(x for x in dns if os.path.islink(os.path.join(dp, x))):
                p = os.path.join(dp, fn)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    files.append((p, st))
                elif stat.S_ISLNK(st.st_mode):
                    links.append(p)
    return files, links


def make_sys(out, rng, scale, seed):
    budget = 350e6 * scale
    count = round(4000 * scale)
    big_budget = budget / 4
    key = lambda p: hashlib.sha256(b"%d:%s" % (seed, p.encode())).digest()
    files, links = sys_candidates()
    files.sort(key=lambda f: key(f[0]))
    chosen, by_ino = [], {}
    nbytes = big = 0
    for p, st in files:
        ino = (st.st_dev, st.st_ino)
        if ino in by_ino:
            continue
        s = st.st_size
        if s > SYS_SMALL:
            if big + s > big_budget or nbytes + s > budget:
                continue
            big += s
        elif len(chosen) >= count or nbytes + s > budget:
            continue
        try:
            with open(p, "rb"):
                pass
        except OSError:
            continue
        nbytes += s
        chosen.append((p, st))
        by_ino[ino] = None
    chosen.sort()
    dst_of = {}
    for p, st in chosen:
        d = os.path.join(out, "sys", p.lstrip("/"))
        os.makedirs(os.path.dirname(d), exist_ok=True)
        with open(p, "rb") as fi, open(d, "wb") as fo:
            while True:
                b = fi.read(4 * MiB)
                if not b:
                    break
                fo.write(b)
        os.chmod(d, stat.S_IMODE(st.st_mode) & 0o777)
        os.utime(d, ns=(st.st_mtime_ns, st.st_mtime_ns))
        by_ino[(st.st_dev, st.st_ino)] = d
        dst_of[p] = d
    # the other names of chosen files: hard links in the copy too
    for p, st in sorted(files):
        ino = (st.st_dev, st.st_ino)
        if p not in dst_of and by_ino.get(ino):
            d = os.path.join(out, "sys", p.lstrip("/"))
            os.makedirs(os.path.dirname(d), exist_ok=True)
            os.link(by_ino[ino], d)
            dst_of[p] = d
    # real symlinks whose target is one of the copied files, same directory
    nl = 0
    for p in sorted(links, key=key):
        if nl >= max(5, round(60 * scale)):
            break
        tgt = os.readlink(p)
        if "/" in tgt:
            continue
        if os.path.join(os.path.dirname(p), tgt) in dst_of:
            os.symlink(tgt, os.path.join(out, "sys", p.lstrip("/")))
            nl += 1
    bindir = os.path.join(out, "sys", "usr", "bin")
    os.makedirs(bindir, exist_ok=True)
    os.symlink("/usr/bin/env", os.path.join(bindir, "bwcorpus-absolute-link"))
    os.symlink("no-such-file", os.path.join(bindir, "bwcorpus-dangling-link"))
    return [d for d in sorted(dst_of.values())]


# --- vm images --------------------------------------------------------------

def make_vm(out, rng, text, scale):
    vdir = os.path.join(out, "vm")
    os.makedirs(vdir, exist_ok=True)
    size = max(4 * MiB, round(300e6 * scale) // BLK * BLK)
    rep = [text.slice(rng, 64 * 1024)[:64 * 1024].ljust(64 * 1024, b"\n") for _ in range(32)]
    base = os.path.join(vdir, "base.img")
    with open(base, "wb") as f:
        off = 0
        while off < size:
            n = min(BLK * rng.randint(16, 1024), size - off)
            kind = rng.choices(["random", "zero", "text", "repeat"], weights=[35, 30, 20, 15])[0]
            if kind == "zero":
                f.seek(n, os.SEEK_CUR)
            elif kind == "random":
                f.write(rng.bytes(n))
            elif kind == "text":
                parts, got = [], 0
                while got < n:
                    parts.append(text.slice(rng, min(n - got, 256 * 1024)))
                    got += len(parts[-1])
                f.write(b"".join(parts)[:n])
            else:
                b = b"".join(rng.choice(rep) for _ in range(n // len(rep[0]) + 1))
                f.write(b[:n])
            off += n
        f.truncate(size)
    clone = os.path.join(vdir, "clone.img")
    copy_sparse(base, clone)
    nblk = size // BLK
    left = nblk * 5 // 100
    with open(clone, "r+b") as f:
        while left > 0:
            run = min(left, int(256 ** rng.random()))
            b = rng.randrange(0, nblk - run + 1)
            f.seek(b * BLK)
            f.write(rng.bytes(run * BLK))
            left -= run
    t = T1 + 3600
    os.utime(base, (t - 86400, t - 86400))
    os.utime(clone, (t, t))


def copy_sparse(src, dst):
    """Copies data extents only (SEEK_DATA/SEEK_HOLE): holes stay holes."""
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        size = os.fstat(fi.fileno()).st_size
        off = 0
        while off < size:
            try:
                d = os.lseek(fi.fileno(), off, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fi.fileno(), d, os.SEEK_HOLE)
            fi.seek(d)
            fo.seek(d)
            left = h - d
            while left > 0:
                b = fi.read(min(left, 4 * MiB))
                fo.write(b)
                left -= len(b)
            off = h
        fo.truncate(size)


# --- mutation -----------------------------------------------------------------

def all_files(out):
    res = []
    for dp, dns, fns in os.walk(out):
        dns.sort()
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            if stat.S_ISREG(os.lstat(p).st_mode):
                res.append(p)
    return res


def mutate(out, seed, scale):
    rng = Rand(seed, "mutate")
    # the same users and lists as make_mail (they depend on the seed and
    # the vocabulary only), new messages from the mutation's generator
    mail = Mail(Rand(seed, "mail"), Text(Rand(seed, "text"), 4 * MiB), scale)
    mail.rng = rng
    files = all_files(out)
    mails = [p for p in files if os.sep + "Maildir" + os.sep in p]
    sysf = [p for p in files if p.startswith(os.path.join(out, "sys") + os.sep)]
    nchg = max(10, len(files) // 100)
    n_new = nchg * 40 // 100
    n_mod = nchg * 25 // 100
    n_ren = nchg * 15 // 100
    n_del = max(1, nchg * 5 // 100)
    n_sys = nchg - n_new - n_mod - n_ren - n_del
    t = TM
    touched = set()
    users = {maildir(out, d, u): i for i, (d, u) in enumerate(mail.users)}
    users = {k: v for k, v in users.items() if os.path.isdir(k)}
    idx = sorted(users.values())
    # new mail: list posts to every subscriber, then personal mail
    made = 0
    while made < n_new * 4 // 10:
        lname, subs = rng.choice(mail.lists)
        subs = [s for s in subs if s in idx]
        if not subs:
            break
        data = mail.message(None, t, mail.size(), lst=lname)
        for s in subs:
            touched.add(deliver(out, mail, s, data, t + rng.randint(0, 20), where="new"))
        made += len(subs)
        t += 60
    while made < n_new:
        uidx = rng.choice(idx)
        d, u = mail.users[uidx]
        touched.add(deliver(out, mail, uidx, mail.message("%s@%s" % (u, d), t, mail.size()), t, "new"))
        made += 1
        t += 60
    pick = [p for p in rng.sample(mails, min(len(mails), n_mod + n_ren + n_del))]
    # rewritten messages: a header added at the top (a filter's verdict)
    for p in pick[:n_mod]:
        with open(p, "rb") as f:
            data = f.read()
        hdr = b"X-Spam-Status: No, score=%.1f required=5.0 tests=BAYES_%02d\nX-Keywords: $label%d\n" % (
            rng.uniform(-3, 4), rng.randrange(0, 99), rng.randint(1, 5))
        with open(p, "wb") as f:
            f.write(hdr + data)
        os.utime(p, (t, t))
        t += 7
        touched.add(p)
    # renames: new/ -> cur/ (read), or new flags in cur/
    for p in pick[n_mod:n_mod + n_ren]:
        d, name = os.path.split(p)
        if os.path.basename(d) == "new":
            q = os.path.join(os.path.dirname(d), "cur", name + ":2,S")
        else:
            q = os.path.join(d, name.split(":2,")[0] + ":2," + rng.choice(["RS", "FS", "S", "ST"]) + "")
            if q == p:
                q = os.path.join(d, name.split(":2,")[0] + ":2,FRS")
        os.rename(p, q)
        touched.add(q)
    for p in pick[n_mod + n_ren:]:
        os.unlink(p)
    # sys files rewritten, as by a package upgrade: some 4 KiB blocks
    # changed, a few bytes more or fewer at the end
    sysf = [p for p in sysf if os.stat(p).st_nlink == 1]
    for p in rng.sample(sysf, min(len(sysf), n_sys)):
        st = os.stat(p)
        with open(p, "rb") as f:
            data = bytearray(f.read())
        for _ in range(rng.randint(1, 8)):
            o = rng.randrange(0, max(len(data), 1)) // BLK * BLK
            data[o:o + BLK] = rng.bytes(min(BLK, max(len(data) - o, 0)))
        data += rng.bytes(rng.randint(1, 4096))
        tmp = p + ".bwcorpus-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.utime(tmp, (t, t))
        os.replace(tmp, p)     # a new inode, as dpkg does (breaks hard links too)
        t += 3
        touched.add(p)
    # vm/clone.img: 20 random 64 KiB regions in place
    clone = os.path.join(out, "vm", "clone.img")
    if os.path.exists(clone):
        with open(clone, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            for _ in range(20):
                o = rng.randrange(0, max(size - 65536, 0) // BLK + 1) * BLK
                f.seek(o)
                f.write(rng.bytes(min(65536, size - o)))
        os.utime(clone, (t, t))
        touched.add(clone)
    return len(touched), n_del


def settle(out):
    """Deterministic times for what the generator does not date itself:
    symlinks get T1, each directory the newest time of its entries."""
    for dp, dns, fns in os.walk(out, topdown=False):
        newest = T0
        for fn in dns + fns:
            p = os.path.join(dp, fn)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                os.utime(p, (T1, T1), follow_symlinks=False)
                st = os.lstat(p)
            newest = max(newest, st.st_mtime_ns)
        os.utime(dp, ns=(newest, newest))


def summary(out):
    nfiles = nbytes = alloc = nlinks = ndirs = 0
    seen = set()
    for dp, dns, fns in os.walk(out):
        ndirs += 1
        for fn in fns + [d for d in dns if os.path.islink(os.path.join(dp, d))]:
            st = os.lstat(os.path.join(dp, fn))
            if stat.S_ISLNK(st.st_mode):
                nlinks += 1
            elif stat.S_ISREG(st.st_mode):
                nfiles += 1
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    nbytes += st.st_size
                    alloc += st.st_blocks * 512
    return nfiles, nbytes, alloc, nlinks, ndirs


def main():
    ap = argparse.ArgumentParser(description="deterministic backup benchmark corpus")
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--mutate", action="store_true", help="apply the second-backup change to OUTDIR")
    a = ap.parse_args()
    if not a.scale > 0:
        ap.error("--scale must be > 0")
    out = os.path.abspath(a.outdir)
    t0 = time.monotonic()
    os.umask(0o022)
    if a.mutate:
        if not os.path.isdir(os.path.join(out, "mail")):
            sys.exit("mkcorpus: %s is not a corpus" % out)
        n, ndel = mutate(out, a.seed, a.scale)
        what = "mutated: %d files written, created or renamed, %d deleted" % (n, ndel)
    else:
        if os.path.exists(out) and os.listdir(out):
            sys.exit("mkcorpus: %s exists and is not empty" % out)
        os.makedirs(out, exist_ok=True)
        text = Text(Rand(a.seed, "vmtext"), 4 * MiB)
        # the message bodies' pool: 16 MB at scale 1 (repeats within
        # zstd's window about as often as quoted text does in real mail)
        mtext = Text(Rand(a.seed, "text"), max(4 * MiB, int(16e6 * min(a.scale, 1))))
        make_mail(out, Rand(a.seed, "mail"), mtext, a.scale)
        make_sys(out, Rand(a.seed, "sys"), a.scale, a.seed)
        make_vm(out, Rand(a.seed, "vm"), text, a.scale)
        what = "generated"
    settle(out)
    nfiles, nbytes, alloc, nlinks, ndirs = summary(out)
    print("mkcorpus: %s %s in %.1f s: %d files, %d bytes (%.1f MiB; %.1f MiB allocated), "
          "%d symlinks, %d directories"
          % (out, what, time.monotonic() - t0, nfiles, nbytes, nbytes / MiB, alloc / MiB, nlinks, ndirs))


if __name__ == "__main__":
    main()
