# SPDX-License-Identifier: Apache-2.0
"""
herald_client.py - an independent client of Herald wire protocol v1.

Written only from docs/PROTOCOL.md, with the Python 3 standard library
(socket, struct, hmac, hashlib), to show that the document alone is enough
to talk to heraldd. It shares no code with the engine or the C client.

Frame (PROTOCOL.md section 2), little-endian, 24-byte header then the body:

    0   4  magic       b"HRLD" (u32 0x444C5248)
    4   1  version     1
    5   1  flags       bit0 RESPONSE, bit1 ERROR
    6   2  opcode
    8   8  request_id
   16   4  body_len    0 .. 1048576
   20   4  body_crc    CRC32C of the body, 0 for an empty body

Layers, lowest first:
  crc32c()                  CRC32C (Castagnoli), table driven
  Writer / Reader           body fields: u8 u16 u32 u64 str raw
  enc_* / dec_*             one encoder and one decoder per opcode
  Connection                frames over a socket, pipelining by request id
  Connection.hello() ...    one call per operation; errors raise HeraldError
"""

import hashlib
import hmac
import socket
import struct
import time

# ---- constants (PROTOCOL.md) ------------------------------------------------

MAGIC = b"HRLD"
MAGIC_U32 = 0x444C5248
VERSION = 1
HEADER_BYTES = 24
BODY_BYTES_MAX = 1048576
NONCE_BYTES = 32
MAC_BYTES = 32
SECRET_BYTES = 32

FLAG_RESPONSE = 0x01
FLAG_ERROR = 0x02

OP_HELLO = 0x0001
OP_AUTH = 0x0002
OP_PING = 0x0003
OP_STATS = 0x0004
OP_STORE_STATS = 0x0005
OP_APP_CREATE = 0x0010
OP_APP_LIST = 0x0011
OP_APP_ROTATE = 0x0012
OP_BIND = 0x0020
OP_UNBIND = 0x0021
OP_ALIAS_SET = 0x0022
OP_ALIAS_DEL = 0x0023
OP_ALIAS_LOOKUP = 0x0024
OP_TAG_ADD = 0x0025
OP_TAG_DEL = 0x0026
OP_ATTR_SET = 0x0027
OP_USER_SHOW = 0x0028
OP_RECEIPT_PUT = 0x0030
OP_HISTORY = 0x0031
OP_CAMPAIGN_COUNTERS = 0x0032
OP_CAMPAIGN_CREATE = 0x0040
OP_CAMPAIGN_STATUS = 0x0041
OP_CAMPAIGN_CONTROL = 0x0042
OP_VENDOR_SET = 0x0043
OP_VENDOR_LIST = 0x0044
OP_CAMPAIGN_UPLOAD = 0x0045

OP_NAMES = {
    OP_HELLO: "HELLO", OP_AUTH: "AUTH", OP_PING: "PING", OP_STATS: "STATS",
    OP_STORE_STATS: "STORE_STATS",
    OP_APP_CREATE: "APP_CREATE", OP_APP_LIST: "APP_LIST",
    OP_APP_ROTATE: "APP_ROTATE", OP_BIND: "BIND", OP_UNBIND: "UNBIND",
    OP_ALIAS_SET: "ALIAS_SET", OP_ALIAS_DEL: "ALIAS_DEL",
    OP_ALIAS_LOOKUP: "ALIAS_LOOKUP", OP_TAG_ADD: "TAG_ADD",
    OP_TAG_DEL: "TAG_DEL", OP_ATTR_SET: "ATTR_SET", OP_USER_SHOW: "USER_SHOW",
    OP_RECEIPT_PUT: "RECEIPT_PUT", OP_HISTORY: "HISTORY",
    OP_CAMPAIGN_COUNTERS: "CAMPAIGN_COUNTERS",
    OP_CAMPAIGN_CREATE: "CAMPAIGN_CREATE", OP_CAMPAIGN_STATUS: "CAMPAIGN_STATUS",
    OP_CAMPAIGN_CONTROL: "CAMPAIGN_CONTROL", OP_VENDOR_SET: "VENDOR_SET",
    OP_VENDOR_LIST: "VENDOR_LIST", OP_CAMPAIGN_UPLOAD: "CAMPAIGN_UPLOAD",
}

E_BAD_MAGIC = 1
E_UNSUPPORTED_VERSION = 2
E_BAD_FLAGS = 3
E_FRAME_TOO_LARGE = 4
E_BAD_CRC = 5
E_UNKNOWN_OPCODE = 6
E_BAD_BODY = 7
E_HELLO_REQUIRED = 8
E_AUTH_REQUIRED = 9
E_AUTH_FAILED = 10
E_FORBIDDEN = 11
E_NOT_FOUND = 12
E_EXISTS = 13
E_INVALID_ARGUMENT = 14
E_LIMIT_EXCEEDED = 15
E_TIMEOUT = 16
E_SHUTTING_DOWN = 17
E_INTERNAL = 18
E_BUSY = 19
E_STORE = 20

