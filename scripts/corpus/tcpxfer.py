#!/usr/bin/python3
"""Tiny TCP transfer used by scripts/make-corpus to push real data through
the ICMP tunnels (ptunnel, ptunnel-ng) and to add plain TCP to the demo.

  tcpxfer.py serve HOST PORT SEND_BYTES --expect N
      accept one connection, read N bytes (or until EOF), answer with
      SEND_BYTES random bytes, wait for the peer to close; prints "rx= tx=".
  tcpxfer.py send HOST PORT SEND_BYTES --expect N [--timeout S]
      connect (retrying until the timeout), send SEND_BYTES random bytes,
      read N bytes back, close; exits 1 if fewer than N bytes came back
      (without --expect: if nothing came back; --expect 0: a one-way send).

No half-close: ptunnel tears the whole tunnel down when its local side
sees EOF, so each side knows the byte count instead.
  --chat N (both sides): after the bulk transfer, N interactive rounds: the
      client sends 64..200 bytes, waits 0.3 s, the server answers 100..600
      bytes (like a shell session), so the tunnel also idles and acks.

Standard library only; random data comes from os.urandom, so the tunnel
carries incompressible bytes like an encrypted session would.
"""
import os
import socket
import sys
import time


def recv_exact(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            break
        got += len(chunk)
    return got


def serve(host, port, send_bytes, expect, chat):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(4)
    # tell the parent we are ready (it polls for this line)
    print("listening", flush=True)
    conn, _ = ls.accept()
    conn.settimeout(60)
    rx = 0
    while rx < expect:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rx += len(chunk)
    conn.sendall(os.urandom(send_bytes))
    for _ in range(chat):
        head = conn.recv(2)
        if len(head) < 2:
            break
        recv_exact(conn, head[0] | head[1] << 8)
        n = 100 + os.urandom(1)[0] * 2
        conn.sendall(bytes([n & 0xff, n >> 8]) + os.urandom(n))
    # wait for the client to close so the FIN exchange completes
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()
    ls.close()
    print(f"server rx={rx} tx={send_bytes}", file=sys.stderr)


def send(host, port, send_bytes, expect, timeout, chat, minimum):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.time() + timeout
    while True:  # the tunnel client may need a moment before it listens
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            break
        except OSError:
            s.close()
            if time.time() > deadline:
                print("tcpxfer: cannot connect", file=sys.stderr)
                return 1
            time.sleep(0.2)
    s.settimeout(timeout)
    data = os.urandom(send_bytes)
    # write in modest pieces so the tunnel sees a stream, not one burst
    for off in range(0, len(data), 4096):
        s.sendall(data[off:off + 4096])
    rx = 0
    try:
        while rx < expect:
            chunk = s.recv(65536)
            if not chunk:
                break
            rx += len(chunk)
        for _ in range(chat):
            time.sleep(0.3)
            n = 64 + os.urandom(1)[0] % 137
            s.sendall(bytes([n & 0xff, n >> 8]) + os.urandom(n))
            head = s.recv(2)
            if len(head) < 2:
                break
            recv_exact(s, head[0] | head[1] << 8)
    except socket.timeout:
        pass
    s.close()
    print(f"client tx={send_bytes} rx={rx}", file=sys.stderr)
    if rx < minimum:
        print(f"tcpxfer: expected {expect} bytes back, got {rx}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    if len(argv) < 5 or argv[1] not in ("serve", "send"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, host, port, nbytes = argv[1], argv[2], int(argv[3]), int(argv[4])
    opts = argv[5:]
    expect = 0
    timeout = 30.0
    chat = 0
    if "--chat" in opts:
        chat = int(opts[opts.index("--chat") + 1])
    if "--expect" in opts:
        expect = int(opts[opts.index("--expect") + 1])
    if "--timeout" in opts:
        timeout = float(opts[opts.index("--timeout") + 1])
    if mode == "serve":
        serve(host, port, nbytes, expect, chat)
        return 0
    minimum = expect if "--expect" in opts else 1
    return send(host, port, nbytes, expect, timeout, chat, minimum)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
