#!/usr/bin/env python3
"""gwlogin.py - runs a command as a shell of a live gateway login, the way
sshd does, for tests that talk to bulwarkd without sshd.

    gwlogin.py [--close-first] SOCKET USER UID GID -- COMMAND [ARG...]

As root it sends LOGIN_OPEN for USER (pam_bulwark's session step in sshd's
monitor) and stays, standing for the monitor; a child stands for sshd's
unprivileged process and starts COMMAND as UID:GID, the shell. When COMMAND
exits, the login is closed with LOGIN_CLOSE and gwlogin exits with
COMMAND's status. --close-first closes the login before COMMAND starts,
so that it runs in the tree of a login that has ended.
"""
import os
import socket
import struct
import sys

LOGIN_OPEN, LOGIN_CLOSE = 10, 11
P_USER, P_LOGIN_ID = 1, 33


def frame(typ, fields):
    body = struct.pack('>H', typ)
    for tag, data in fields:
        body += struct.pack('>HI', tag, len(data)) + data
    return struct.pack('>I', len(body)) + body


def call(path, typ, fields):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(10)
    s.sendall(frame(typ, fields))
    n = struct.unpack('>I', s.recv(4, socket.MSG_WAITALL))[0]
    body = s.recv(n, socket.MSG_WAITALL)
    s.close()
    out, i = {}, 2
    while i < len(body):
        tag, ln = struct.unpack('>HI', body[i:i + 6])
        out[tag] = body[i + 6:i + 6 + ln]
        i += 6 + ln
    status = struct.unpack('>i', out[0].rjust(4, b'\0'))[0]
    if status != 0:
        sys.exit('gwlogin: request %d refused with status %d' % (typ, status))
    return out


def main():
    args = sys.argv[1:]
    close_first = '--close-first' in args[:args.index('--') if '--' in args else 0]
    if close_first:
        args.remove('--close-first')
    if len(args) < 6 or args[4] != '--':
        sys.exit(__doc__)
    path, user, uid, gid = args[0], args[1], int(args[2]), int(args[3])
    cmd = args[5:]
    login = call(path, LOGIN_OPEN, [(P_USER, user.encode())])[P_LOGIN_ID]
    if close_first:
        call(path, LOGIN_CLOSE, [(P_LOGIN_ID, login)])
    sshd = os.fork()
    if sshd == 0:
        shell = os.fork()
        if shell == 0:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.execvp(cmd[0], cmd)
        _, st = os.waitpid(shell, 0)
        os._exit(os.waitstatus_to_exitcode(st) & 0xff)
    _, st = os.waitpid(sshd, 0)
    if not close_first:
        call(path, LOGIN_CLOSE, [(P_LOGIN_ID, login)])
    sys.exit(os.waitstatus_to_exitcode(st))


main()