ERROR_NAMES = {
    1: "E_BAD_MAGIC", 2: "E_UNSUPPORTED_VERSION", 3: "E_BAD_FLAGS",
    4: "E_FRAME_TOO_LARGE", 5: "E_BAD_CRC", 6: "E_UNKNOWN_OPCODE",
    7: "E_BAD_BODY", 8: "E_HELLO_REQUIRED", 9: "E_AUTH_REQUIRED",
    10: "E_AUTH_FAILED", 11: "E_FORBIDDEN", 12: "E_NOT_FOUND", 13: "E_EXISTS",
    14: "E_INVALID_ARGUMENT", 15: "E_LIMIT_EXCEEDED", 16: "E_TIMEOUT",
    17: "E_SHUTTING_DOWN", 18: "E_INTERNAL", 19: "E_BUSY", 20: "E_STORE",
}
# Errors after which the engine closes the connection (section 6).
CLOSING_ERRORS = (E_BAD_MAGIC, E_FRAME_TOO_LARGE, E_AUTH_FAILED, E_TIMEOUT)

CH_PUSH, CH_SMS, CH_EMAIL, CH_WECHAT, CH_WEBHOOK = 1, 2, 3, 4, 5
VENDOR_NONE, VENDOR_APNS, VENDOR_FCM, VENDOR_HUAWEI, VENDOR_XIAOMI = 0, 1, 2, 3, 4
VENDOR_OPPO, VENDOR_VIVO, VENDOR_HONOR, VENDOR_MEIZU = 5, 6, 7, 8
PLATFORM_NONE, PLATFORM_ANDROID, PLATFORM_IOS, PLATFORM_HARMONY, PLATFORM_WEB = 0, 1, 2, 3, 4
ROLE_APP, ROLE_ADMIN = 0, 1
# Receipt states (section 5.1).
STATE_QUEUED, STATE_SENT, STATE_DELIVERED, STATE_DISPLAYED = 1, 2, 3, 4
STATE_CLICKED, STATE_FAILED, STATE_RECALLED = 5, 6, 7
STATE_NAMES = {1: "queued", 2: "sent", 3: "delivered", 4: "displayed", 5: "clicked",
               6: "failed", 7: "recalled"}
# Section 5.2.
CURSOR_BYTES = 16
CURSOR_START = bytes(CURSOR_BYTES)
HISTORY_LIMIT_MAX = 1000
REASON_BYTES_MAX = 64
EVENT_AHEAD_MS_MAX = 24 * 3600 * 1000
ADMIN_APP_ID = "admin"
# Device states (section 5.3).
DEVICE_ACTIVE, DEVICE_INVALID = 0, 1
DEVICE_STATE_NAMES = {0: "active", 1: "invalid"}
# Campaigns (section 5.10).
AUD_USER, AUD_LIST, AUD_TAG, AUD_ALL, AUD_UPLOAD = 1, 2, 3, 4, 5
AUDIENCE_NAMES = {1: "user", 2: "list", 3: "tag", 4: "all", 5: "upload"}
LANE_BULK, LANE_TRANSACTIONAL = 0, 1
CAMPAIGN_RUNNING, CAMPAIGN_PAUSED, CAMPAIGN_CANCELLED, CAMPAIGN_DONE = 1, 2, 3, 4
CAMPAIGN_STATE_NAMES = {1: "running", 2: "paused", 3: "cancelled", 4: "done"}
CONTROL_PAUSE, CONTROL_RESUME, CONTROL_CANCEL = 1, 2, 3
CAMPAIGN_CHANNELS_MAX = 4
CAMPAIGN_USERS_MAX = 1000
CAMPAIGN_BODY_BYTES_MAX = 4096
CAMPAIGN_CATEGORY_BYTES_MAX = 64
TAG_EXPR_BYTES_MAX = 4096
PROGRESS_PPM_ALL = 1000000
# Uploaded audiences (section 5.12).
UPLOAD_USER_IDS, UPLOAD_PHONES = 1, 2
UPLOAD_COLUMNS_MAX = 16
UPLOAD_ROW_BYTES_MAX = 1024
UPLOAD_CHUNK_BYTES_MAX = 448 * 1024
UPLOAD_FIXED_BYTES = 13
UPLOAD_REPORTS_MAX = 100
# Vendors (section 5.11).
TARGET_HUAWEI, TARGET_XIAOMI, TARGET_OPPO, TARGET_VIVO, TARGET_SMS, TARGET_WEBHOOK = 1, 2, 3, 4, 5, 6
TARGET_NAMES = {1: "huawei", 2: "xiaomi", 3: "oppo", 4: "vivo", 5: "sms", 6: "webhook"}
VENDOR_STR_BYTES_MAX = 255


def error_name(code):
    return ERROR_NAMES.get(code, "E_UNKNOWN(%d)" % code)


# ---- CRC32C -------------------------------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC32C (Castagnoli): reflected poly 0x82F63B78, init and final xor ~0.
    crc32c(b"123456789") == 0xE3069283; crc32c(b"") == 0. Pass a previous
    result as crc to continue over more bytes."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = (c >> 8) ^ t[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283
