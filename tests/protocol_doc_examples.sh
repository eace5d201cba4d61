#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every hex dump in docs/PROTOCOL.md section 7 is a well-formed frame: the
# magic, version and length are right and body_crc is the CRC32C of the body;
# the HMAC in the example is what the stated secret and nonce give; and the
# RECEIPT_PUT, CAMPAIGN_CREATE (tag and upload audiences), CAMPAIGN_CONTROL,
# VENDOR_SET and CAMPAIGN_UPLOAD examples' bodies hold the fields their
# captions name (packed here by hand, not with any client).
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
frames = {}  # (opcode, flags) -> the frames, in the document's order
for blk in blocks:
    data = bytes(int(h, 16) for line in blk.strip().splitlines() for h in line.split()[1:])
    magic, ver, flags, op, rid, ln, crc = struct.unpack("<IBBHQII", data[:24])
    assert magic == 0x444C5248 and ver == 1, blk
    assert ln == len(data) - 24, ("length", blk)
    assert crc == crc32c(data[24:]), ("crc", blk)
    frames.setdefault((op, flags), []).append(data)
# RECEIPT_PUT (0x0030): user alice, message 42, campaign 7, push, huawei,
# failed, event_unix_ms 1700000000000, reason "expired"; answered with
# recorded_unix_ms 1700000000250.
put = (struct.pack("<H", 5) + b"alice" + struct.pack("<QQBBBQ", 42, 7, 1, 3, 6, 1700000000000)
       + struct.pack("<H", 7) + b"expired")
assert frames.get((0x0030, 0)) is not None, "RECEIPT_PUT request example"
assert frames[(0x0030, 0)][0][24:] == put, "RECEIPT_PUT request body"
assert frames[(0x0030, 1)][0][24:] == struct.pack("<Q", 1700000000250), "RECEIPT_PUT answer body"
# CAMPAIGN_CREATE (0x0040): tag audience, bulk, push, title "Hi {{name|there}}",
# body "Sale today", no category, "vip AND NOT churned"; answered campaign 12.
def s16(b):
    return struct.pack("<H", len(b)) + b
create = (bytes([3, 0, 1, 1]) + s16(b"Hi {{name|there}}") + s16(b"Sale today") + s16(b"")
          + s16(b"vip AND NOT churned"))
assert frames.get((0x0040, 0)) is not None, "CAMPAIGN_CREATE request example"
assert frames[(0x0040, 0)][0][24:] == create, "CAMPAIGN_CREATE request body"
assert frames[(0x0040, 1)][0][24:] == struct.pack("<Q", 12), "CAMPAIGN_CREATE answer body"
# CAMPAIGN_CONTROL (0x0042): campaign 12, pause; answered state 2 (paused).
assert frames[(0x0042, 0)][0][24:] == struct.pack("<QB", 12, 1), "CAMPAIGN_CONTROL request body"
assert frames[(0x0042, 1)][0][24:] == b"\x02", "CAMPAIGN_CONTROL answer body"
# VENDOR_SET (0x0043): webhook, url, secret "s3cret", other strings empty,
# batch_max 0, connections 0, rate_per_s 500, daily_quota 0.
vendor = (b"\x06" + s16(b"http://10.0.0.5:8080/push") + s16(b"") + s16(b"s3cret") + s16(b"") * 4
          + struct.pack("<HHII", 0, 0, 500, 0))
assert frames[(0x0043, 0)][0][24:] == vendor, "VENDOR_SET request body"
# The second CAMPAIGN_CREATE (request id 10): audience 5 (upload), bulk, push,
# no title, body "Order {{row.order}} is on its way", no category, kind 1
# (user ids), columns "order"; answered campaign 13.
upload_create = (bytes([5, 0, 1, 1]) + s16(b"") + s16(b"Order {{row.order}} is on its way") + s16(b"")
                 + b"\x01" + s16(b"order"))
assert len(frames[(0x0040, 0)]) == 2 and len(frames[(0x0040, 1)]) == 2, "two CAMPAIGN_CREATE examples"
assert frames[(0x0040, 0)][1][24:] == upload_create, "CAMPAIGN_CREATE (upload) request body"
assert frames[(0x0040, 0)][1][8:16] == struct.pack("<Q", 10), "CAMPAIGN_CREATE (upload) request id"
assert frames[(0x0040, 1)][1][24:] == struct.pack("<Q", 13), "CAMPAIGN_CREATE (upload) answer body"
# CAMPAIGN_UPLOAD (0x0045): campaign 13, first_line 1, last 1, then the rows
# "alice,A-17\nbob\n" to the end of the body; answered 1 accepted, 1
# rejected, reported line 2 "fewer fields than the campaign's columns".
upload = struct.pack("<QIB", 13, 1, 1) + b"alice,A-17\nbob\n"
assert frames[(0x0045, 0)][0][24:] == upload, "CAMPAIGN_UPLOAD request body"
assert frames[(0x0045, 1)][0][24:] == (struct.pack("<IIHI", 1, 1, 1, 2)
                                       + s16(b"fewer fields than the campaign's columns")), \
    "CAMPAIGN_UPLOAD answer body"
assert frames[(0x0045, 0)][0][8:16] == frames[(0x0045, 1)][0][8:16], "the answer echoes the request id"
mac = re.search(r"= `([0-9a-f]{64})`", sect).group(1)
want = hmac.new(bytes([0x11] * 32), bytes(range(32)) + b"shop", hashlib.sha256).hexdigest()
assert mac == want, "mac example"
print(f"{len(blocks)} example frames check out")
PY
