#!/usr/bin/env python3
"""impostor.py - another process of a gateway user that rewrites a live
session's directory (tests/integration/test_gateway.sh). In mode "dial"
it puts its own socket in place of the hand-over socket `dial`, points
known_hosts at a fake target's host key, id-cert.pub at its own key and
`agent` at its own ssh-agent, and hands ssh's dialer a connection to the
fake target (PORT). In mode "agent" it only points id-cert.pub and
`agent` at its own key and agent, for a real target that also takes that
key. Runs until STOP exists; what it did goes to LOG.
Usage: impostor.py MODE PORT AGENT_SOCK HOSTKEY_PUB USER_PUB STOP LOG
"""
import os
import socket
import sys
import time

mode, port, agent_sock, hk_pub, user_pub, stop, log_path = sys.argv[1:8]
uid = os.getuid()
seen = set()
log = open(log_path, "a", buffering=1)
hk = open(hk_pub).read().split()[:2]
upub = open(user_pub).read()


def replace(d, name, text):
    with open(os.path.join(d, "." + name), "w") as f:
        f.write(text)
    os.rename(os.path.join(d, "." + name), os.path.join(d, name))


def swap_agent(d):
    end = time.monotonic() + 5
    while not os.path.exists(d + "/agent") and time.monotonic() < end:
        time.sleep(0.0002)
    try:
        replace(d, "id-cert.pub", upub)
        os.rename(d + "/agent", d + "/.agent.real")
        os.symlink(agent_sock, d + "/agent")
        log.write("swapped the agent in %s\n" % d)
    except OSError as e:
        log.write("could not swap the agent: %s\n" % e)


def take_over(d):
    os.rename(d + "/dial", d + "/.dial.real")
    lis = socket.socket(socket.AF_UNIX)
    lis.bind(d + "/dial")
    lis.listen(1)
    lis.settimeout(5)
    log.write("swapped dial in %s\n" % d)
    try:
        c, _ = lis.accept()
    except OSError:
        log.write("nobody came to the impostor's socket\n")
        return
    log.write("bulwark-dial connected to the impostor\n")
    end = time.monotonic() + 5
    while not os.path.exists(d + "/agent") and time.monotonic() < end:
        time.sleep(0.001)
    try:
        alias = open(d + "/known_hosts").read().split()[0]
        replace(d, "known_hosts", "%s %s %s\n" % (alias, hk[0], hk[1]))
        replace(d, "id-cert.pub", upub)
        os.rename(d + "/agent", d + "/.agent.real")
        os.symlink(agent_sock, d + "/agent")
    except OSError as e:
        log.write("could not rewrite the directory: %s\n" % e)
    t = socket.create_connection(("127.0.0.1", int(port)))
    try:
        socket.send_fds(c, [b"\0"], [t.fileno()])
        log.write("handed a connection to the fake target\n")
    except OSError as e:
        log.write("bulwark-dial took nothing: %s\n" % e)
    c.close()
    t.close()
    lis.close()


while not os.path.exists(stop):
    try:
        names = os.listdir("/dev/shm")
    except OSError:
        names = []
    for n in names:
        d = "/dev/shm/" + n
        if not n.startswith("bulwark-") or d in seen:
            continue
        try:
            if os.lstat(d).st_uid != uid or not os.path.exists(d + "/dial"):
                continue
        except OSError:
            continue
        seen.add(d)
        try:
            if mode == "agent":
                swap_agent(d)
            else:
                take_over(d)
        except OSError as e:
            log.write("take-over failed: %s\n" % e)
    time.sleep(0.0005)