assert crc32c(b"") == 0


# ---- body encoding (section 3) ----------------------------------------------

class ProtocolError(Exception):
    """The engine sent something the document does not allow."""


class Writer:
    def __init__(self):
        self.parts = []

    def u8(self, v):
        self.parts.append(struct.pack("<B", v))
        return self

    def u16(self, v):
        self.parts.append(struct.pack("<H", v))
        return self

    def u32(self, v):
        self.parts.append(struct.pack("<I", v))
        return self

    def u64(self, v):
        self.parts.append(struct.pack("<Q", v))
        return self

    def str(self, s):
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        if len(b) > 65535:
            raise ValueError("str longer than 65535 bytes")
        self.parts.append(struct.pack("<H", len(b)) + b)
        return self

    def raw(self, b):
        self.parts.append(bytes(b))
        return self

    def bytes(self):
        return b"".join(self.parts)


class Reader:
    """Reads body fields; raises ProtocolError when the body runs out."""

    def __init__(self, body, what="body"):
        self.b = bytes(body)
        self.off = 0
        self.what = what

    def _take(self, n):
        if self.off + n > len(self.b):
            raise ProtocolError("%s: needs %d bytes at offset %d, has %d"
                                % (self.what, n, self.off, len(self.b) - self.off))
        v = self.b[self.off:self.off + n]
        self.off += n
        return v

    def u8(self):
        return self._take(1)[0]

    def u16(self):
        return struct.unpack("<H", self._take(2))[0]

    def u32(self):
        return struct.unpack("<I", self._take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self._take(8))[0]

    def str_bytes(self):
        return self._take(self.u16())

    def str(self):
        b = self.str_bytes()
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("%s: str is not UTF-8: %r" % (self.what, b)) from e

    def raw(self, n):
        return self._take(n)

    def left(self):
        return len(self.b) - self.off

    def done(self):
        if self.off != len(self.b):
            raise ProtocolError("%s: %d trailing bytes" % (self.what, len(self.b) - self.off))


# ---- per-opcode encoders (requests) and decoders (responses) ---------------

def enc_hello(min_version=1, max_version=1, client_name="pyclient"):
    return Writer().u8(min_version).u8(max_version).str(client_name).bytes()


def dec_hello(body):
    r = Reader(body, "HELLO answer")
    out = {
        "version": r.u8(),
        "reserved": r.u8(),
        "core_count": r.u16(),
        "max_body_bytes": r.u32(),
        "nonce": r.raw(NONCE_BYTES),
        "server_name": r.str(),
    }
    r.done()
    return out


def auth_mac(secret, nonce, app_id):
    """HMAC-SHA256(key = secret, message = nonce || app_id)."""
    return hmac.new(bytes(secret), bytes(nonce) + app_id.encode("utf-8"),
                    hashlib.sha256).digest()


def enc_auth(app_id, mac):
    return Writer().str(app_id).raw(mac).bytes()


def dec_auth(body):
    r = Reader(body, "AUTH answer")
    out = {"app_id": r.str(), "role": r.u8()}
    r.done()
    return out


def dec_stats(body):
    r = Reader(body, "STATS answer")
    n = r.u16()
    cores = []
    for _ in range(n):
        cores.append({
            "core": r.u16(),
            "partitions_owned": r.u32(),
            "connections_open": r.u64(),
            "requests_total": r.u64(),
            "forwarded_total": r.u64(),
            "users": r.u64(),
        })
    r.done()
    return {"core_count": n, "cores": cores}


# Section 5.4: the fixed part of a STORE_STATS answer, one core entry, and
# the receipt-log fields after the per-core list.
STORE_STATS_FIXED_BYTES = 4 + 8 * 5 + 4 + 8 + 2
STORE_STATS_CORE_BYTES = 2 + 8 * 5 + 1 + 4 + 8 * 3
STORE_STATS_TAIL_BYTES = 4 + 8 * 4
assert (STORE_STATS_FIXED_BYTES, STORE_STATS_CORE_BYTES, STORE_STATS_TAIL_BYTES) == (58, 71, 36)
COMPACTION_STATES = {0: "idle", 1: "rewriting", 2: "syncing", 3: "wait_delete"}


def dec_store_stats(body):
    """Section 5.4."""
    r = Reader(body, "STORE_STATS answer")
    out = {
        "epoch": r.u32(),
        "recovery_ms": r.u64(),
        "recovered_segments": r.u64(),
        "recovered_records": r.u64(),
        "torn_tails": r.u64(),
        "corrupt_records": r.u64(),
        "segment_files": r.u32(),
        "segment_bytes": r.u64(),
    }
    n = r.u16()
    out["core_count"] = n
    out["cores"] = []
    for _ in range(n):
        core = {
            "core": r.u16(),
            "records_written": r.u64(),
            "bytes_written": r.u64(),
            "flushes": r.u64(),
            "io_errors": r.u64(),
            "users": r.u64(),
            "compaction": r.u8(),
            "compaction_rounds": r.u32(),
            "records_rewritten": r.u64(),
            "segments_deleted": r.u64(),
            "bytes_reclaimed": r.u64(),
        }
        if core["compaction"] not in COMPACTION_STATES:
            raise ProtocolError("STORE_STATS answer: compaction state %d" % core["compaction"])
        out["cores"].append(core)
    out["event_segment_files"] = r.u32()
    out["event_segment_bytes"] = r.u64()
    out["receipts_written"] = r.u64()
    out["receipts_replayed"] = r.u64()
    out["event_segments_expired"] = r.u64()
    r.done()
    return out


