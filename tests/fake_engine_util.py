# SPDX-License-Identifier: Apache-2.0
"""Helpers for the fake engines of the CLI tests (a Herald frame writer and
reader in a few lines): CRC32C, frames, str fields, reading one request.
Written from docs/PROTOCOL.md; the tests import it with sys.path."""
import os
import socket
import struct


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(opcode, req_id, body, flags=1, magic=b"HRLD", version=1, crc=None, length=None):
    return magic + struct.pack("<BBHQII", version, flags, opcode, req_id,
                               len(body) if length is None else length,
                               crc32c(body) if crc is None else crc) + body


def s(text):
    return struct.pack("<H", len(text)) + text


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            raise SystemExit(0)
        buf += chunk
    return buf


def read_request(c):
    _, _, _, opcode, req_id, blen, _ = struct.unpack("<4sBBHQII", recv_exact(c, 24))
    return opcode, req_id, recv_exact(c, blen)


def listen_and_accept(port_file):
    """Listen on a free loopback port, publish it in port_file, accept one client."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    c, _ = ls.accept()
    return c
