#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every hex dump in docs/PROTOCOL.md section 7 is a well-formed frame: the
# magic, version and length are right and body_crc is the CRC32C of the body;
# the HMAC in the example is what the stated secret and nonce give; and the
# RECEIPT_PUT example's body holds the fields its caption names.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - docs/PROTOCOL.md <<'PY'
import re, struct, sys, hmac, hashlib
def crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
doc = open(sys.argv[1]).read()
sect = doc.split("## 7. Worked examples", 1)[1]
blocks = re.findall(r"```\n(.*?)```", sect, re.S)
assert len(blocks) >= 8, "expected the worked examples"
frames = {}
for blk in blocks:
    data = bytes(int(h, 16) for line in blk.strip().splitlines() for h in line.split()[1:])
    magic, ver, flags, op, rid, ln, crc = struct.unpack("<IBBHQII", data[:24])
    assert magic == 0x444C5248 and ver == 1, blk
    assert ln == len(data) - 24, ("length", blk)
    assert crc == crc32c(data[24:]), ("crc", blk)
    frames[(op, flags)] = data
# RECEIPT_PUT (0x0030): user alice, message 42, campaign 7, push, huawei,
# failed, event_unix_ms 1700000000000, reason "expired"; answered with
# recorded_unix_ms 1700000000250.
put = (struct.pack("<H", 5) + b"alice" + struct.pack("<QQBBBQ", 42, 7, 1, 3, 6, 1700000000000)
       + struct.pack("<H", 7) + b"expired")
assert frames.get((0x0030, 0)) is not None, "RECEIPT_PUT request example"
assert frames[(0x0030, 0)][24:] == put, "RECEIPT_PUT request body"
assert frames[(0x0030, 1)][24:] == struct.pack("<Q", 1700000000250), "RECEIPT_PUT answer body"
mac = re.search(r"= `([0-9a-f]{64})`", sect).group(1)
want = hmac.new(bytes([0x11] * 32), bytes(range(32)) + b"shop", hashlib.sha256).hexdigest()
assert mac == want, "mac example"
print(f"{len(blocks)} example frames check out")
PY