def enc_app_id(app_id):
    return Writer().str(app_id).bytes()


def dec_app_create(body):
    r = Reader(body, "APP_CREATE answer")
    out = {"app_id": r.str(), "secret": r.raw(SECRET_BYTES)}
    r.done()
    return out


def dec_app_list(body):
    r = Reader(body, "APP_LIST answer")
    n = r.u32()
    apps = []
    for _ in range(n):
        apps.append({"app_id": r.str(), "created_unix_ms": r.u64(),
                     "secret_version": r.u32()})
    r.done()
    return apps


def dec_app_rotate(body):
    r = Reader(body, "APP_ROTATE answer")
    out = {"secret": r.raw(SECRET_BYTES), "secret_version": r.u32()}
    r.done()
    return out


def enc_bind(user_id, channel, vendor, platform, address):
    return (Writer().str(user_id).u8(channel).u8(vendor).u8(platform)
            .str(address).bytes())


def dec_bind(body):
    r = Reader(body, "BIND answer")
    out = {"device_id": r.u32(), "created": r.u8()}
    r.done()
    return out


def enc_unbind(user_id, device_id):
    return Writer().str(user_id).u32(device_id).bytes()


def dec_empty(body, what="answer"):
    Reader(body, what).done()
    return None


def enc_alias_set(user_id, device_id, alias_type, alias):
    return Writer().str(user_id).u32(device_id).str(alias_type).str(alias).bytes()


def dec_alias_set(body):
    r = Reader(body, "ALIAS_SET answer")
    prev = r.str()
    r.done()
    return prev


def enc_alias_del(user_id, device_id, alias_type):
    return Writer().str(user_id).u32(device_id).str(alias_type).bytes()


def enc_alias_lookup(alias_type, alias):
    return Writer().str(alias_type).str(alias).bytes()


def dec_alias_lookup(body):
    r = Reader(body, "ALIAS_LOOKUP answer")
    n = r.u16()
    out = [(r.str(), r.u32()) for _ in range(n)]
    r.done()
    return out


def enc_tags(user_id, tags):
    w = Writer().str(user_id).u16(len(tags))
    for t in tags:
        w.str(t)
    return w.bytes()


def dec_u16(body, what):
    r = Reader(body, what)
    v = r.u16()
    r.done()
    return v


def enc_attr_set(user_id, pairs):
    w = Writer().str(user_id).u16(len(pairs))
    for k, v in pairs:
        w.str(k).str(v)
    return w.bytes()


def enc_user_id(user_id):
    return Writer().str(user_id).bytes()


def dec_user_show(body):
    """Section 5.3."""
    r = Reader(body, "USER_SHOW answer")
    out = {"user_id": r.str(), "partition": r.u16(), "devices": []}
    for _ in range(r.u16()):
        d = {
            "device_id": r.u32(),
            "channel": r.u8(),
            "vendor": r.u8(),
            "platform": r.u8(),
            "state": r.u8(),
            "bound_unix_ms": r.u64(),
            "address": r.str(),
            "aliases": [],
        }
        for _ in range(r.u8()):
            d["aliases"].append((r.str(), r.str()))
        out["devices"].append(d)
    out["tags"] = [r.str() for _ in range(r.u16())]
    out["attrs"] = [(r.str(), r.str()) for _ in range(r.u16())]
    r.done()
    return out


def enc_receipt_put(user_id, message_id, campaign_id, channel, vendor, state,
                    event_unix_ms=0, reason=""):
    """Section 5, RECEIPT_PUT. reason may be str or bytes."""
    return (Writer().str(user_id).u64(message_id).u64(campaign_id).u8(channel).u8(vendor)
            .u8(state).u64(event_unix_ms).str(reason).bytes())


def dec_receipt_put(body):
    r = Reader(body, "RECEIPT_PUT answer")
    recorded = r.u64()
    r.done()
    return recorded


def enc_history(user_id, cursor=CURSOR_START, limit=100):
    return Writer().str(user_id).raw(cursor).u16(limit).bytes()


