#!/usr/bin/python3
"""A hostile agent for the vault's receive protocol (src/vault/proto.h).

    vaultproto.py SCENARIO HOST [ARGS...] -- COMMAND...

runs COMMAND (ssh with the agent's own key, or `bulwark vault receive`),
plays SCENARIO on its stdin/stdout and prints what the vault answered:
"OK <hex payload>" or "ERR <text>" per request, or "EOF" when the vault
closed. Scenarios, all things a compromised production host might try:

  badname           a pack under a name that is not its hash
  overwrite F NAME  the bytes of pack file F, altered, under existing NAME
  replay F NAME     pack file F again under its own NAME (allowed: no-op)
  list              a message type that would list the vault (none exists)
  wronghost         hello with a host name other than the key's
  truncate F NAME   the start of pack F under NAME, then hang up
"""
import struct
import subprocess
import sys

HELLO, PACK, SNAP, BYE = 1, 2, 3, 4
OK, ERR = 0x81, 0x82


def frame(t, payload):
    return struct.pack(">BI", t, len(payload)) + payload


def read_reply(f):
    head = f.read(5)
    if len(head) < 5:
        return "EOF"
    t, n = struct.unpack(">BI", head)
    body = f.read(n)
    if t == OK:
        return "OK " + body.hex()
    if t == ERR:
        return "ERR " + body.decode("utf-8", "replace")
    return "BAD %d" % t


def main():
    sep = sys.argv.index("--")
    args, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
    scenario, host, rest = args[0], args[1], args[2:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = []

    def say(t, payload):
        try:
            p.stdin.write(frame(t, payload))
            p.stdin.flush()
        except BrokenPipeError:
            pass
        out.append(read_reply(p.stdout))

    name = host if scenario != "wronghost" else "not-" + host
    say(HELLO, b"BWRP\x01" + name.encode())
    if out[-1].startswith("OK"):
        if scenario == "badname":
            body = b"BWPK" + bytes(200)
            say(PACK, b"0" * 64 + body)
        elif scenario in ("overwrite", "replay", "truncate"):
            data = bytearray(open(rest[0], "rb").read())
            if scenario == "overwrite":
                data[len(data) // 2] ^= 0x01
            if scenario == "truncate":
                hdr = struct.pack(">BI", PACK, 64 + len(data))
                p.stdin.write(hdr + rest[1].encode() + bytes(data[:len(data) // 3]))
                p.stdin.close()
                out.append(read_reply(p.stdout))
            else:
                say(PACK, rest[1].encode() + bytes(data))
        elif scenario == "list":
            say(5, b"")
        if scenario != "truncate" and not out[-1].startswith(("ERR", "EOF")):
            say(BYE, b"")
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.wait()
    print("\n".join(out))


if __name__ == "__main__":
    main()
