#!/usr/bin/env python3
"""nodelay.py [--accepted] PID PORT: exits 0 when the TCP socket that
process PID listens on at PORT has TCP_NODELAY and, with --accepted, so
has the socket of a connection made here, as accepted by a child of PID.

The sockets are read from the processes themselves: pidfd_getfd(2)
copies their descriptors (root, or ptrace rights over them). sshd never
sets TCP_NODELAY on a listening socket, so a listener that has it is the
one bulwark gateway sshd (or the systemd socket unit) handed over.
"""
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438
args = sys.argv[1:]
accepted = args[:1] == ['--accepted']
if accepted:
    args = args[1:]
listener, port = int(args[0]), int(args[1])

def sockets(pid):
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        for fd in os.listdir('/proc/%d/fd' % pid):
            try:
                if not os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:'):
                    continue
            except OSError:
                continue
            n = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
            if n < 0:
                continue
            s = socket.socket(fileno=n)
            if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM:
                yield s
            else:
                s.close()
    finally:
        os.close(pidfd)

def nodelay(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

found = [s for s in sockets(listener) if s.getsockname()[1] == port]
if not found or any(nodelay(s) != 1 for s in found):
    sys.exit('listener: %s' % [(s.getsockname(), nodelay(s)) for s in found])
if not accepted:
    sys.exit(0)
c = socket.create_connection(('127.0.0.1', port))
me = c.getsockname()
end = time.monotonic() + 10
while time.monotonic() < end:
    with open('/proc/%d/task/%d/children' % (listener, listener)) as f:
        kids = [int(k) for k in f.read().split()]
    for k in kids:
        for s in sockets(k):
            try:
                if s.getpeername()[:2] == me[:2]:
                    if nodelay(s) != 1:
                        sys.exit('accepted connection without TCP_NODELAY')
                    sys.exit(0)
            except OSError:
                pass
    time.sleep(0.05)
sys.exit('no sshd holds the accepted connection')