def dec_history(body):
    """Section 5.6: {"receipts": [...], "next_cursor": 16 bytes}."""
    r = Reader(body, "HISTORY answer")
    n = r.u16()
    receipts = []
    for _ in range(n):
        rc = {
            "message_id": r.u64(),
            "campaign_id": r.u64(),
            "channel": r.u8(),
            "vendor": r.u8(),
            "state": r.u8(),
            "event_unix_ms": r.u64(),
            "recorded_unix_ms": r.u64(),
        }
        reason = r.str_bytes()
        if len(reason) > REASON_BYTES_MAX or any(b < 0x20 or b > 0x7E for b in reason):
            raise ProtocolError("HISTORY answer: reason %r is not 0-64 printable ASCII bytes"
                                % reason)
        rc["reason"] = reason.decode("ascii")
        if rc["state"] not in STATE_NAMES:
            raise ProtocolError("HISTORY answer: state %d" % rc["state"])
        receipts.append(rc)
    cursor = r.raw(CURSOR_BYTES)
    r.done()
    return {"count": n, "receipts": receipts, "next_cursor": cursor}


def enc_campaign_id(campaign_id):
    return Writer().u64(campaign_id).bytes()


def dec_campaign_counters(body):
    """Section 5.7: [(channel, state, count), ...] in the order sent."""
    r = Reader(body, "CAMPAIGN_COUNTERS answer")
    n = r.u16()
    out = [(r.u8(), r.u8(), r.u64()) for _ in range(n)]
    r.done()
    return out


def enc_campaign_create(audience, channels, body, title="", category="", lane=LANE_BULK,
                        user_id=None, user_ids=None, tag_expr=None, upload_kind=None, columns=""):
    """Section 5.10, CAMPAIGN_CREATE: u8 audience, u8 lane, u8 channel_count,
    the channels (u8 each), str title, str body, str category, then the
    audience data: str user_id (user), u16 n + n x str (list), str tag
    expression (tag), nothing (all), u8 kind + str columns (upload, 5.12)."""
    w = Writer().u8(audience).u8(lane).u8(len(channels))
    for ch in channels:
        w.u8(ch)
    w.str(title).str(body).str(category)
    if audience == AUD_USER:
        w.str(user_id)
    elif audience == AUD_LIST:
        w.u16(len(user_ids))
        for u in user_ids:
            w.str(u)
    elif audience == AUD_TAG:
        w.str(tag_expr)
    elif audience == AUD_UPLOAD:
        w.u8(upload_kind).str(columns)
    return w.bytes()


def dec_campaign_create(body):
    r = Reader(body, "CAMPAIGN_CREATE answer")
    cid = r.u64()
    r.done()
    if cid == 0:
        raise ProtocolError("CAMPAIGN_CREATE answer: campaign id 0")
    return cid


# Section 5.10: the CAMPAIGN_STATUS answer, field by field, 100 bytes.
CAMPAIGN_STATUS_COUNTERS = ("users_scanned", "recipients", "queued", "sent", "failed", "invalid",
                            "no_address", "resent", "vendor_calls", "first_call_us")
CAMPAIGN_STATUS_BYTES = 4 + 8 + 8 * len(CAMPAIGN_STATUS_COUNTERS) + 4 + 4
assert CAMPAIGN_STATUS_BYTES == 100


def dec_campaign_status(body):
    """Section 5.10: a dict of the answer's fields."""
    r = Reader(body, "CAMPAIGN_STATUS answer")
    out = {"state": r.u8(), "audience": r.u8(), "lane": r.u8(), "reserved": r.u8(),
           "created_unix_ms": r.u64()}
    for k in CAMPAIGN_STATUS_COUNTERS:
        out[k] = r.u64()
    out["progress_ppm"] = r.u32()
    out["inflight"] = r.u32()
    r.done()
    if out["state"] not in CAMPAIGN_STATE_NAMES:
        raise ProtocolError("CAMPAIGN_STATUS answer: state %d" % out["state"])
    if out["audience"] not in AUDIENCE_NAMES:
        raise ProtocolError("CAMPAIGN_STATUS answer: audience %d" % out["audience"])
    if out["lane"] not in (LANE_BULK, LANE_TRANSACTIONAL):
        raise ProtocolError("CAMPAIGN_STATUS answer: lane %d" % out["lane"])
    if out["progress_ppm"] > PROGRESS_PPM_ALL:
        raise ProtocolError("CAMPAIGN_STATUS answer: progress_ppm %d" % out["progress_ppm"])
    return out


def enc_campaign_control(campaign_id, action):
    return Writer().u64(campaign_id).u8(action).bytes()


def dec_campaign_control(body):
    r = Reader(body, "CAMPAIGN_CONTROL answer")
    state = r.u8()
    r.done()
    if state not in CAMPAIGN_STATE_NAMES:
        raise ProtocolError("CAMPAIGN_CONTROL answer: state %d" % state)
    return state


def enc_campaign_upload(campaign_id, first_line, last, rows):
    """Section 5.12, CAMPAIGN_UPLOAD: u64 campaign_id, u32 first_line, u8
    last, then the rows: the rest of the body, no length prefix."""
    b = rows.encode("utf-8") if isinstance(rows, str) else bytes(rows)
    return Writer().u64(campaign_id).u32(first_line).u8(last).raw(b).bytes()


