#!/usr/bin/env python3
"""thief.py - what another process of a gateway user would try against
that user's live sessions (tests/integration/test_gateway.sh): watch
/dev/shm and /tmp for session directories, connect to each session's
agent socket the moment it appears and ask for its identities, read
every file there looking for a private key, and open /proc files of the
user's ssh processes. Runs until STOP exists, then writes what it got as
JSON to OUT. Usage: thief.py OUT STOP
"""
import json
import os
import socket
import struct
import sys
import time

out_path, stop_path = sys.argv[1], sys.argv[2]
uid = os.getuid()
got = {"pid": os.getpid(), "dirs": 0, "connects": 0, "answers": [], "files": [],
       "private_keys": [], "ssh_procs": 0, "proc_readable": []}
seen_dirs, tried = set(), set()


def session_dirs():
    for base in ("/dev/shm", "/tmp"):
        try:
            with os.scandir(base) as it:
                for e in it:
                    if e.name.startswith("bulwark-"):
                        try:
                            if e.stat(follow_symlinks=False).st_uid == uid:
                                yield e.path
                        except OSError:
                            pass
        except OSError:
            pass


def steal_agent(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
    except OSError:
        return False
    got["connects"] += 1
    try:
        s.sendall(struct.pack(">IB", 1, 11))  # REQUEST_IDENTITIES
        data = s.recv(65536)
        got["answers"].append(data.hex())
    except OSError as e:
        got["answers"].append("error:" + e.__class__.__name__)
    s.close()
    return True


def look(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = os.path.join(d, n)
        if n == "agent":
            if p not in tried and steal_agent(p):
                tried.add(p)
            continue
        if n not in got["files"]:
            got["files"].append(n)
        try:
            with open(p, "rb") as f:
                if b"PRIVATE KEY" in f.read(65536):
                    got["private_keys"].append(p)
        except OSError:
            pass


def ssh_procs():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat("/proc/" + pid).st_uid != uid:
                continue
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm not in ("ssh", "bulwark-ssh"):
            continue
        got["ssh_procs"] += 1
        for what in ("environ", "mem"):
            try:
                with open("/proc/%s/%s" % (pid, what), "rb") as f:
                    f.read(1)
                got["proc_readable"].append("%s:%s:%s" % (pid, comm, what))
            except OSError:
                pass


last_procs = 0.0
while not os.path.exists(stop_path):
    for d in session_dirs():
        if d not in seen_dirs:
            seen_dirs.add(d)
            got["dirs"] += 1
        look(d)
    now = time.monotonic()
    if now - last_procs > 0.05:
        ssh_procs()
        last_procs = now
with open(out_path, "w") as f:
    json.dump(got, f)