def dec_campaign_upload(body):
    """Section 5.12: {"accepted", "rejected", "reported": [(line, reason), ...]};
    reported names the first min(rejected, 100) rejected rows."""
    r = Reader(body, "CAMPAIGN_UPLOAD answer")
    out = {"accepted": r.u32(), "rejected": r.u32()}
    n = r.u16()
    out["reported"] = [(r.u32(), r.str()) for _ in range(n)]
    r.done()
    if n != min(out["rejected"], UPLOAD_REPORTS_MAX):
        raise ProtocolError("CAMPAIGN_UPLOAD answer: %d reported of %d rejected"
                            % (n, out["rejected"]))
    return out


def enc_vendor_set(target, url, app_id="", secret="", secret2="", package="", sign_name="",
                   template_code="", batch_max=0, connections=0, rate_per_s=0, daily_quota=0):
    """Section 5.11, VENDOR_SET."""
    return (Writer().u8(target).str(url).str(app_id).str(secret).str(secret2).str(package)
            .str(sign_name).str(template_code).u16(batch_max).u16(connections)
            .u32(rate_per_s).u32(daily_quota).bytes())


def dec_vendor_list(body):
    """Section 5.11: [{"target", "url", "batch_max", "connections",
    "rate_per_s", "daily_quota"}, ...] in the order sent."""
    r = Reader(body, "VENDOR_LIST answer")
    out = []
    for _ in range(r.u8()):
        v = {"target": r.u8(), "url": r.str(), "batch_max": r.u16(), "connections": r.u16(),
             "rate_per_s": r.u32(), "daily_quota": r.u32()}
        if v["target"] not in TARGET_NAMES:
            raise ProtocolError("VENDOR_LIST answer: target %d" % v["target"])
        out.append(v)
    r.done()
    return out


def dec_error(body):
    r = Reader(body, "error body")
    code = r.u16()
    msg = r.str()
    r.done()
    return code, msg


# ---- frames --------------------------------------------------------------------

class Frame:
    __slots__ = ("magic", "version", "flags", "opcode", "request_id",
                 "body_len", "body_crc", "body")

    def __repr__(self):
        return ("Frame(flags=0x%02x op=0x%04x id=%d len=%d)"
                % (self.flags, self.opcode, self.request_id, len(self.body)))

    @property
    def is_error(self):
        return bool(self.flags & FLAG_ERROR)

    def error(self):
        """(code, message) of an error frame."""
        return dec_error(self.body)


def encode_frame(opcode, body=b"", request_id=0, flags=0, version=VERSION,
                 magic=MAGIC, body_len=None, body_crc=None):
    """A request frame. body_len and body_crc override the true values
    (for sending broken frames on purpose)."""
    body = bytes(body)
    if body_len is None:
        body_len = len(body)
    if body_crc is None:
        body_crc = crc32c(body)
    hdr = magic + struct.pack("<BBHQII", version, flags, opcode, request_id,
                              body_len, body_crc)
    assert len(hdr) == HEADER_BYTES
    return hdr + body


class HeraldError(Exception):
    """An error answer (section 6)."""

    def __init__(self, code, message, frame=None):
        super().__init__("%s: %s" % (error_name(code), message))
        self.code = code
        self.message = message
        self.frame = frame


class ConnectionClosed(Exception):
    pass


class Connection:
    """One TCP connection. Requests may be pipelined: send() returns the
    request id, wait(id) returns that request's answer, buffering answers to
    other requests that arrive first."""

    def __init__(self, host="127.0.0.1", port=7600, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = bytearray()
        self.next_id = 1
        self.pending = {}  # request id -> Frame received, not yet claimed
        self.unsolicited = []  # frames with request id 0
        self.eof = False
        self.nonce = None
        self.hello_info = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw bytes and frames

    def send_raw(self, data):
        self.sock.sendall(data)

    def new_id(self):
        rid = self.next_id
        self.next_id += 1
        return rid

    def send(self, opcode, body=b"", request_id=None, **kw):
        if request_id is None:
            request_id = self.new_id()
        self.send_raw(encode_frame(opcode, body, request_id, **kw))
        return request_id

    def _fill(self, n, deadline):
        while len(self.rbuf) < n:
            if self.eof:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer within %.1fs" % self.timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self.rbuf)))
            except socket.timeout:
                raise TimeoutError("no answer within %.1fs" % self.timeout) from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.rbuf += chunk
        return True

    def recv_frame(self, timeout=None):
        """The next frame, or None at end of stream. Checks everything the
        document says about a response header."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self._fill(HEADER_BYTES, deadline):
            if self.rbuf:
                raise ProtocolError("stream ended inside a header (%d bytes)" % len(self.rbuf))
            return None
        f = Frame()
        hdr = bytes(self.rbuf[:HEADER_BYTES])
        f.magic = hdr[:4]
        (f.version, f.flags, f.opcode, f.request_id, f.body_len,
         f.body_crc) = struct.unpack("<BBHQII", hdr[4:])
        if f.magic != MAGIC:
            raise ProtocolError("answer magic %r" % f.magic)
        if f.version != VERSION:
            raise ProtocolError("answer version %d" % f.version)
        if not f.flags & FLAG_RESPONSE or f.flags & ~(FLAG_RESPONSE | FLAG_ERROR):
            raise ProtocolError("answer flags 0x%02x" % f.flags)
        if f.body_len > BODY_BYTES_MAX:
            raise ProtocolError("answer body_len %d" % f.body_len)
        if not self._fill(HEADER_BYTES + f.body_len, deadline):
            raise ProtocolError("stream ended inside a body")
        f.body = bytes(self.rbuf[HEADER_BYTES:HEADER_BYTES + f.body_len])
        del self.rbuf[:HEADER_BYTES + f.body_len]
        if crc32c(f.body) != f.body_crc:
            raise ProtocolError("answer body_crc 0x%08x, computed 0x%08x"
                                % (f.body_crc, crc32c(f.body)))
        if f.is_error:
            dec_error(f.body)  # raises if malformed
        return f

    def wait(self, request_id, timeout=None):
        """The answer to request_id (a Frame). Other answers are kept."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while request_id not in self.pending:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                raise ConnectionClosed("connection closed before answer to %d" % request_id)
            if f.request_id == 0 and request_id != 0:
                self.unsolicited.append(f)
                continue
            if f.request_id in self.pending:
                raise ProtocolError("two answers for request id %d" % f.request_id)
            self.pending[f.request_id] = f
        return self.pending.pop(request_id)

    def closed_by_peer(self, timeout=3.0):
        """True if the engine closes the connection (after any frames)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
            if f is None:
                return True
            self.unsolicited.append(f)

    def request(self, opcode, body=b"", **kw):
        """Send one request and return its answer frame."""
        rid = self.send(opcode, body, **kw)
        f = self.wait(rid)
        if f.opcode != opcode:
            raise ProtocolError("answer opcode 0x%04x to request 0x%04x" % (f.opcode, opcode))
        return f

    def call(self, opcode, body=b""):
        """Send one request; return the answer body or raise HeraldError."""
        f = self.request(opcode, body)
        if f.is_error:
            code, msg = f.error()
            raise HeraldError(code, msg, f)
        return f.body

    # -- operations (section 5)

    def hello(self, min_version=1, max_version=1, client_name="pyclient"):
        info = dec_hello(self.call(OP_HELLO, enc_hello(min_version, max_version, client_name)))
        self.nonce = info["nonce"]
        self.hello_info = info
        return info

    def auth(self, app_id, secret, nonce=None):
        nonce = self.nonce if nonce is None else nonce
        mac = auth_mac(secret, nonce, app_id)
        return dec_auth(self.call(OP_AUTH, enc_auth(app_id, mac)))

    def login(self, app_id, secret):
        self.hello()
        return self.auth(app_id, secret)

    def ping(self, payload=b""):
        return self.call(OP_PING, payload)

    def stats(self):
        return dec_stats(self.call(OP_STATS))

    def store_stats(self):
        return dec_store_stats(self.call(OP_STORE_STATS))

    def app_create(self, app_id):
        return dec_app_create(self.call(OP_APP_CREATE, enc_app_id(app_id)))

    def app_list(self):
        return dec_app_list(self.call(OP_APP_LIST))

    def app_rotate(self, app_id):
        return dec_app_rotate(self.call(OP_APP_ROTATE, enc_app_id(app_id)))

    def bind(self, user_id, channel, vendor, platform, address):
        return dec_bind(self.call(OP_BIND, enc_bind(user_id, channel, vendor, platform, address)))

    def unbind(self, user_id, device_id):
        return dec_empty(self.call(OP_UNBIND, enc_unbind(user_id, device_id)), "UNBIND answer")

    def alias_set(self, user_id, device_id, alias_type, alias):
        return dec_alias_set(self.call(OP_ALIAS_SET,
                                       enc_alias_set(user_id, device_id, alias_type, alias)))

    def alias_del(self, user_id, device_id, alias_type):
        return dec_empty(self.call(OP_ALIAS_DEL, enc_alias_del(user_id, device_id, alias_type)),
                         "ALIAS_DEL answer")

    def alias_lookup(self, alias_type, alias):
        return dec_alias_lookup(self.call(OP_ALIAS_LOOKUP, enc_alias_lookup(alias_type, alias)))

    def tag_add(self, user_id, tags):
        return dec_u16(self.call(OP_TAG_ADD, enc_tags(user_id, tags)), "TAG_ADD answer")

    def tag_del(self, user_id, tags):
        return dec_u16(self.call(OP_TAG_DEL, enc_tags(user_id, tags)), "TAG_DEL answer")

    def attr_set(self, user_id, pairs):
        return dec_u16(self.call(OP_ATTR_SET, enc_attr_set(user_id, pairs)), "ATTR_SET answer")

    def user_show(self, user_id):
        return dec_user_show(self.call(OP_USER_SHOW, enc_user_id(user_id)))

    def receipt_put(self, user_id, message_id, campaign_id, channel, vendor, state,
                    event_unix_ms=0, reason=""):
        """Returns recorded_unix_ms."""
        return dec_receipt_put(self.call(OP_RECEIPT_PUT, enc_receipt_put(
            user_id, message_id, campaign_id, channel, vendor, state, event_unix_ms, reason)))

    def history(self, user_id, cursor=CURSOR_START, limit=100):
        return dec_history(self.call(OP_HISTORY, enc_history(user_id, cursor, limit)))

    def history_all(self, user_id, limit=100, max_pages=100000):
        """Every receipt of user_id, following next_cursor until it is zero
        (section 5.6). Returns (receipts, pages)."""
        out, cursor = [], CURSOR_START
        for page in range(1, max_pages + 1):
            h = self.history(user_id, cursor, limit)
            out.extend(h["receipts"])
            if h["next_cursor"] == CURSOR_START:
                return out, page
            if h["next_cursor"] == cursor:
                raise ProtocolError("HISTORY handed back the cursor it was given")
            cursor = h["next_cursor"]
        raise ProtocolError("HISTORY of %r: more than %d pages" % (user_id, max_pages))

    def campaign_counters(self, campaign_id):
        return dec_campaign_counters(self.call(OP_CAMPAIGN_COUNTERS, enc_campaign_id(campaign_id)))

    def campaign_create(self, audience, channels, body, **kw):
        """Returns the new campaign's id. kw: title, category, lane,
        user_id, user_ids, tag_expr, upload_kind, columns (see
        enc_campaign_create)."""
        return dec_campaign_create(self.call(OP_CAMPAIGN_CREATE,
                                             enc_campaign_create(audience, channels, body, **kw)))

    def campaign_status(self, campaign_id):
        return dec_campaign_status(self.call(OP_CAMPAIGN_STATUS, enc_campaign_id(campaign_id)))

    def campaign_control(self, campaign_id, action):
        """Returns the campaign's new state."""
        return dec_campaign_control(self.call(OP_CAMPAIGN_CONTROL,
                                              enc_campaign_control(campaign_id, action)))

    def campaign_upload(self, campaign_id, first_line, last, rows):
        """One chunk of an upload campaign's rows (str or bytes); returns
        dec_campaign_upload's dict."""
        return dec_campaign_upload(self.call(OP_CAMPAIGN_UPLOAD,
                                             enc_campaign_upload(campaign_id, first_line, last, rows)))

    def vendor_set(self, target, url, **kw):
        return dec_empty(self.call(OP_VENDOR_SET, enc_vendor_set(target, url, **kw)),
                         "VENDOR_SET answer")

    def vendor_list(self):
        return dec_vendor_list(self.call(OP_VENDOR_LIST))


def read_admin_secret(path):
    """The admin secret file: 64 lowercase hex digits and a newline."""
    with open(path, "rb") as f:
        text = f.read()
    if len(text) != 65 or not text.endswith(b"\n"):
        raise ProtocolError("admin.secret: expected 64 hex digits and a newline, got %r" % text)
    hexpart = text[:64].decode("ascii")
    if hexpart != hexpart.lower() or any(c not in "0123456789abcdef" for c in hexpart):
        raise ProtocolError("admin.secret: not lowercase hex: %r" % hexpart)
    return bytes.fromhex(hexpart)


def wait_until_answering(host, port, timeout=15.0):
    """Poll until a HELLO on a new connection is answered."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with Connection(host, port, timeout=2.0) as c:
                c.hello()
                return True
        except (OSError, TimeoutError, ProtocolError, HeraldError, ConnectionClosed) as e:
            last = e
            time.sleep(0.1)
    raise TimeoutError("engine at %s:%d not answering: %r" % (host, port, last))


def _main(argv):
    import argparse
    p = argparse.ArgumentParser(description="Herald protocol v1 client (Python, independent)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7600)
    p.add_argument("--app", default=ADMIN_APP_ID)
    p.add_argument("--secret-hex", help="app secret, 64 hex digits")
    p.add_argument("--secret-file", help="a file holding the secret in hex (admin.secret)")
    p.add_argument("what", nargs="?", default="ping", choices=["ping", "stats", "store", "apps"])
    a = p.parse_args(argv)
    with Connection(a.host, a.port) as c:
        info = c.hello()
        print("hello: version %d, %d cores, server %r" % (info["version"], info["core_count"],
                                                          info["server_name"]))
        if a.what == "ping":
            t = time.monotonic()
            c.ping(b"hi")
            print("ping: %.3f ms" % ((time.monotonic() - t) * 1000))
            return 0
        if a.secret_file:
            secret = read_admin_secret(a.secret_file)
        elif a.secret_hex:
            secret = bytes.fromhex(a.secret_hex)
        else:
            p.error("need --secret-hex or --secret-file")
        c.auth(a.app, secret)
        if a.what == "stats":
            for core in c.stats()["cores"]:
                print(core)
        elif a.what == "store":
            st = c.store_stats()
            cores = st.pop("cores")
            print(st)
            for core in cores:
                print(core)
        else:
            for app in c.app_list():
                print(app)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv[1:]))
