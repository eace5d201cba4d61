# SPDX-License-Identifier: Apache-2.0
"""
proto_test.py - exercises every operation and every client-reachable error
of Herald protocol v1 against a running heraldd, using only herald_client.py
(which is written from docs/PROTOCOL.md alone).

    python3 proto_test.py --port PORT --data DATA_DIR [--cores N]

Each check names the section of PROTOCOL.md it comes from. Where the
document leaves a choice open, the test accepts every reading and prints
what the engine chose under "notes". Exit 0 all passed, 1 any failed.
"""

import argparse
import os
import random
import stat
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import herald_client as hc  # noqa: E402
from herald_client import (  # noqa: E402
    Connection, HeraldError, ProtocolError, Writer,
    OP_HELLO, OP_AUTH, OP_PING, OP_STATS, OP_STORE_STATS, OP_APP_CREATE, OP_APP_LIST,
    OP_APP_ROTATE, OP_BIND, OP_UNBIND, OP_ALIAS_SET, OP_ALIAS_DEL,
    OP_ALIAS_LOOKUP, OP_TAG_ADD, OP_TAG_DEL, OP_ATTR_SET, OP_USER_SHOW,
    OP_RECEIPT_PUT, OP_HISTORY, OP_CAMPAIGN_COUNTERS, OP_CAMPAIGN_CREATE, OP_CAMPAIGN_STATUS,
    OP_CAMPAIGN_CONTROL, OP_VENDOR_SET, OP_VENDOR_LIST, OP_CAMPAIGN_UPLOAD,
    E_BAD_MAGIC, E_UNSUPPORTED_VERSION, E_BAD_FLAGS, E_FRAME_TOO_LARGE,
    E_BAD_CRC, E_UNKNOWN_OPCODE, E_BAD_BODY, E_HELLO_REQUIRED,
    E_AUTH_REQUIRED, E_AUTH_FAILED, E_FORBIDDEN, E_NOT_FOUND, E_EXISTS,
    E_INVALID_ARGUMENT, E_LIMIT_EXCEEDED, E_TIMEOUT,
    CH_PUSH, CH_SMS, CH_EMAIL, CH_WECHAT, CH_WEBHOOK,
    VENDOR_NONE, VENDOR_APNS, VENDOR_FCM, VENDOR_HUAWEI, VENDOR_MEIZU,
    PLATFORM_NONE, PLATFORM_ANDROID, PLATFORM_IOS, PLATFORM_WEB,
    STATE_QUEUED, STATE_SENT, STATE_DELIVERED, STATE_DISPLAYED, STATE_CLICKED,
    STATE_FAILED, STATE_RECALLED, CURSOR_START,
)

ALL_OPS = [OP_HELLO, OP_AUTH, OP_PING, OP_STATS, OP_STORE_STATS, OP_APP_CREATE, OP_APP_LIST,
           OP_APP_ROTATE, OP_BIND, OP_UNBIND, OP_ALIAS_SET, OP_ALIAS_DEL,
           OP_ALIAS_LOOKUP, OP_TAG_ADD, OP_TAG_DEL, OP_ATTR_SET, OP_USER_SHOW,
           OP_RECEIPT_PUT, OP_HISTORY, OP_CAMPAIGN_COUNTERS, OP_CAMPAIGN_CREATE,
           OP_CAMPAIGN_STATUS, OP_CAMPAIGN_CONTROL, OP_VENDOR_SET, OP_VENDOR_LIST,
           OP_CAMPAIGN_UPLOAD]
APP_OPS = [OP_BIND, OP_UNBIND, OP_ALIAS_SET, OP_ALIAS_DEL, OP_ALIAS_LOOKUP,
           OP_TAG_ADD, OP_TAG_DEL, OP_ATTR_SET, OP_USER_SHOW,
           OP_RECEIPT_PUT, OP_HISTORY, OP_CAMPAIGN_COUNTERS, OP_CAMPAIGN_CREATE,
           OP_CAMPAIGN_STATUS, OP_CAMPAIGN_CONTROL, OP_VENDOR_SET, OP_VENDOR_LIST,
           OP_CAMPAIGN_UPLOAD]


# ---- harness -------------------------------------------------------------------

class Harness:
    def __init__(self):
        self.failures = []
        self.notes = []
        self.checks = 0
        self.section = "?"

    def check(self, cond, what):
        self.checks += 1
        if not cond:
            where = traceback.extract_stack(limit=3)[0]
            msg = "[%s] line %d: %s" % (self.section, where.lineno, what)
            self.failures.append(msg)
            print("  FAIL " + msg, flush=True)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, expected %r" % (what, got, want))

    def note(self, text):
        self.notes.append("[%s] %s" % (self.section, text))


T = Harness()


class Ctx:
    def __init__(self, args):
        self.host = "127.0.0.1"
        self.port = args.port
        self.data = args.data
        self.cores = args.cores
        self.admin_secret = None
        self.apps = {}  # app id -> secret
        self.core_count = None

    def conn(self, timeout=10.0):
        return Connection(self.host, self.port, timeout=timeout)

    def admin(self):
        c = self.conn()
        c.hello()
        r = c.auth("admin", self.admin_secret)
        T.eq(r, {"app_id": "admin", "role": 1}, "AUTH admin answer")
        return c

    def app(self, app_id):
        c = self.conn()
        c.hello()
        r = c.auth(app_id, self.apps[app_id])
        T.eq(r, {"app_id": app_id, "role": 0}, "AUTH %s answer" % app_id)
        return c


def answer_of(c, opcode, body=b"", **kw):
    """Send one frame, return the answer frame after checking its header
    echoes the request (sections 1 and 6)."""
    rid = c.send(opcode, body, **kw)
    f = c.wait(rid)
    T.eq(f.request_id, rid, "answer request id")
    T.eq(f.opcode, opcode, "answer opcode echoes the request's")
    T.check(f.flags in (0x01, 0x03), "answer flags 0x%02x" % f.flags)
    return f


def expect_err(c, opcode, body, code, what, closes=False, answer_id=None,
               answer_op=None, **kw):
    """The request gets error `code` (a code or a tuple of acceptable codes).
    Returns the code received. Then the connection is checked: closed for the
    closing errors, still answering for the others."""
    codes = code if isinstance(code, tuple) else (code,)
    rid = c.send(opcode, body, **kw)
    want_id = rid if answer_id is None else answer_id
    want_op = opcode if answer_op is None else answer_op
    try:
        f = c.wait(want_id)
    except (hc.ConnectionClosed, TimeoutError, ProtocolError) as e:
        T.check(False, "%s: no error answer (%r)" % (what, e))
        return None
    got = None
    if not T.check(f.is_error, "%s: expected %s, got a success answer (body %r)"
                   % (what, "/".join(hc.error_name(x) for x in codes), f.body[:40])):
        return None
    T.eq(f.flags, 0x03, "%s: error flags" % what)
    T.eq(f.opcode, want_op, "%s: error opcode" % what)
    T.eq(f.request_id, want_id, "%s: error request id" % what)
    got, msg = f.error()
    T.check(got in codes, "%s: got %s (%r), expected %s" % (
        what, hc.error_name(got), msg, "/".join(hc.error_name(x) for x in codes)))
    if closes:
        T.check(c.closed_by_peer(), "%s: connection should be closed" % what)
    else:
        alive = answer_of(c, OP_PING, b"alive?")
        T.check(alive.body == b"alive?" or alive.is_error,
                "%s: connection kept and next frame parsed" % what)
    return got


def expect_closed_with(c, code, want_id, want_op, what):
    """Read the next answer (any request id): an error `code` with the given
    id and opcode, then end of stream."""
    try:
        f = c.recv_frame(5.0)
    except (TimeoutError, ProtocolError) as e:
        T.check(False, "%s: no error frame (%r)" % (what, e))
        return
    if not T.check(f is not None, "%s: connection closed without an error frame" % what):
        return
    T.check(f.is_error, "%s: error frame expected, got %r" % (what, f))
    if f.is_error:
        got, _ = f.error()
        T.eq(hc.error_name(got), hc.error_name(code), "%s: error code" % what)
    T.eq(f.flags, 0x03, "%s: flags" % what)
    T.eq(f.request_id, want_id, "%s: request id" % what)
    T.eq(f.opcode, want_op, "%s: opcode" % what)
    T.check(c.closed_by_peer(), "%s: connection closed afterwards" % what)


def bulk(c, frames, timeout=30.0):
    """Send many encoded frames in one write; return {request id: answer}."""
    ids = set()
    for fr in frames:
        ids.add(int.from_bytes(fr[8:16], "little"))
    c.send_raw(b"".join(frames))
    out = {}
    for rid in ids:
        out[rid] = c.wait(rid, timeout)
    return out


def err_code(fn, *a):
    """Run a call; return its error code, or None when it succeeded."""
    try:
        fn(*a)
    except HeraldError as e:
        return e.code
    return None


def expect_call_err(code, what, fn, *a):
    codes = code if isinstance(code, tuple) else (code,)
    try:
        r = fn(*a)
    except HeraldError as e:
        T.check(e.code in codes, "%s: got %s (%s), expected %s" % (
            what, hc.error_name(e.code), e.message,
            "/".join(hc.error_name(x) for x in codes)))
        return e.code
    T.check(False, "%s: succeeded (%r), expected %s" % (
        what, r, "/".join(hc.error_name(x) for x in codes)))
    return None


def expect_ok(what, fn, *a):
    try:
        return fn(*a)
    except HeraldError as e:
        T.check(False, "%s: unexpected %s (%s)" % (what, hc.error_name(e.code), e.message))
    return None


# ---- sections ------------------------------------------------------------------

def t_admin_secret(ctx):
    """Section 4, the admin credential."""
    path = os.path.join(ctx.data, "admin.secret")
    st = os.stat(path)
    T.eq(stat.S_IMODE(st.st_mode), 0o600, "admin.secret mode")
    ctx.admin_secret = hc.read_admin_secret(path)
    T.eq(len(ctx.admin_secret), 32, "admin secret bytes")


def t_hello(ctx):
    """Sections 4 and 5: HELLO and version negotiation."""
    with ctx.conn() as c:
        info = c.hello(1, 1, "proto-test")
        T.eq(info["version"], 1, "HELLO version")
        T.eq(info["reserved"], 0, "HELLO reserved")
        T.check(1 <= info["core_count"] <= 64, "HELLO core_count %d" % info["core_count"])
        if ctx.cores and info["core_count"] != ctx.cores:
            T.note("HELLO core_count %d with --cores %d" % (info["core_count"], ctx.cores))
        ctx.core_count = info["core_count"]
        T.eq(info["max_body_bytes"], 1048576, "HELLO max_body_bytes")
        T.eq(len(info["nonce"]), 32, "nonce length")
        T.check(len(info["server_name"]) > 0, "server_name non-empty")
        T.note("server_name %r, core_count %d" % (info["server_name"], info["core_count"]))
        n1 = info["nonce"]
        # A second HELLO on the same connection gives a fresh nonce.
        n2 = c.hello(0, 200, "")["nonce"]
        T.check(n1 != n2, "second HELLO gives a new nonce")
        T.check(n1 != bytes(32), "nonce is not all zero")
        # 64-byte client name is the limit.
        T.eq(c.hello(1, 1, "n" * 64)["version"], 1, "HELLO with 64-byte client name")
        got = expect_err(c, OP_HELLO, hc.enc_hello(1, 1, "n" * 65), (E_BAD_BODY, E_INVALID_ARGUMENT),
                         "HELLO client_name of 65 bytes")
        T.note("HELLO client_name over 64 bytes -> %s" % hc.error_name(got))
    with ctx.conn() as c2:
        T.check(c2.hello()["nonce"] != n1, "nonces differ between connections")

    # No common version: E_UNSUPPORTED_VERSION, connection kept, HELLO not done.
    with ctx.conn() as c:
        expect_err(c, OP_HELLO, hc.enc_hello(2, 5), E_UNSUPPORTED_VERSION, "HELLO 2..5")
        expect_err(c, OP_HELLO, hc.enc_hello(0, 0), E_UNSUPPORTED_VERSION, "HELLO 0..0")
        got = expect_err(c, OP_HELLO, hc.enc_hello(1, 0), (E_UNSUPPORTED_VERSION, E_BAD_BODY,
                                                           E_INVALID_ARGUMENT), "HELLO min > max")
        T.note("HELLO with min_version > max_version -> %s" % hc.error_name(got))
        expect_err(c, OP_PING, b"", E_HELLO_REQUIRED, "PING after failed HELLO")
        T.eq(c.hello(0, 255)["version"], 1, "HELLO 0..255 picks 1")
        T.eq(c.ping(b"x"), b"x", "PING after HELLO")
    # Bad HELLO bodies.
    with ctx.conn() as c:
        expect_err(c, OP_HELLO, b"", E_BAD_BODY, "HELLO empty body")
        expect_err(c, OP_HELLO, b"\x01\x01\x05\x00abc", E_BAD_BODY, "HELLO truncated str")
        expect_err(c, OP_HELLO, hc.enc_hello() + b"\x00", E_BAD_BODY, "HELLO trailing byte")
        expect_err(c, OP_PING, b"", E_HELLO_REQUIRED, "PING after bad HELLO")


def t_hello_required(ctx):
    """Section 4.1: every request but HELLO before HELLO; section 6 check order."""
    with ctx.conn() as c:
        for op in ALL_OPS:
            if op == OP_HELLO:
                continue
            expect_err(c, op, b"", E_HELLO_REQUIRED, "%s before HELLO" % hc.OP_NAMES[op])
        # The session state is checked before the body...
        expect_err(c, OP_BIND, b"\xff", E_HELLO_REQUIRED, "garbage BIND before HELLO")
        expect_err(c, OP_AUTH, hc.enc_auth("admin", bytes(32)), E_HELLO_REQUIRED,
                   "AUTH before HELLO")
        # ... and after the opcode.
        expect_err(c, 0x0099, b"", E_UNKNOWN_OPCODE, "unknown opcode before HELLO")
        T.eq(c.hello()["version"], 1, "HELLO after rejected requests")


def t_auth(ctx):
    """Section 4: AUTH, roles, nonce use, failure closes."""
    with ctx.conn() as c:
        c.hello()
        for op in ALL_OPS:
            if op in (OP_HELLO, OP_AUTH, OP_PING):
                continue
            expect_err(c, op, b"", E_AUTH_REQUIRED, "%s after HELLO without AUTH" % hc.OP_NAMES[op])
        expect_err(c, OP_BIND, b"\xff", E_AUTH_REQUIRED, "garbage BIND without AUTH")
        T.eq(c.ping(b"p"), b"p", "PING without AUTH")
        # Malformed AUTH bodies are E_BAD_BODY, not a failed login.
        expect_err(c, OP_AUTH, Writer().str("admin").raw(bytes(31)).bytes(), E_BAD_BODY,
                   "AUTH with a 31-byte mac")
        expect_err(c, OP_AUTH, Writer().str("admin").raw(bytes(33)).bytes(), E_BAD_BODY,
                   "AUTH with a 33-byte mac")
        r = c.auth("admin", ctx.admin_secret)
        T.eq(r, {"app_id": "admin", "role": 1}, "AUTH admin")
        st = c.stats()
        T.check(st["core_count"] >= 1, "STATS after AUTH")
        # A new HELLO drops the authentication.
        c.hello()
        expect_err(c, OP_STATS, b"", E_AUTH_REQUIRED, "STATS after re-HELLO")
        T.eq(c.auth("admin", ctx.admin_secret)["role"], 1, "AUTH again with the new nonce")

    # A nonce is good for one AUTH. What a second AUTH on it gets is not
    # stated: E_AUTH_FAILED (and closed) or E_HELLO_REQUIRED (kept).
    with ctx.conn() as c:
        c.hello()
        nonce = c.nonce
        c.auth("admin", ctx.admin_secret)
        rid = c.send(OP_AUTH, hc.enc_auth("admin", hc.auth_mac(ctx.admin_secret, nonce, "admin")))
        f = c.wait(rid)
        code = f.error()[0] if f.is_error else None
        T.check(code in (E_AUTH_FAILED, E_HELLO_REQUIRED),
                "second AUTH with a used nonce: %s" % (hc.error_name(code) if code else "accepted"))
        if code == E_AUTH_FAILED:
            T.check(c.closed_by_peer(), "E_AUTH_FAILED closes")
        elif code == E_HELLO_REQUIRED:
            code2 = err_code(c.stats)
            T.note("after a refused second AUTH the first AUTH %s" % (
                "still holds" if code2 is None else "is gone (STATS -> %s)" % hc.error_name(code2)))
        T.note("a second AUTH on a used nonce -> %s" % (hc.error_name(code) if code else "accepted"))
    # Wrong mac: closes.
    with ctx.conn() as c:
        c.hello()
        bad = bytearray(hc.auth_mac(ctx.admin_secret, c.nonce, "admin"))
        bad[0] ^= 1
        expect_err(c, OP_AUTH, hc.enc_auth("admin", bytes(bad)), E_AUTH_FAILED,
                   "AUTH wrong mac", closes=True)
    # Unknown app: closes.
    with ctx.conn() as c:
        c.hello()
        expect_err(c, OP_AUTH, hc.enc_auth("nosuchapp", hc.auth_mac(bytes(32), c.nonce, "nosuchapp")),
                   E_AUTH_FAILED, "AUTH unknown app", closes=True)
    # The mac of an old nonce after a new HELLO: fails.
    with ctx.conn() as c:
        c.hello()
        old = c.nonce
        c.hello()
        expect_err(c, OP_AUTH, hc.enc_auth("admin", hc.auth_mac(ctx.admin_secret, old, "admin")),
                   E_AUTH_FAILED, "AUTH with the previous nonce", closes=True)
    # The mac covers the app id: admin's secret with the app id in the mac swapped.
    with ctx.conn() as c:
        c.hello()
        expect_err(c, OP_AUTH, hc.enc_auth("admin", hc.auth_mac(ctx.admin_secret, c.nonce, "admim")),
                   E_AUTH_FAILED, "AUTH mac over another app id", closes=True)
    # The secret is the raw 32 bytes, not the hex text.
    with ctx.conn() as c:
        c.hello()
        hexkey = ctx.admin_secret.hex().encode()
        expect_err(c, OP_AUTH, hc.enc_auth("admin", hc.auth_mac(hexkey, c.nonce, "admin")),
                   E_AUTH_FAILED, "AUTH keyed with the hex form", closes=True)


def t_apps(ctx):
    """Section 5: APP_CREATE, APP_LIST, APP_ROTATE, roles."""
    t0 = int(time.time() * 1000)
    with ctx.admin() as a:
        r = a.app_create("app1")
        T.eq(r["app_id"], "app1", "APP_CREATE app id")
        T.eq(len(r["secret"]), 32, "APP_CREATE secret length")
        ctx.apps["app1"] = r["secret"]
        for name in ("app2", "zz-app_9", "a" * 64, "0app"):
            ctx.apps[name] = a.app_create(name)["secret"]
        T.check(ctx.apps["app1"] != ctx.apps["app2"], "secrets differ")
        expect_call_err(E_EXISTS, "APP_CREATE existing", a.app_create, "app1")
        expect_call_err(E_INVALID_ARGUMENT, "APP_CREATE admin", a.app_create, "admin")
        for bad in ("", "a" * 65, "App1", "app 1", "app.1", "app/1", "apé"):
            expect_call_err(E_INVALID_ARGUMENT, "APP_CREATE %r" % bad, a.app_create, bad)
        expect_err(a, OP_APP_CREATE, hc.enc_app_id("app3") + b"\x00", E_BAD_BODY,
                   "APP_CREATE trailing byte")
        expect_err(a, OP_APP_CREATE, b"\x04\x00ap", E_BAD_BODY, "APP_CREATE truncated")
        expect_err(a, OP_APP_LIST, b"\x00", E_BAD_BODY, "APP_LIST with a body")

        apps = a.app_list()
        ids = [x["app_id"] for x in apps]
        T.eq(ids, sorted(ids, key=lambda s: s.encode()), "APP_LIST sorted by app id")
        for name in ctx.apps:
            T.check(name in ids, "APP_LIST has %s" % name)
        T.note("APP_LIST %s the admin app" % ("includes" if "admin" in ids else "does not include"))
        t1 = int(time.time() * 1000)
        byid = {x["app_id"]: x for x in apps}
        if "app1" in byid:
            T.check(t0 - 5000 <= byid["app1"]["created_unix_ms"] <= t1 + 5000,
                    "created_unix_ms %d near now %d" % (byid["app1"]["created_unix_ms"], t1))
            v1 = byid["app1"]["secret_version"]
            T.note("secret_version of a new app is %d" % v1)

            # Rotate app1 as admin.
            rot = a.app_rotate("app1")
            T.eq(len(rot["secret"]), 32, "APP_ROTATE secret length")
            T.check(rot["secret"] != ctx.apps["app1"], "APP_ROTATE gives a new secret")
            T.check(rot["secret_version"] > v1, "secret_version grows (%d -> %d)"
                    % (v1, rot["secret_version"]))
            byid2 = {x["app_id"]: x for x in a.app_list()}
            T.eq(byid2["app1"]["secret_version"], rot["secret_version"], "APP_LIST shows the new version")
            T.eq(byid2["app1"]["created_unix_ms"], byid["app1"]["created_unix_ms"],
                 "rotation keeps created_unix_ms")
            old = ctx.apps["app1"]
            ctx.apps["app1"] = rot["secret"]
            with ctx.conn() as c:
                c.hello()
                expect_err(c, OP_AUTH, hc.enc_auth("app1", hc.auth_mac(old, c.nonce, "app1")),
                           E_AUTH_FAILED, "AUTH with the rotated-out secret", closes=True)
            ctx.app("app1").close()
        expect_call_err(E_NOT_FOUND, "APP_ROTATE unknown app", a.app_rotate, "nosuchapp")
        # The admin may not use app operations.
        for op in APP_OPS:
            expect_err(a, op, b"", E_FORBIDDEN, "admin %s" % hc.OP_NAMES[op])
        expect_err(a, OP_BIND, hc.enc_bind("u", CH_SMS, 0, 0, "+12345678"), E_FORBIDDEN,
                   "admin BIND with a good body")

    # Apps may not administer, except rotating their own secret.
    with ctx.app("app2") as c:
        expect_err(c, OP_APP_CREATE, hc.enc_app_id("app9"), E_FORBIDDEN, "app APP_CREATE")
        expect_err(c, OP_APP_LIST, b"", E_FORBIDDEN, "app APP_LIST")
        expect_err(c, OP_APP_ROTATE, hc.enc_app_id("app1"), E_FORBIDDEN, "app rotating another app")
        got = expect_err(c, OP_APP_ROTATE, hc.enc_app_id("nosuchapp"), (E_FORBIDDEN, E_NOT_FOUND),
                         "app rotating an unknown app")
        T.note("an app's APP_ROTATE of an unknown app -> %s" % hc.error_name(got))
        rot = c.app_rotate("app2")
        T.eq(len(rot["secret"]), 32, "app rotates itself")
        ctx.apps["app2"] = rot["secret"]
        # Whether this connection stays authenticated is not stated; ask.
        code = err_code(c.ping)  # PING needs only HELLO
        code2 = err_code(c.stats)
        T.note("after an app rotates its own secret, its connection %s"
               % ("stays authenticated" if code2 is None else "gets " + hc.error_name(code2)))
        T.check(code is None, "PING after self-rotation")
    ctx.app("app2").close()
    # STATS works for both roles.
    with ctx.app("app1") as c:
        st = c.stats()
        T.check(st["core_count"] >= 1, "STATS as app")


def t_stats(ctx):
    """Section 5: STATS layout."""
    with ctx.admin() as a:
        s1 = a.stats()
        T.eq(s1["core_count"], len(s1["cores"]), "STATS entries")
        if ctx.core_count is not None:
            T.eq(s1["core_count"], ctx.core_count, "STATS core_count == HELLO core_count")
        cores = [x["core"] for x in s1["cores"]]
        T.eq(len(set(cores)), len(cores), "STATS core numbers distinct")
        T.check(sum(x["connections_open"] for x in s1["cores"]) >= 1, "connections_open counts us")
        parts = sum(x["partitions_owned"] for x in s1["cores"])
        T.check(parts >= 1, "partitions owned")
        T.note("STATS: cores %s, partitions_owned total %d" % (cores, parts))
        for _ in range(5):
            a.ping()
        s2 = a.stats()
        T.check(sum(x["requests_total"] for x in s2["cores"]) >
                sum(x["requests_total"] for x in s1["cores"]), "requests_total grows")
        expect_err(a, OP_STATS, b"\x00", E_BAD_BODY, "STATS with a body")


def store_stats_frame(c, what):
    """A STORE_STATS answer, its body length checked against section 5.4
    before decoding: the fixed part, then core_count entries of fixed size,
    then the receipt-log fields, nothing after."""
    f = answer_of(c, OP_STORE_STATS)
    if not T.check(not f.is_error, "%s: STORE_STATS failed: %r" % (
            what, f.error() if f.is_error else None)):
        return None
    body = f.body
    if not T.check(len(body) >= hc.STORE_STATS_FIXED_BYTES,
                   "%s: STORE_STATS body of %d bytes, shorter than the fixed %d"
                   % (what, len(body), hc.STORE_STATS_FIXED_BYTES)):
        return None
    n = int.from_bytes(body[hc.STORE_STATS_FIXED_BYTES - 2:hc.STORE_STATS_FIXED_BYTES], "little")
    T.eq(len(body), hc.STORE_STATS_FIXED_BYTES + n * hc.STORE_STATS_CORE_BYTES
         + hc.STORE_STATS_TAIL_BYTES,
         "%s: STORE_STATS body length for core_count %d" % (what, n))
    try:
        return hc.dec_store_stats(body)  # consumes the body exactly or raises
    except ProtocolError as e:
        T.check(False, "%s: STORE_STATS answer does not decode: %s" % (what, e))
        return None


def store_sum(st, key):
    return sum(x[key] for x in st["cores"])


def t_store_stats(ctx):
    """Sections 5.4 and 5.5: STORE_STATS layout and counters that follow writes."""
    with ctx.admin() as a:
        st = store_stats_frame(a, "admin")
        if st is None:
            return
        T.eq(st["core_count"], len(st["cores"]), "STORE_STATS core entries == core_count")
        if ctx.core_count is not None:
            T.eq(st["core_count"], ctx.core_count, "STORE_STATS core_count == HELLO core_count")
        cores = [x["core"] for x in st["cores"]]
        T.eq(len(set(cores)), len(cores), "STORE_STATS core numbers distinct")
        T.eq(sorted(cores), sorted(x["core"] for x in a.stats()["cores"]),
             "STORE_STATS cores are STATS's cores")
        T.check(st["epoch"] >= 1, "epoch %d >= 1" % st["epoch"])
        T.eq(store_sum(st, "io_errors"), 0, "no I/O errors on a healthy disk")
        T.note("STORE_STATS on this run's start: epoch %d, recovered %d segments / %d records, "
               "%d torn tails, %d corrupt, recovery %d ms; now %d segment files, %d bytes"
               % (st["epoch"], st["recovered_segments"], st["recovered_records"],
                  st["torn_tails"], st["corrupt_records"], st["recovery_ms"],
                  st["segment_files"], st["segment_bytes"]))
        T.note("STORE_STATS receipt log: %d segment files, %d bytes, %d receipts written, "
               "%d replayed, %d segments expired"
               % (st["event_segment_files"], st["event_segment_bytes"], st["receipts_written"],
                  st["receipts_replayed"], st["event_segments_expired"]))
        T.eq(st["receipts_replayed"], 0, "a fresh data directory replays no receipts")
        expect_err(a, OP_STORE_STATS, b"\x00", E_BAD_BODY, "STORE_STATS with a body")
    # Role app works too (section 5 table), and a BIND shows up in the
    # counters by the time it is answered: it is answered only once it is
    # written and synced (5.5).
    with ctx.app("app1") as c:
        s1 = store_stats_frame(c, "app before BIND")
        user = "store-stats-%d" % os.getpid()
        T.eq(c.bind(user, CH_SMS, 0, 0, "+4930123456")["created"], 1, "BIND a new user")
        s2 = store_stats_frame(c, "app after BIND")
        if s1 is None or s2 is None:
            return
        T.eq(s2["epoch"], s1["epoch"], "epoch fixed for the run")
        for key in ("records_written", "bytes_written", "flushes"):
            T.check(store_sum(s2, key) > store_sum(s1, key), "%s grows after a BIND (%d -> %d)"
                    % (key, store_sum(s1, key), store_sum(s2, key)))
        T.check(store_sum(s2, "users") >= store_sum(s1, "users") + 1,
                "users count the new user (%d -> %d)"
                % (store_sum(s1, "users"), store_sum(s2, "users")))
        T.check(s2["segment_files"] >= 1, "segment_files %d >= 1 after a write"
                % s2["segment_files"])
        T.check(s2["segment_bytes"] > 0, "segment_bytes > 0 after a write")
        for x in s2["cores"]:
            T.check(x["compaction"] in hc.COMPACTION_STATES, "compaction state %d"
                    % x["compaction"])
        users_stats = sum(x["users"] for x in c.stats()["cores"])
        T.note("users: STORE_STATS total %d, STATS total %d"
               % (store_sum(s2, "users"), users_stats))
        # Pipelined among other requests, the answer is matched by id.
        ids = [c.send(OP_PING, b"a"), c.send(OP_STORE_STATS), c.send(OP_PING, b"b")]
        f = c.wait(ids[1])
        T.check(not f.is_error and f.opcode == OP_STORE_STATS, "pipelined STORE_STATS answer")
        T.eq([c.wait(ids[0]).body, c.wait(ids[2]).body], [b"a", b"b"],
             "PINGs around a pipelined STORE_STATS")


def t_ping(ctx):
    """Section 5: PING echoes any bytes up to 1 MiB."""
    with ctx.conn(timeout=30) as c:
        c.hello()
        T.eq(c.ping(b""), b"", "empty PING")
        payload = bytes(range(256)) * 17
        T.eq(c.ping(payload), payload, "PING 4352 bytes")
        big = os.urandom(1048576)
        T.check(c.ping(big) == big, "PING of exactly 1 MiB")
        f = answer_of(c, OP_PING, b"id", request_id=0xFFFFFFFFFFFFFFFF)
        T.eq(f.request_id, 0xFFFFFFFFFFFFFFFF, "u64 max request id echoed")
        f = answer_of(c, OP_PING, b"dup", request_id=77)
        f2 = answer_of(c, OP_PING, b"dup2", request_id=77)
        T.eq((f.body, f2.body), (b"dup", b"dup2"), "repeated request ids are answered")


def t_framing(ctx):
    """Sections 2 and 6: header errors, check order, closing behaviour."""
    # Bad magic: id 0, opcode 0, closed.
    with ctx.conn() as c:
        c.hello()
        c.send(OP_PING, b"abc", request_id=55, magic=b"HRLX")
        expect_closed_with(c, E_BAD_MAGIC, 0, 0, "bad magic")
    with ctx.conn() as c:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        expect_closed_with(c, E_BAD_MAGIC, 0, 0, "HTTP request")
    # Magic is checked before everything else.
    with ctx.conn() as c:
        c.send(OP_PING, b"", request_id=56, magic=b"DLRH", version=9, flags=0xF0,
               body_len=2000000, body_crc=1)
        expect_closed_with(c, E_BAD_MAGIC, 0, 0, "bad magic with everything else bad")
    # Oversize: the request's id and opcode, closed.
    with ctx.conn() as c:
        c.hello()
        c.send(OP_PING, b"", request_id=57, body_len=1048577)
        expect_closed_with(c, E_FRAME_TOO_LARGE, 57, OP_PING, "body_len 1 MiB + 1")
    with ctx.conn() as c:
        c.send(OP_BIND, b"", request_id=58, body_len=0xFFFFFFFF, version=7, flags=0x80)
        expect_closed_with(c, E_FRAME_TOO_LARGE, 58, OP_BIND,
                           "oversize before version and flags")
    # Version: kept, the body skipped.
    with ctx.conn() as c:
        c.hello()
        expect_err(c, OP_PING, b"x" * 100, E_UNSUPPORTED_VERSION, "version 2", version=2)
        expect_err(c, OP_PING, b"y" * 10, E_UNSUPPORTED_VERSION, "version 0", version=0)
        expect_err(c, OP_PING, b"z", E_UNSUPPORTED_VERSION, "version 2 before bad flags",
                   version=2, flags=0x04)
        expect_err(c, OP_PING, b"z", E_UNSUPPORTED_VERSION, "version before crc",
                   version=2, body_crc=123)
    # Flags: kept.
    with ctx.conn() as c:
        c.hello()
        expect_err(c, OP_PING, b"abc", E_BAD_FLAGS, "RESPONSE set on a request", flags=0x01)
        for bit in range(2, 8):
            expect_err(c, OP_PING, b"abcd", E_BAD_FLAGS, "flag bit %d" % bit, flags=1 << bit)
        expect_err(c, OP_PING, b"abc", E_BAD_FLAGS, "bad flags before bad crc",
                   flags=0x01, body_crc=5)
        # Requests carry no flags at all (section 2): ERROR is refused too.
        expect_err(c, OP_PING, b"err-flag", E_BAD_FLAGS, "ERROR flag on a request", flags=0x02)
        expect_err(c, OP_PING, b"both", E_BAD_FLAGS, "RESPONSE|ERROR on a request", flags=0x03)
    # CRC: kept, with the request's id and opcode.
    with ctx.conn() as c:
        c.hello()
        expect_err(c, OP_PING, b"abc", E_BAD_CRC, "wrong crc", body_crc=0x12345678)
        expect_err(c, OP_PING, b"", E_BAD_CRC, "non-zero crc on an empty body", body_crc=1)
        expect_err(c, 0x0777, b"abc", E_BAD_CRC, "crc before opcode", body_crc=1)
        expect_err(c, OP_BIND, b"\xff", E_BAD_CRC, "crc before session and body", body_crc=1)
        # Big body with a bad crc is skipped whole.
        expect_err(c, OP_PING, b"q" * 200000, E_BAD_CRC, "wrong crc, 200 KB body", body_crc=0)
    with ctx.conn() as c:
        expect_err(c, OP_PING, b"abc", E_BAD_CRC, "wrong crc before HELLO", body_crc=9)
    # Unknown opcodes: kept.
    with ctx.conn() as c:
        c.hello()
        for op in (0x0000, 0x0006, 0x000F, 0x0013, 0x001F, 0x0029, 0x002F, 0x0033, 0x003F,
                   0x00FF, 0x0100, 0xFFFF):
            expect_err(c, op, b"\x00\x01", E_UNKNOWN_OPCODE, "opcode 0x%04x" % op)
    # A frame split into single bytes is still one frame.
    with ctx.conn() as c:
        c.hello()
        frame = hc.encode_frame(OP_PING, b"slow", 4242)
        for i in range(len(frame)):
            c.send_raw(frame[i:i + 1])
            time.sleep(0.002)
        f = c.wait(4242)
        T.eq(f.body, b"slow", "byte-by-byte frame")
        # Many frames in one write.
        blob = b"".join(hc.encode_frame(OP_PING, b"%d" % i, 5000 + i) for i in range(50))
        c.send_raw(blob)
        for i in range(50):
            T.eq(c.wait(5000 + i).body, b"%d" % i, "coalesced frame %d" % i)


def start_timeouts(ctx):
    """Section 6 E_TIMEOUT: part of a frame, then silence. Started early,
    checked at the end, so the 10 s wait overlaps the other tests."""
    conns = []
    c1 = ctx.conn(timeout=40)
    c1.hello()
    c1.send_raw(hc.encode_frame(OP_PING, b"abcdef", 31)[:10])  # half a header
    conns.append(("half a header", c1))
    c2 = ctx.conn(timeout=40)
    c2.hello()
    c2.send_raw(hc.encode_frame(OP_PING, b"abcdef", 32)[:27])  # header, half a body
    conns.append(("header and half a body", c2))
    return time.monotonic(), conns


def finish_timeouts(started, conns):
    for what, c in conns:
        try:
            f = c.recv_frame(max(1.0, started + 30 - time.monotonic()))
        except (TimeoutError, ProtocolError) as e:
            T.check(False, "E_TIMEOUT after %s: no answer within 30 s (%r)" % (what, e))
            continue
        waited = time.monotonic() - started
        if not T.check(f is not None, "E_TIMEOUT after %s: closed without an error frame" % what):
            continue
        code = f.error()[0] if f.is_error else None
        T.check(code == E_TIMEOUT, "stalled frame (%s): got %s, expected E_TIMEOUT"
                % (what, hc.error_name(code) if code else repr(f)))
        T.eq((f.request_id, f.opcode), (0, 0), "E_TIMEOUT id and opcode (%s)" % what)
        T.check(waited >= 8, "E_TIMEOUT came after %.1f s, the default is 10 s" % waited)
        T.check(c.closed_by_peer(), "E_TIMEOUT closes (%s)" % what)
        c.close()


def t_bind(ctx):
    """Sections 5, 5.1, 5.2: BIND, UNBIND, channels and addresses."""
    t0 = int(time.time() * 1000)
    with ctx.app("app1") as c:
        r = c.bind("alice", CH_PUSH, VENDOR_APNS, PLATFORM_IOS, "tok-alice-1")
        T.eq(r, {"device_id": 1, "created": 1}, "first BIND")
        r = c.bind("alice", CH_PUSH, VENDOR_APNS, PLATFORM_ANDROID, "tok-alice-1")
        T.eq(r, {"device_id": 1, "created": 0}, "BIND again (platform change)")
        T.eq(c.bind("alice", CH_SMS, 0, 0, "+8613800138000"), {"device_id": 2, "created": 1}, "BIND sms")
        T.eq(c.bind("alice", CH_EMAIL, 0, 0, "a@b.co"), {"device_id": 3, "created": 1}, "BIND email")
        T.eq(c.bind("alice", CH_WECHAT, 0, 0, "oX_a-19Z"), {"device_id": 4, "created": 1}, "BIND wechat")
        T.eq(c.bind("alice", CH_WEBHOOK, 0, 0, "https://example.com/h?x=1"),
             {"device_id": 5, "created": 1}, "BIND webhook")
        # Same address, same channel, other vendor: another device.
        T.eq(c.bind("alice", CH_PUSH, VENDOR_FCM, PLATFORM_ANDROID, "tok-alice-1"),
             {"device_id": 6, "created": 1}, "BIND same token other vendor")
        # Same address on another channel is another device too.
        T.eq(c.bind("alice", CH_WEBHOOK, 0, 0, "http://x"), {"device_id": 7, "created": 1},
             "BIND http webhook")
        u = c.user_show("alice")
        t1 = int(time.time() * 1000)
        T.eq(u["user_id"], "alice", "USER_SHOW user id")
        T.eq([d["device_id"] for d in u["devices"]], [1, 2, 3, 4, 5, 6, 7], "devices by id")
        d1 = u["devices"][0]
        T.eq((d1["channel"], d1["vendor"], d1["platform"], d1["state"], d1["address"]),
             (CH_PUSH, VENDOR_APNS, PLATFORM_ANDROID, 0, "tok-alice-1"),
             "device 1 after the platform update")
        T.check(t0 - 5000 <= d1["bound_unix_ms"] <= t1 + 5000, "bound_unix_ms near now")
        T.eq((u["devices"][1]["channel"], u["devices"][1]["vendor"], u["devices"][1]["platform"]),
             (CH_SMS, 0, 0), "sms device")
        T.eq(u["tags"], [], "no tags yet")
        T.eq(u["attrs"], [], "no attrs yet")
        part = u["partition"]
        T.eq(c.user_show("alice")["partition"], part, "partition stable")

        # UNBIND, ids never reused.
        T.eq(c.unbind("alice", 7), None, "UNBIND")
        T.eq([d["device_id"] for d in c.user_show("alice")["devices"]], [1, 2, 3, 4, 5, 6],
             "device 7 gone")
        T.eq(c.bind("alice", CH_WEBHOOK, 0, 0, "http://x"), {"device_id": 8, "created": 1},
             "device ids are not reused")
        expect_call_err(E_NOT_FOUND, "UNBIND twice", c.unbind, "alice", 7)
        expect_call_err(E_NOT_FOUND, "UNBIND unknown device", c.unbind, "alice", 999)
        expect_call_err(E_NOT_FOUND, "UNBIND unknown user", c.unbind, "nobody", 1)
        # Device ids start at 1 (5.2 semantics); 0 names no device.
        expect_call_err(E_NOT_FOUND, "UNBIND device 0", c.unbind, "alice", 0)
        expect_call_err(E_NOT_FOUND, "ALIAS_SET device 0", c.alias_set, "alice", 0, "t", "v")
        expect_call_err(E_NOT_FOUND, "ALIAS_DEL device 0", c.alias_del, "alice", 0, "t")
        expect_call_err(E_NOT_FOUND, "USER_SHOW unknown user", c.user_show, "nobody")
        expect_err(c, OP_UNBIND, hc.enc_unbind("alice", 1)[:-1], E_BAD_BODY, "UNBIND short")
        expect_err(c, OP_UNBIND, hc.enc_unbind("alice", 1) + b"\x00", E_BAD_BODY, "UNBIND long")
        expect_err(c, OP_USER_SHOW, b"", E_BAD_BODY, "USER_SHOW empty body")

        # Bodies.
        good = hc.enc_bind("bob", CH_SMS, 0, 0, "+12345678")
        expect_err(c, OP_BIND, good[:-1], E_BAD_BODY, "BIND one byte short")
        expect_err(c, OP_BIND, good + b"\x00", E_BAD_BODY, "BIND one byte long")
        expect_err(c, OP_BIND, b"", E_BAD_BODY, "BIND empty")
        expect_err(c, OP_BIND, b"\xff\xff" + b"u" * 10, E_BAD_BODY, "BIND str past the end")

        # Enumerations (5.1).
        bad_enums = [
            (CH_PUSH, VENDOR_NONE, PLATFORM_IOS, "tok", "push without vendor"),
            (CH_PUSH, VENDOR_APNS, PLATFORM_NONE, "tok", "push without platform"),
            (CH_PUSH, 9, PLATFORM_IOS, "tok", "vendor 9"),
            (CH_PUSH, VENDOR_APNS, 5, "tok", "platform 5"),
            (CH_SMS, VENDOR_APNS, 0, "+12345678", "sms with a vendor"),
            (CH_SMS, 0, PLATFORM_IOS, "+12345678", "sms with a platform"),
            (CH_EMAIL, 0, PLATFORM_WEB, "a@b", "email with a platform"),
            (0, 0, 0, "x", "channel 0"),
            (6, 0, 0, "x", "channel 6"),
            (255, 0, 0, "x", "channel 255"),
        ]
        for ch, v, p, addr, what in bad_enums:
            expect_call_err(E_INVALID_ARGUMENT, "BIND " + what, c.bind, "bob", ch, v, p, addr)
        T.eq(c.bind("bob", CH_PUSH, VENDOR_MEIZU, PLATFORM_WEB, "t")["created"], 1,
             "highest vendor and platform")
        T.eq(c.bind("bob", CH_PUSH, VENDOR_HUAWEI, 3, "t")["created"], 1, "harmony")

        # Addresses (5.1).
        addr_cases = [
            (CH_PUSH, "x" * 512, True), (CH_PUSH, "x" * 513, False), (CH_PUSH, "", False),
            (CH_PUSH, "a b", False), (CH_PUSH, "a\x7f", False), (CH_PUSH, "!~", True),
            (CH_PUSH, "tökén", False),
            (CH_SMS, "+1234567", True), (CH_SMS, "+123456789012345", True),
            (CH_SMS, "+123456", False), (CH_SMS, "+1234567890123456", False),
            (CH_SMS, "12345678", False), (CH_SMS, "+1234567a", False), (CH_SMS, "++1234567", False),
            (CH_SMS, "+", False), (CH_SMS, "", False),
            (CH_EMAIL, "a@b", True), (CH_EMAIL, "@ab", False), (CH_EMAIL, "ab@", False),
            (CH_EMAIL, "a@@b", False), (CH_EMAIL, "a@b@c", False), (CH_EMAIL, "ab", False),
            (CH_EMAIL, "a@", False), (CH_EMAIL, "a b@c", False),
            (CH_EMAIL, "a" * 250 + "@b.c", True), (CH_EMAIL, "a" * 251 + "@b.c", False),
            (CH_WECHAT, "a", True), (CH_WECHAT, "A-z_0" * 25 + "abc", True),
            (CH_WECHAT, "w" * 129, False), (CH_WECHAT, "", False), (CH_WECHAT, "a.b", False),
            (CH_WECHAT, "a b", False),
            (CH_WEBHOOK, "http://a", True), (CH_WEBHOOK, "https://a/b", True),
            (CH_WEBHOOK, "https://" + "p" * 504, True), (CH_WEBHOOK, "https://" + "p" * 505, False),
            (CH_WEBHOOK, "ftp://a", False), (CH_WEBHOOK, "http:/a", False),
            (CH_WEBHOOK, "https://a b", False), (CH_WEBHOOK, "", False),
        ]
        n = 0
        for ch, addr, ok in addr_cases:
            user = "addr-%d" % (n // 30)  # stay under 32 devices per user
            n += 1
            vendor, platform = (VENDOR_FCM, PLATFORM_ANDROID) if ch == CH_PUSH else (0, 0)
            what = "BIND channel %d address %r" % (ch, addr if len(addr) < 20 else addr[:16] + "...")
            if ok:
                r = expect_ok(what, c.bind, user, ch, vendor, platform, addr)
                if r:
                    T.eq(r["created"], 1, what)
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.bind, user, ch, vendor, platform, addr)

        # user_id rules (5.2).
        for uid, ok in (("u" * 128, True), ("u" * 129, False), ("", False), ("a\x00b", False),
                        ("a\x1fb", False), ("a\x7fb", False), ("用户-ü", True), ("a b/c", True),
                        # 5.2: control characters are U+0000-U+001F and U+007F-U+009F
                        ("a\u0085b", False), ("a\u009fb", False), ("a\u00a0b", True)):
            what = "BIND user_id %r" % (uid[:10] + ("..." if len(uid) > 10 else ""))
            if ok:
                expect_ok(what, c.bind, uid, CH_SMS, 0, 0, "+12345678")
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.bind, uid, CH_SMS, 0, 0, "+12345678")
        for bad in (b"\xff\xfe", b"a\xc0\x80", b"\xed\xa0\x80", b"ab\xe4\xbd", b"\xf4\x90\x80\x80"):
            body = Writer().str(bad).u8(CH_SMS).u8(0).u8(0).str("+12345678").bytes()
            expect_err(c, OP_BIND, body, E_INVALID_ARGUMENT, "BIND user_id %r (not valid UTF-8)" % bad)
        # 128 bytes of multi-byte UTF-8 is fine; 129 is not.
        expect_ok("user_id 128 bytes of UTF-8", c.bind, "é" * 64, CH_SMS, 0, 0, "+12345678")
        expect_call_err(E_INVALID_ARGUMENT, "user_id 129 bytes of UTF-8", c.bind,
                        "é" * 64 + "x", CH_SMS, 0, 0, "+12345678")
        # Nothing is created by a rejected BIND.
        expect_call_err(E_INVALID_ARGUMENT, "BIND bad address", c.bind, "ghost", CH_SMS, 0, 0, "123")
        expect_call_err(E_NOT_FOUND, "no user from a rejected BIND", c.user_show, "ghost")
        expect_call_err(E_INVALID_ARGUMENT, "USER_SHOW of an invalid user id", c.user_show, "u" * 129)


def t_device_limit(ctx):
    """5.2: 32 devices per user."""
    with ctx.app("app1") as c:
        for i in range(32):
            r = c.bind("full", CH_SMS, 0, 0, "+1555000%04d" % i)
            T.eq(r["device_id"], i + 1, "device %d" % (i + 1))
        expect_call_err(E_LIMIT_EXCEEDED, "33rd device", c.bind, "full", CH_SMS, 0, 0, "+15559999999")
        T.eq(c.bind("full", CH_SMS, 0, 0, "+15550000005"), {"device_id": 6, "created": 0},
             "re-BIND of a bound address at the limit")
        T.eq(len(c.user_show("full")["devices"]), 32, "still 32 devices")
        c.unbind("full", 32)
        T.eq(c.bind("full", CH_SMS, 0, 0, "+15559999999"), {"device_id": 33, "created": 1},
             "room again after UNBIND, next id")


def t_alias(ctx):
    """5 and 5.2: ALIAS_SET, ALIAS_DEL, ALIAS_LOOKUP, limits, visibility."""
    with ctx.app("app1") as c, ctx.app("app1") as other:
        c.bind("carol", CH_SMS, 0, 0, "+4915112345678")            # 1
        c.bind("carol", CH_EMAIL, 0, 0, "carol@example.org")        # 2
        c.bind("dave", CH_PUSH, VENDOR_HUAWEI, PLATFORM_ANDROID, "hw-tok")  # 1
        T.eq(c.alias_set("carol", 1, "phone", "138"), "", "first ALIAS_SET: no previous")
        T.eq(c.alias_set("carol", 1, "phone", "139"), "138", "ALIAS_SET replaces and returns the old")
        T.eq(c.alias_set("carol", 1, "phone", "139"), "139", "ALIAS_SET same value")
        T.eq(c.alias_set("carol", 2, "phone", "139"), "", "second device, same alias")
        T.eq(c.alias_set("dave", 1, "phone", "139"), "", "another user, same alias")
        # Visible to another connection as soon as the answer came.
        got = sorted(other.alias_lookup("phone", "139"))
        T.eq(got, [("carol", 1), ("carol", 2), ("dave", 1)], "ALIAS_LOOKUP lists all")
        code = err_code(other.alias_lookup, "phone", "138")
        res = None if code else other.alias_lookup("phone", "138")
        T.check(code == E_NOT_FOUND or res == [], "replaced alias no longer found (%r/%r)" % (code, res))
        T.note("ALIAS_LOOKUP of an alias nobody has -> %s" % (
            hc.error_name(code) if code else "count 0"))
        # Alias type is part of the key.
        c.alias_set("carol", 1, "email_id", "139")
        T.eq(sorted(other.alias_lookup("email_id", "139")), [("carol", 1)], "alias types separate")
        u = c.user_show("carol")
        T.eq(sorted(u["devices"][0]["aliases"]), [("email_id", "139"), ("phone", "139")],
             "USER_SHOW lists aliases")

        # ALIAS_DEL.
        T.eq(c.alias_del("carol", 2, "phone"), None, "ALIAS_DEL")
        T.eq(sorted(other.alias_lookup("phone", "139")), [("carol", 1), ("dave", 1)],
             "ALIAS_DEL visible elsewhere")
        expect_call_err(E_NOT_FOUND, "ALIAS_DEL of a type not set", c.alias_del, "carol", 2, "phone")
        expect_call_err(E_NOT_FOUND, "ALIAS_DEL unknown device", c.alias_del, "carol", 99, "phone")
        expect_call_err(E_NOT_FOUND, "ALIAS_DEL unknown user", c.alias_del, "nobody", 1, "phone")
        expect_call_err(E_NOT_FOUND, "ALIAS_SET unknown user", c.alias_set, "nobody", 1, "phone", "1")
        expect_call_err(E_NOT_FOUND, "ALIAS_SET unknown device", c.alias_set, "carol", 99, "phone", "1")

        # UNBIND removes the device's aliases.
        c.unbind("dave", 1)
        T.eq(sorted(other.alias_lookup("phone", "139")), [("carol", 1)], "UNBIND drops aliases")

        # Field rules.
        for at, ok in (("a" * 32, True), ("a" * 33, False), ("", False), ("Phone", False),
                       ("a-b", False), ("a_1", True)):
            what = "alias_type %r" % at
            if ok:
                expect_ok(what, c.alias_set, "carol", 2, at, "v")
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.alias_set, "carol", 2, at, "v")
        c.alias_del("carol", 2, "a" * 32)
        c.alias_del("carol", 2, "a_1")
        for al, ok in (("x" * 128, True), ("x" * 129, False), ("", False), ("a\nb", False),
                       ("名字 x", True), ("x\u009fy", False), ("x\u0080y", False)):
            what = "alias %r" % al[:12]
            if ok:
                expect_ok(what, c.alias_set, "carol", 2, "nick", al)
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.alias_set, "carol", 2, "nick", al)
        expect_call_err(E_INVALID_ARGUMENT, "ALIAS_LOOKUP bad type", c.alias_lookup, "BAD", "x")
        expect_call_err(E_INVALID_ARGUMENT, "ALIAS_LOOKUP empty alias", c.alias_lookup, "nick", "")
        expect_err(c, OP_ALIAS_SET, hc.enc_alias_set("carol", 2, "t", "v") + b"\x00", E_BAD_BODY,
                   "ALIAS_SET trailing byte")
        expect_err(c, OP_ALIAS_LOOKUP, hc.enc_alias_lookup("t", "v")[:-1], E_BAD_BODY,
                   "ALIAS_LOOKUP short")
        expect_err(c, OP_ALIAS_DEL, hc.enc_alias_del("carol", 2, "t")[:-2], E_BAD_BODY,
                   "ALIAS_DEL short")

        # 8 aliases per device.
        c.bind("erin", CH_SMS, 0, 0, "+3312345678")
        for i in range(8):
            c.alias_set("erin", 1, "t%d" % i, "v")
        expect_call_err(E_LIMIT_EXCEEDED, "9th alias on a device", c.alias_set, "erin", 1, "t8", "v")
        T.eq(c.alias_set("erin", 1, "t3", "w"), "v", "replacing at the limit is fine")
        T.eq(len(c.user_show("erin")["devices"][0]["aliases"]), 8, "8 aliases kept")

        # Any number of devices may share an alias; ALIAS_LOOKUP lists at
        # most 1000 of them (section 5.2). 1001 devices of 32 users.
        frames, want = [], []
        rid = 900000
        for u in range(32):
            for i in range(32):
                frames.append(hc.encode_frame(OP_BIND, hc.enc_bind(
                    "share-%02d" % u, CH_SMS, 0, 0, "+4420000%04d" % i), rid))
                rid += 1
        answers = bulk(c, frames)
        T.check(all(not f.is_error for f in answers.values()), "1024 pipelined BINDs")
        frames = []
        for k in range(1001):
            frames.append(hc.encode_frame(OP_ALIAS_SET, hc.enc_alias_set(
                "share-%02d" % (k // 32), k % 32 + 1, "grp", "all"), rid))
            want.append(("share-%02d" % (k // 32), k % 32 + 1))
            rid += 1
        answers = bulk(c, frames)
        errs = [f.error() for f in answers.values() if f.is_error]
        T.eq(errs[:3], [], "1001 devices may share one alias")
        got = other.alias_lookup("grp", "all")
        T.eq(len(got), 1000, "ALIAS_LOOKUP lists at most 1000")
        T.eq(len(set(got)), len(got), "ALIAS_LOOKUP entries distinct")
        T.check(set(got) <= set(want), "ALIAS_LOOKUP lists only devices that have the alias")
        c.alias_del("share-00", 1, "grp")
        T.eq(sorted(other.alias_lookup("grp", "all")), sorted(want[1:]),
             "1000 left: all listed")

    # Scope: another app sees none of it.
    with ctx.app("app2") as c2:
        code = err_code(c2.alias_lookup, "phone", "139")
        res = None if code else c2.alias_lookup("phone", "139")
        T.check(code == E_NOT_FOUND or res == [], "app2 does not see app1's aliases (%r/%r)"
                % (code, res))
        expect_call_err(E_NOT_FOUND, "app2 USER_SHOW of app1's user", c2.user_show, "carol")
        c2.bind("carol", CH_SMS, 0, 0, "+4915100000000")
        T.eq(len(c2.user_show("carol")["devices"]), 1, "same user id, other app: other user")
        c2.alias_set("carol", 1, "phone", "139")
        T.eq(c2.alias_lookup("phone", "139"), [("carol", 1)], "app2's alias only")
    with ctx.app("app1") as c:
        T.eq(len(c.user_show("carol")["devices"]), 2, "app1's carol unchanged")
        T.eq(sorted(c.alias_lookup("phone", "139")), [("carol", 1)], "app1's alias only")


def t_tags(ctx):
    """5 and 5.2: TAG_ADD, TAG_DEL."""
    with ctx.app("app1") as c:
        T.eq(c.tag_add("frank", ["vip", "beta"]), 2, "TAG_ADD creates the user")
        T.eq(c.tag_add("frank", ["vip", "new"]), 1, "TAG_ADD counts only new tags")
        T.eq(c.tag_add("frank", []), 0, "TAG_ADD of nothing")
        T.eq(c.tag_del("frank", ["vip", "nope"]), 1, "TAG_DEL counts only removed tags")
        T.eq(c.tag_del("frank", []), 0, "TAG_DEL of nothing")
        u = c.user_show("frank")
        T.eq(u["devices"], [], "a tagged user without devices")
        T.eq(u["tags"], ["beta", "new"], "tags after add and del")
        c.tag_add("frank", ["Zed", "a", "_x", "B.1", "a:b", "9-9"])
        want = sorted(["beta", "new", "Zed", "a", "_x", "B.1", "a:b", "9-9"], key=lambda s: s.encode())
        T.eq(c.user_show("frank")["tags"], want, "tags sorted bytewise")
        dup = c.tag_add("frank", ["dup", "dup"])
        T.note("TAG_ADD ['dup','dup'] on a user without it -> added %d" % dup)
        T.check(dup in (1, 2), "duplicate tags in one request")
        T.eq(c.user_show("frank")["tags"].count("dup"), 1, "a tag is stored once")
        expect_call_err(E_NOT_FOUND, "TAG_DEL unknown user", c.tag_del, "nobody", ["x"])
        T.eq(err_code(c.user_show, "nobody"), E_NOT_FOUND, "TAG_DEL created no user")
        # Rules, and the request is checked whole.
        for tag, ok in (("t" * 64, True), ("t" * 65, False), ("", False), ("a b", False),
                        ("a/b", False), ("ü", False), ("A-z_0.9:", True)):
            what = "tag %r" % tag[:12]
            if ok:
                expect_ok(what, c.tag_add, "gina", [tag])
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.tag_add, "gina", [tag])
        expect_call_err(E_INVALID_ARGUMENT, "TAG_ADD good then bad", c.tag_add, "gina",
                        ["fresh1", "bad tag"])
        T.check("fresh1" not in c.user_show("gina")["tags"], "rejected TAG_ADD changed nothing")
        expect_call_err(E_INVALID_ARGUMENT, "TAG_DEL good then bad", c.tag_del, "gina",
                        ["t" * 64, "bad tag"])
        T.check("t" * 64 in c.user_show("gina")["tags"], "rejected TAG_DEL changed nothing")
        expect_call_err(E_INVALID_ARGUMENT, "TAG_ADD with a bad user id", c.tag_add, "", ["x"])
        # Counts and bodies.
        body = hc.enc_tags("gina", ["a", "b"])
        expect_err(c, OP_TAG_ADD, body[:-1], E_BAD_BODY, "TAG_ADD short")
        expect_err(c, OP_TAG_ADD, body + b"\x00", E_BAD_BODY, "TAG_ADD long")
        lying = Writer().str("gina").u16(3).str("a").str("b").bytes()
        expect_err(c, OP_TAG_ADD, lying, E_BAD_BODY, "TAG_ADD count 3 with 2 tags")
        expect_err(c, OP_TAG_DEL, Writer().str("gina").u16(1).bytes(), E_BAD_BODY,
                   "TAG_DEL count 1 with none")
        # Limits: 256 per request, 256 per user.
        many = ["m%03d" % i for i in range(257)]
        got = expect_call_err((E_LIMIT_EXCEEDED, E_BAD_BODY), "257 tags in one request",
                              c.tag_add, "henry", many)
        T.note("TAG_ADD with 257 tags in one request -> %s" % hc.error_name(got))
        T.eq(err_code(c.user_show, "henry"), E_NOT_FOUND, "the rejected TAG_ADD created no user")
        T.eq(c.tag_add("henry", many[:256]), 256, "256 tags in one request")
        expect_call_err(E_LIMIT_EXCEEDED, "257th tag on a user", c.tag_add, "henry", ["zzz"])
        expect_call_err(E_LIMIT_EXCEEDED, "over the limit with new and old tags", c.tag_add,
                        "henry", ["m000", "zzz"])
        T.eq(c.tag_add("henry", ["m000", "m001"]), 0, "re-adding tags it has at the limit")
        T.eq(len(c.user_show("henry")["tags"]), 256, "256 tags kept")
        T.eq(c.tag_del("henry", many[:256]), 256, "TAG_DEL 256")
        code = err_code(c.user_show, "henry")
        T.note("a user whose last tag is removed %s" % (
            "still exists" if code is None else "is gone (%s)" % hc.error_name(code)))
        if code is None:
            T.eq(c.user_show("henry")["tags"], [], "all tags gone")


def t_attrs(ctx):
    """5 and 5.2: ATTR_SET, tz and locale, limits."""
    with ctx.app("app1") as c:
        T.eq(c.attr_set("ivan", [("lang", "x"), ("tz", "Asia/Shanghai"), ("locale", "zh-CN")]), 3,
             "ATTR_SET creates the user")
        T.eq(c.attr_set("ivan", [("lang", "")]), 2, "an empty value deletes")
        T.eq(c.attr_set("ivan", [("lang", "")]), 2, "deleting a missing key")
        T.eq(c.attr_set("ivan", [("k", "1"), ("k", "2")]), 3, "pairs applied in order")
        T.eq(c.attr_set("ivan", [("j", "1"), ("j", "")]), 3, "set then delete in one request")
        T.eq(c.attr_set("ivan", []), 3, "ATTR_SET of nothing")
        u = c.user_show("ivan")
        T.eq(u["attrs"], [("k", "2"), ("locale", "zh-CN"), ("tz", "Asia/Shanghai")],
             "attrs sorted by key, last write wins")
        c.attr_set("ivan", [("Z", "1"), ("_", "2"), ("a.b-c", "3"), ("A", "")])
        keys = [k for k, _ in c.user_show("ivan")["attrs"]]
        T.eq(keys, sorted(keys, key=lambda s: s.encode()), "bytewise key order")
        for k, v, ok in (("k" * 64, "v", True), ("k" * 65, "v", False), ("", "v", False),
                         ("a b", "v", False), ("a:b", "v", False),
                         ("big", "v" * 1024, True), ("big", "v" * 1025, False),
                         ("uni", "值 ✓", True), ("tab", "a\tb", True),
                         ("ctl", "a\x00b\x7f\u0085", True),
                         ("tz", "UTC", True), ("tz", "Europe/Berlin", True),
                         ("tz", "Mars/Olympus", False), ("tz", "utc/x", False),
                         ("tz", "", True),
                         ("locale", "en", True), ("locale", "zh-Hans-CN", True),
                         ("locale", "de-DE-1996", True), ("locale", "e", False),
                         ("locale", "zh_CN", False), ("locale", "english", False),
                         ("locale", "zh-", False), ("locale", "zh-C", False),
                         ("locale", "zh-ABCDEFGHI", False), ("locale", "", True)):
            what = "ATTR_SET %r=%r" % (k[:10], v[:12])
            if ok:
                expect_ok(what, c.attr_set, "jane", [(k, v)])
            else:
                expect_call_err(E_INVALID_ARGUMENT, what, c.attr_set, "jane", [(k, v)])
        for bad in (b"\xff", b"a\xc0\xafb", b"\xe4\xbd"):
            expect_call_err(E_INVALID_ARGUMENT, "ATTR_SET value %r (not valid UTF-8)" % bad,
                            c.attr_set, "jane", [("k", bad)])
        before = c.user_show("jane")["attrs"]
        expect_call_err(E_INVALID_ARGUMENT, "good pair then bad tz", c.attr_set, "jane",
                        [("fresh", "1"), ("tz", "Nowhere/Town")])
        T.eq(c.user_show("jane")["attrs"], before, "rejected ATTR_SET changed nothing")
        body = hc.enc_attr_set("jane", [("a", "b")])
        expect_err(c, OP_ATTR_SET, body[:-1], E_BAD_BODY, "ATTR_SET short")
        expect_err(c, OP_ATTR_SET, body + b"\x00", E_BAD_BODY, "ATTR_SET long")
        expect_err(c, OP_ATTR_SET, Writer().str("jane").u16(2).str("a").str("b").bytes(),
                   E_BAD_BODY, "ATTR_SET count 2 with 1 pair")
        # Limits: 64 per request, 64 per user.
        pairs = [("k%02d" % i, "v") for i in range(65)]
        got = expect_call_err((E_LIMIT_EXCEEDED, E_BAD_BODY), "65 attrs in one request",
                              c.attr_set, "kate", pairs)
        T.note("ATTR_SET with 65 pairs in one request -> %s" % hc.error_name(got))
        T.eq(c.attr_set("kate", pairs[:64]), 64, "64 attrs")
        expect_call_err(E_LIMIT_EXCEEDED, "65th attr on a user", c.attr_set, "kate", [("zz", "1")])
        T.eq(c.attr_set("kate", [("k00", ""), ("zz", "1")]), 64,
             "delete one then add one at the limit")
        code = err_code(c.attr_set, "kate", [("zy", "1"), ("k01", "")])
        T.note("ATTR_SET at 64 attrs adding one then deleting one -> %s" % (
            "accepted" if code is None else hc.error_name(code)))
        T.eq(c.attr_set("kate", [("k02", "changed")]), 64, "overwrite at the limit")


# ---- receipts (sections 5, 5.1, 5.2, 5.6, 5.7) ------------------------------------

def now_ms():
    return int(time.time() * 1000)


HOUR_MS = 3600 * 1000


def receipt_of(h):
    """The fields of a HISTORY entry that RECEIPT_PUT sent, as a tuple."""
    return (h["message_id"], h["campaign_id"], h["channel"], h["vendor"], h["state"],
            h["reason"])


def history_pages(c, user, limit, cursor=CURSOR_START, max_pages=5000):
    """Every page from cursor on: a list of dec_history results, checked
    against section 5.6 (count <= limit, a cursor that moves)."""
    pages = []
    for _ in range(max_pages):
        h = c.history(user, cursor, limit)
        T.check(h["count"] <= limit, "HISTORY %s: %d receipts on a page of limit %d"
                % (user, h["count"], limit))
        pages.append(h)
        if h["next_cursor"] == CURSOR_START:
            return pages
        if not T.check(h["next_cursor"] != cursor, "HISTORY %s: next_cursor == cursor" % user):
            return pages
        cursor = h["next_cursor"]
    T.check(False, "HISTORY %s: more than %d pages of %d" % (user, max_pages, limit))
    return pages


def all_receipts(pages):
    return [r for p in pages for r in p["receipts"]]


def t_receipt_put(ctx):
    """Sections 5, 5.1, 5.2 and 5.5: RECEIPT_PUT, its field rules, its answer."""
    with ctx.admin() as a:
        st0 = store_stats_frame(a, "before receipts")
    with ctx.app("app1") as c:
        t0 = now_ms()
        rec = c.receipt_put("rp-user", 1, 0, CH_SMS, VENDOR_NONE, STATE_QUEUED)
        t1 = now_ms()
        T.check(t0 - 5000 <= rec <= t1 + 5000, "recorded_unix_ms %d near now %d" % (rec, t1))
        h = c.history("rp-user", CURSOR_START, 10)
        T.eq(h["count"], 1, "HISTORY after one RECEIPT_PUT")
        T.eq(h["next_cursor"], CURSOR_START, "one receipt: nothing older")
        if h["count"] == 1:
            r0 = h["receipts"][0]
            T.eq(receipt_of(r0), (1, 0, CH_SMS, VENDOR_NONE, STATE_QUEUED, ""),
                 "HISTORY gives back what was put")
            T.eq(r0["recorded_unix_ms"], rec, "HISTORY recorded_unix_ms == RECEIPT_PUT's answer")
            T.eq(r0["event_unix_ms"], rec, "event_unix_ms 0 means now: the recording time")
        # A given event time is kept as given.
        ev = t0 - 5 * HOUR_MS
        rec2 = c.receipt_put("rp-user", 2, 5, CH_PUSH, VENDOR_HUAWEI, STATE_DELIVERED, ev, "")
        T.check(rec2 >= rec, "recorded_unix_ms does not go back (%d, %d)" % (rec, rec2))
        r1 = c.history("rp-user", CURSOR_START, 1)["receipts"][0]
        T.eq((receipt_of(r1), r1["event_unix_ms"], r1["recorded_unix_ms"]),
             ((2, 5, CH_PUSH, VENDOR_HUAWEI, STATE_DELIVERED, ""), ev, rec2),
             "a given event_unix_ms is kept")

        # 5.2: the user need not exist, and a receipt does not create one.
        expect_call_err(E_NOT_FOUND, "USER_SHOW of a user with only receipts", c.user_show,
                        "rp-user")
        c.bind("rp-gone", CH_EMAIL, 0, 0, "gone@example.com")
        c.unbind("rp-gone", 1)
        expect_call_err(E_NOT_FOUND, "user gone after its last UNBIND", c.user_show, "rp-gone")
        expect_ok("RECEIPT_PUT after UNBIND", c.receipt_put, "rp-gone", 3, 0, CH_EMAIL, 0,
                  STATE_DELIVERED)
        T.eq([x["message_id"] for x in c.history("rp-gone", CURSOR_START, 10)["receipts"]], [3],
             "receipts of a user whose devices are gone")

        # Valid edges, each accepted.
        future = now_ms() + 23 * HOUR_MS
        good = [
            ("largest message id", ("rp-ok", 2**64 - 1, 0, CH_SMS, 0, STATE_SENT, 0, "")),
            ("largest campaign id", ("rp-ok", 4, 2**64 - 1, CH_SMS, 0, STATE_SENT, 0, "")),
            ("event_unix_ms 1", ("rp-ok", 5, 0, CH_SMS, 0, STATE_SENT, 1, "")),
            ("event 23 h ahead", ("rp-ok", 6, 0, CH_SMS, 0, STATE_SENT, future, "")),
            ("reason of 64 bytes", ("rp-ok", 7, 0, CH_SMS, 0, STATE_FAILED, 0, "r" * 64)),
            ("reason with space and tilde", ("rp-ok", 8, 0, CH_SMS, 0, STATE_FAILED, 0, " a~!")),
            ("reason on a delivered receipt", ("rp-ok", 9, 0, CH_SMS, 0, STATE_DELIVERED, 0,
                                               "via gateway 2")),
            ("user id of 128 bytes", ("u" * 128, 10, 0, CH_SMS, 0, STATE_SENT, 0, "")),
            ("user id of multi-byte UTF-8", ("用户-ü", 11, 0, CH_SMS, 0, STATE_SENT, 0, "")),
        ]
        for ch in (CH_SMS, CH_EMAIL, CH_WECHAT, CH_WEBHOOK):
            good.append(("channel %d, vendor 0" % ch, ("rp-ok", 20 + ch, 0, ch, 0, STATE_SENT, 0,
                                                       "")))
        for v in range(1, 9):
            good.append(("push, vendor %d" % v, ("rp-ok", 30 + v, 0, CH_PUSH, v, STATE_SENT, 0,
                                                 "")))
        for st in range(1, 8):
            good.append(("state %d" % st, ("rp-ok", 40 + st, 0, CH_SMS, 0, st, 0,
                                           "why" if st == STATE_FAILED else "")))
        for what, args in good:
            expect_ok("RECEIPT_PUT " + what, c.receipt_put, *args)
        got = all_receipts(history_pages(c, "rp-ok", 1000))
        want = [(a[1], a[2], a[3], a[4], a[5], a[7]) for _, a in good if a[0] == "rp-ok"]
        T.eq([receipt_of(x) for x in got], want[::-1], "accepted receipts, newest first")
        fut = [x for x in got if x["message_id"] == 6]
        if fut:
            T.eq(fut[0]["event_unix_ms"], future, "an event time 23 h ahead is kept")

        # Each rule broken once: E_INVALID_ARGUMENT, or E_LIMIT_EXCEEDED for a long reason.
        bad_user = "rp-bad"
        bad_campaign = 880001
        now = now_ms()
        bad = [
            ("message id 0", E_INVALID_ARGUMENT, (bad_user, 0, bad_campaign, CH_SMS, 0, 1, 0, "")),
            ("channel 0", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, 0, 0, 1, 0, "")),
            ("channel 6", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, 6, 0, 1, 0, "")),
            ("channel 255", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, 255, 0, 1, 0, "")),
            ("push without vendor", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_PUSH, 0, 1, 0, "")),
            ("push with vendor 9", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_PUSH, 9, 1, 0, "")),
            ("sms with a vendor", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_SMS, VENDOR_APNS, 1, 0, "")),
            ("webhook with a vendor", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_WEBHOOK, VENDOR_MEIZU, 1, 0, "")),
            ("state 0", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, CH_SMS, 0, 0, 0, "")),
            ("state 8", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, CH_SMS, 0, 8, 0, "")),
            ("state 255", E_INVALID_ARGUMENT, (bad_user, 1, bad_campaign, CH_SMS, 0, 255, 0, "")),
            ("event 25 h ahead", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_SMS, 0, 1, now + 25 * HOUR_MS, "")),
            ("event at u64 max", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_SMS, 0, 1, 2**64 - 1, "")),
            ("reason of 65 bytes", E_LIMIT_EXCEEDED,
             (bad_user, 1, bad_campaign, CH_SMS, 0, STATE_FAILED, 0, "r" * 65)),
            ("reason of 1000 bytes", E_LIMIT_EXCEEDED,
             (bad_user, 1, bad_campaign, CH_SMS, 0, STATE_FAILED, 0, "r" * 1000)),
            ("failed without reason", E_INVALID_ARGUMENT,
             (bad_user, 1, bad_campaign, CH_SMS, 0, STATE_FAILED, 0, "")),
            ("user id empty", E_INVALID_ARGUMENT, ("", 1, bad_campaign, CH_SMS, 0, 1, 0, "")),
            ("user id of 129 bytes", E_INVALID_ARGUMENT,
             ("u" * 129, 1, bad_campaign, CH_SMS, 0, 1, 0, "")),
            ("user id with a control character", E_INVALID_ARGUMENT,
             ("a\x01b", 1, bad_campaign, CH_SMS, 0, 1, 0, "")),
            ("user id not UTF-8", E_INVALID_ARGUMENT,
             (b"\xff\xfe", 1, bad_campaign, CH_SMS, 0, 1, 0, "")),
        ]
        for b in (b"tab\there", b"nl\n", b"\x1f", b"del\x7f", b"\xc3\xa9t\xc3\xa9", b"\x00",
                  b"\x80"):
            bad.append(("reason %r" % b, E_INVALID_ARGUMENT,
                        (bad_user, 1, bad_campaign, CH_SMS, 0, STATE_FAILED, 0, b)))
        for what, code, args in bad:
            expect_err(c, OP_RECEIPT_PUT, hc.enc_receipt_put(*args), code, "RECEIPT_PUT " + what)
        h = c.history(bad_user, CURSOR_START, 10)
        T.eq((h["count"], h["next_cursor"]), (0, CURSOR_START), "rejected receipts are not kept")
        T.eq(c.campaign_counters(bad_campaign), [], "rejected receipts are not counted")

        # Bodies (section 3).
        body = hc.enc_receipt_put("rp-body", 1, 0, CH_SMS, 0, STATE_SENT, 0, "x")
        expect_err(c, OP_RECEIPT_PUT, body[:-1], E_BAD_BODY, "RECEIPT_PUT one byte short")
        expect_err(c, OP_RECEIPT_PUT, body + b"\x00", E_BAD_BODY, "RECEIPT_PUT one byte long")
        expect_err(c, OP_RECEIPT_PUT, body[:-3], E_BAD_BODY, "RECEIPT_PUT without reason")
        expect_err(c, OP_RECEIPT_PUT, b"", E_BAD_BODY, "RECEIPT_PUT empty")
        expect_err(c, OP_RECEIPT_PUT, body[:-3] + b"\x09\x00abc", E_BAD_BODY,
                   "RECEIPT_PUT reason str past the end")
        T.eq(c.history("rp-body", CURSOR_START, 10)["count"], 0, "bad bodies store nothing")

        # The store counts what was written (5.4, 5.5).
        with ctx.admin() as a:
            s1 = store_stats_frame(a, "before 10 receipts")
            for i in range(10):
                c.receipt_put("rp-count-%d" % i, 100 + i, 0, CH_SMS, 0, STATE_SENT)
            s2 = store_stats_frame(a, "after 10 receipts")
        if st0 and s1 and s2:
            T.eq(s2["receipts_written"] - s1["receipts_written"], 10,
                 "receipts_written counts 10 RECEIPT_PUTs")
            T.check(s1["receipts_written"] > st0["receipts_written"],
                    "receipts_written grows (%d -> %d)" % (st0["receipts_written"],
                                                          s1["receipts_written"]))
            T.check(s2["event_segment_files"] >= 1, "event_segment_files %d >= 1 after receipts"
                    % s2["event_segment_files"])
            T.check(s2["event_segment_bytes"] > 0, "event_segment_bytes > 0 after receipts")
            T.eq(s2["receipts_replayed"], st0["receipts_replayed"], "receipts_replayed fixed")
            T.eq(s2["epoch"], st0["epoch"], "epoch fixed")
    # Scope: another app has no receipts of app1's users.
    with ctx.app("app2") as c2:
        h = c2.history("rp-user", CURSOR_START, 10)
        T.eq((h["count"], h["next_cursor"]), (0, CURSOR_START), "app2 sees none of app1's receipts")


def t_history(ctx):
    """Sections 5.2 and 5.6: HISTORY pages through every receipt exactly once,
    newest first, whatever the page size, also while new receipts arrive."""
    rnd = random.Random(1234)
    user = "hist-a"
    n = 1001
    with ctx.app("app1") as c:
        # No receipts: an empty answer, not an error, whether or not the user exists.
        for who in ("hist-nobody", "v" * 128):
            h = c.history(who, CURSOR_START, 10)
            T.eq((h["count"], h["receipts"], h["next_cursor"]), (0, [], CURSOR_START),
                 "HISTORY of %s without receipts" % who[:12])
        c.bind("hist-bound", CH_SMS, 0, 0, "+4930000001")
        h = c.history("hist-bound", CURSOR_START, 10)
        T.eq((h["count"], h["next_cursor"]), (0, CURSOR_START), "HISTORY of a bound user")

        # 1001 receipts, pipelined on one connection: recorded in the order sent.
        t0 = now_ms()
        put, frames = [], []
        for i in range(n):
            ch = rnd.choice((CH_PUSH, CH_SMS, CH_EMAIL, CH_WECHAT, CH_WEBHOOK))
            vendor = rnd.randint(1, 8) if ch == CH_PUSH else 0
            state = rnd.randint(1, 7)
            reason = ("code %d" % i) if state == STATE_FAILED or i % 5 == 0 else ""
            event = t0 - rnd.randint(0, 48 * HOUR_MS)  # not in recording order
            args = (user, 5000 + i, rnd.choice((0, 1, 2)), ch, vendor, state, event, reason)
            put.append(args)
            frames.append(hc.encode_frame(OP_RECEIPT_PUT, hc.enc_receipt_put(*args), 700000 + i))
        answers = bulk(c, frames)
        errs = [f.error() for f in answers.values() if f.is_error]
        T.eq(errs[:3], [], "1001 pipelined RECEIPT_PUTs")
        recorded = [hc.dec_receipt_put(answers[700000 + i].body) if not answers[700000 + i].is_error
                    else None for i in range(n)]
        T.check(all(a is None or b is None or a <= b for a, b in zip(recorded, recorded[1:])),
                "recorded_unix_ms follows the order of recording")
        want = [(a[1], a[2], a[3], a[4], a[5], a[7]) for a in reversed(put)]

        for limit in (1000, 1, 7, 100, 999):
            pages = history_pages(c, user, limit)
            got = all_receipts(pages)
            ids = [x["message_id"] for x in got]
            T.eq(len(ids), len(set(ids)), "limit %d: no receipt twice" % limit)
            T.eq(len(got), n, "limit %d: every receipt" % limit)
            T.check([receipt_of(x) for x in got] == want,
                    "limit %d: every receipt exactly once, newest first, fields as put" % limit)
            T.check(len(pages) >= (n + limit - 1) // limit,
                    "limit %d: %d pages for %d receipts" % (limit, len(pages), n))
            if limit == 1000:
                T.eq(pages[0]["count"], 1000, "a full first page of 1000")
                events = {x["message_id"]: x["event_unix_ms"] for x in got}
                T.check(all(events[a[1]] == a[6] for a in put), "event_unix_ms kept as given")
                rec = [x["recorded_unix_ms"] for x in got]
                T.check(all(a >= b for a, b in zip(rec, rec[1:])),
                        "recorded_unix_ms does not increase down the list")
            short = [p["count"] for p in pages[:-1] if p["count"] < limit]
            if short:
                T.note("HISTORY limit %d: %d pages before the last held fewer than limit"
                       % (limit, len(short)))

        # New receipts while paging appear only on a fresh cursor.
        first = c.history(user, CURSOR_START, 10)
        T.eq([receipt_of(x) for x in first["receipts"]], want[:10], "first page of 10")
        newer = []
        for i in range(5):
            args = (user, 9000 + i, 0, CH_SMS, 0, STATE_SENT, 0, "")
            c.receipt_put(*args)
            newer.insert(0, (args[1], args[2], args[3], args[4], args[5], args[7]))
        rest = all_receipts(history_pages(c, user, 50, first["next_cursor"]))
        T.check([receipt_of(x) for x in rest] == want[10:],
                "an old cursor goes on where it stopped, without the new receipts")
        fresh = all_receipts(history_pages(c, user, 1000))
        T.check([receipt_of(x) for x in fresh] == newer + want,
                "a fresh cursor starts with the new receipts")

        # limit (5.2).
        expect_err(c, OP_HISTORY, hc.enc_history(user, CURSOR_START, 0), E_INVALID_ARGUMENT,
                   "HISTORY limit 0")
        for lim in (1001, 65535):
            expect_err(c, OP_HISTORY, hc.enc_history(user, CURSOR_START, lim), E_LIMIT_EXCEEDED,
                       "HISTORY limit %d" % lim)
        # cursor (5.2): one the engine could not have produced.
        expect_err(c, OP_HISTORY, hc.enc_history(user, b"\xff" * 16, 10), E_INVALID_ARGUMENT,
                   "HISTORY cursor of 16 x 0xff")
        real = first["next_cursor"]
        for i in (0, 15):
            flipped = bytearray(real)
            flipped[i] ^= 0x80
            rid = c.send(OP_HISTORY, hc.enc_history(user, bytes(flipped), 10))
            f = c.wait(rid)
            T.note("HISTORY with byte %d of a real cursor flipped -> %s"
                   % (i, hc.error_name(f.error()[0]) if f.is_error else "a page"))
            T.check(not f.is_error or f.error()[0] == E_INVALID_ARGUMENT,
                    "a damaged cursor: a page or E_INVALID_ARGUMENT")
        rid = c.send(OP_HISTORY, hc.enc_history("hist-nobody", real, 10))
        f = c.wait(rid)
        T.note("HISTORY with another user's cursor -> %s"
               % (hc.error_name(f.error()[0]) if f.is_error else
                  "%d receipts" % hc.dec_history(f.body)["count"]))
        # user_id and bodies.
        for bad in ("", "u" * 129, "a\nb"):
            expect_err(c, OP_HISTORY, hc.enc_history(bad, CURSOR_START, 10), E_INVALID_ARGUMENT,
                       "HISTORY user id %r" % bad[:10])
        body = hc.enc_history(user, CURSOR_START, 10)
        expect_err(c, OP_HISTORY, body[:-1], E_BAD_BODY, "HISTORY one byte short")
        expect_err(c, OP_HISTORY, body + b"\x00", E_BAD_BODY, "HISTORY one byte long")
        expect_err(c, OP_HISTORY, Writer().str(user).raw(bytes(15)).u16(10).bytes(), E_BAD_BODY,
                   "HISTORY with a 15-byte cursor")
        expect_err(c, OP_HISTORY, Writer().str(user).raw(bytes(16)).bytes(), E_BAD_BODY,
                   "HISTORY without limit")
        expect_err(c, OP_HISTORY, b"", E_BAD_BODY, "HISTORY empty")
    # Another connection of the same app sees the same list; another app none.
    with ctx.app("app1") as c:
        got = all_receipts(history_pages(c, user, 1000))
        T.eq(len(got), n + 5, "another connection sees every receipt")
    with ctx.app("app2") as c2:
        h = c2.history(user, CURSOR_START, 1000)
        T.eq((h["count"], h["next_cursor"]), (0, CURSOR_START), "another app: no receipts")


def t_counters(ctx):
    """Sections 5.2 and 5.7: CAMPAIGN_COUNTERS equal what was put."""
    rnd = random.Random(99)
    campaign, other_campaign = 7700001, 7700002
    with ctx.app("app1") as c, ctx.app("app1") as other:
        T.eq(c.campaign_counters(campaign), [], "a campaign without receipts: count 0")
        want = {}
        frames = []
        rid = 800000
        # 60 users spread over the cores, each through a few states on a channel.
        for u in range(60):
            ch = (CH_PUSH, CH_SMS, CH_EMAIL)[u % 3]
            vendor = VENDOR_FCM if ch == CH_PUSH else 0
            path = [STATE_QUEUED, STATE_SENT]
            roll = rnd.random()
            if roll < 0.2:
                path.append(STATE_FAILED)
            else:
                path += [STATE_DELIVERED, STATE_DISPLAYED, STATE_CLICKED][:rnd.randint(1, 3)]
                if roll > 0.9:
                    path.append(STATE_RECALLED)
            for st in path:
                reason = "undeliverable" if st == STATE_FAILED else ""
                frames.append(hc.encode_frame(OP_RECEIPT_PUT, hc.enc_receipt_put(
                    "cc-%02d" % u, 60000 + u, campaign, ch, vendor, st, 0, reason), rid))
                rid += 1
                want[(ch, st)] = want.get((ch, st), 0) + 1
                # The same receipt under another campaign and under campaign 0.
                frames.append(hc.encode_frame(OP_RECEIPT_PUT, hc.enc_receipt_put(
                    "cc-%02d" % u, 60000 + u, other_campaign, ch, vendor, st, 0, reason), rid))
                rid += 1
            frames.append(hc.encode_frame(OP_RECEIPT_PUT, hc.enc_receipt_put(
                "cc-%02d" % u, 70000 + u, 0, CH_WECHAT, 0, STATE_SENT, 0, ""), rid))
            rid += 1
        answers = bulk(c, frames)
        T.eq([f.error() for f in answers.values() if f.is_error][:3], [],
             "pipelined RECEIPT_PUTs of a campaign")
        expected = sorted((ch, st, k) for (ch, st), k in want.items())
        got = other.campaign_counters(campaign)
        T.eq(got, expected, "CAMPAIGN_COUNTERS on another connection == the receipts put")
        T.eq(got, sorted(got), "sorted by channel, then state")
        T.check(all(k > 0 for _, _, k in got), "no zero counts")
        T.eq(c.campaign_counters(other_campaign), expected, "the other campaign counts alike")
        zero = dict(((ch, st), k) for ch, st, k in c.campaign_counters(0))
        T.check(zero.get((CH_WECHAT, STATE_SENT), 0) >= 60, "campaign 0 counts receipts outside "
                "any campaign (%r)" % zero.get((CH_WECHAT, STATE_SENT)))

        # Every RECEIPT_PUT adds one, also a repeated one; a rejected one adds nothing.
        c.receipt_put("cc-00", 60000, campaign, CH_SMS, 0, STATE_DELIVERED)
        c.receipt_put("cc-00", 60000, campaign, CH_SMS, 0, STATE_DELIVERED)
        want[(CH_SMS, STATE_DELIVERED)] = want.get((CH_SMS, STATE_DELIVERED), 0) + 2
        expect_call_err(E_INVALID_ARGUMENT, "a rejected RECEIPT_PUT", c.receipt_put, "cc-00",
                        60000, campaign, CH_SMS, 0, STATE_FAILED, 0, "")
        expected = sorted((ch, st, k) for (ch, st), k in want.items())
        T.eq(other.campaign_counters(campaign), expected, "repeats count, rejects do not")
        # A repeated receipt is also listed twice.
        h = c.history("cc-00", CURSOR_START, 2)["receipts"]
        T.eq([receipt_of(x) for x in h], [(60000, campaign, CH_SMS, 0, STATE_DELIVERED, "")] * 2,
             "a repeated RECEIPT_PUT is a second receipt")
        for cid in (2**64 - 2, 123456789):  # 2**64 - 1 has a receipt (t_receipt_put)
            T.eq(c.campaign_counters(cid), [], "campaign %d without receipts" % cid)
        body = hc.enc_campaign_id(campaign)
        expect_err(c, OP_CAMPAIGN_COUNTERS, body[:-1], E_BAD_BODY, "CAMPAIGN_COUNTERS short")
        expect_err(c, OP_CAMPAIGN_COUNTERS, body + b"\x00", E_BAD_BODY, "CAMPAIGN_COUNTERS long")
        expect_err(c, OP_CAMPAIGN_COUNTERS, b"", E_BAD_BODY, "CAMPAIGN_COUNTERS empty")
    # Counters are per app.
    with ctx.app("app2") as c2:
        T.eq(c2.campaign_counters(campaign), [], "another app does not see app1's counters")
        c2.receipt_put("cc-00", 1, campaign, CH_SMS, 0, STATE_QUEUED)
        T.eq(c2.campaign_counters(campaign), [(CH_SMS, STATE_QUEUED, 1)], "app2's own counter")
    with ctx.app("app1") as c:
        T.eq(c.campaign_counters(campaign), expected, "app2's receipt is not app1's")


def t_pipelining(ctx):
    """Section 1: pipelining, answers matched by request id."""
    with ctx.app("app1") as c:
        users = ["pipe-%d" % i for i in range(64)]
        for u in users[:32]:
            c.tag_add(u, ["p"])
        reqs = {}
        blob = []
        rid = 1000
        for i in range(600):
            kind = i % 3
            if kind == 0:
                body = b"ping-%d" % i
                reqs[rid] = (OP_PING, body)
                blob.append(hc.encode_frame(OP_PING, body, rid))
            elif kind == 1:
                u = users[i % 64]
                reqs[rid] = (OP_USER_SHOW, u)
                blob.append(hc.encode_frame(OP_USER_SHOW, hc.enc_user_id(u), rid))
            else:
                u = users[32 + i % 32]
                reqs[rid] = (OP_ATTR_SET, u)
                blob.append(hc.encode_frame(OP_ATTR_SET, hc.enc_attr_set(u, [("n", str(i))]), rid))
            rid += 1
        c.send_raw(b"".join(blob))
        order = []
        seen = set()
        while len(seen) < len(reqs):
            f = c.recv_frame(20)
            if not T.check(f is not None, "connection closed during pipelining"):
                return
            if not T.check(f.request_id in reqs and f.request_id not in seen,
                           "unexpected or repeated answer id %d" % f.request_id):
                return
            seen.add(f.request_id)
            order.append(f.request_id)
            op, arg = reqs[f.request_id]
            T.eq(f.opcode, op, "pipelined answer opcode")
            if op == OP_PING:
                T.eq(f.body, arg, "pipelined PING echo")
            elif op == OP_USER_SHOW:
                if int(arg.split("-")[1]) < 32:
                    T.check(not f.is_error and hc.dec_user_show(f.body)["user_id"] == arg,
                            "pipelined USER_SHOW of %s" % arg)
                else:
                    # Users 32..63 are created by ATTR_SETs in the same pipeline.
                    T.check(not f.is_error or f.error()[0] == E_NOT_FOUND,
                            "pipelined USER_SHOW of %s: %r" % (arg, f))
            else:
                T.check(not f.is_error and hc.dec_u16(f.body, "ATTR_SET") == 1,
                        "pipelined ATTR_SET")
        out_of_order = sum(1 for a, b in zip(order, order[1:]) if b < a)
        T.note("pipelining: %d of %d answers arrived before an earlier request's"
               % (out_of_order, len(order)))
        # Same user, one connection: is a pipelined write seen by the next read?
        c.send_raw(hc.encode_frame(OP_TAG_ADD, hc.enc_tags("seq-user", ["one"]), 1)
                   + hc.encode_frame(OP_USER_SHOW, hc.enc_user_id("seq-user"), 2))
        f1, f2 = c.wait(1), c.wait(2)
        seen_it = not f2.is_error and "one" in hc.dec_user_show(f2.body)["tags"]
        T.note("pipelined TAG_ADD then USER_SHOW of the same user: the read %s the write"
               % ("saw" if seen_it else "did not see"))
        del f1


def t_backpressure(ctx):
    """Section 1: many requests unanswered and answers unread -> no error,
    just flow control."""
    n = 20000
    payload = b"b" * 100
    with ctx.conn(timeout=60) as c:
        c.hello()
        frames = b"".join(hc.encode_frame(OP_PING, payload, 100000 + i) for i in range(n))
        ws = c.sock.dup()
        ws.settimeout(60)
        err = []

        def writer():
            try:
                ws.sendall(frames)
            except OSError as e:
                err.append(e)

        th = threading.Thread(target=writer)
        # Let the answers pile up unread first, then drain.
        th.start()
        time.sleep(1.0)
        got = 0
        while got < n:
            f = c.recv_frame(30)
            if not T.check(f is not None and not f.is_error and f.body == payload,
                           "back-pressure answer %d: %r" % (got, f)):
                break
            got += 1
        th.join(60)
        ws.close()
        T.check(not err, "writer error %r" % err)
        T.eq(got, n, "all %d pipelined PINGs answered" % n)

    # 12 MiB of answers left unread for a while: over the 8 MiB mark.
    big = bytes(range(256)) * 4096  # 1 MiB
    with ctx.conn(timeout=60) as c:
        c.hello()
        frames = b"".join(hc.encode_frame(OP_PING, big, 200 + i) for i in range(12))
        ws = c.sock.dup()
        ws.settimeout(60)
        th = threading.Thread(target=lambda: ws.sendall(frames))
        th.start()
        time.sleep(1.0)
        ok = 0
        for i in range(12):
            f = c.wait(200 + i, 30)
            ok += (not f.is_error and f.body == big)
        th.join(60)
        ws.close()
        T.eq(ok, 12, "1 MiB PINGs answered after the reader caught up")


def t_many_connections(ctx):
    """Connections spread over cores see the same data."""
    conns = [ctx.app("app1") for _ in range(8)]
    try:
        conns[0].tag_add("shared-user", ["x"])
        for i, c in enumerate(conns):
            T.eq(c.user_show("shared-user")["tags"], ["x"], "connection %d sees the write" % i)
    finally:
        for c in conns:
            c.close()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_finished(c, cid, what, timeout=60.0):
    """Poll CAMPAIGN_STATUS until the campaign is cancelled or done (5.10)."""
    deadline = time.monotonic() + timeout
    while True:
        st = c.campaign_status(cid)
        if st["state"] in (hc.CAMPAIGN_CANCELLED, hc.CAMPAIGN_DONE) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    T.check(st["state"] in (hc.CAMPAIGN_CANCELLED, hc.CAMPAIGN_DONE),
            "%s: finished within %.0f s (state %d)" % (what, timeout, st["state"]))
    return st


def check_finished(st, what, **want):
    """The invariants of a finished campaign (5.10), then the fields named."""
    T.eq(st["sent"] + st["failed"] + st["invalid"], st["queued"],
         "%s: sent + failed + invalid = queued" % what)
    T.eq(st["inflight"], 0, "%s: nothing in flight" % what)
    T.eq(st["reserved"], 0, "%s: reserved byte" % what)
    for k, v in want.items():
        T.eq(st[k], v, "%s: %s" % (what, k))


def t_campaigns(ctx):
    """Sections 5.3, 5.8-5.11: vendors, campaigns of each audience, control, errors."""
    with ctx.admin() as a:
        for app in ("camp1", "camp2"):
            ctx.apps[app] = a.app_create(app)["secret"]
    dead = free_port()
    with ctx.app("camp1") as c, ctx.app("camp2") as c2:
        # ---- 5.11 vendors
        T.eq(c.vendor_list(), [], "VENDOR_LIST before any VENDOR_SET")
        c.vendor_set(hc.TARGET_VIVO, "http://127.0.0.1:1", app_id="vivo-app", secret="vivo-SECRET",
                     batch_max=7, connections=3, rate_per_s=10, daily_quota=20)
        c.vendor_set(hc.TARGET_OPPO, "https://oppo.example:8443/ignored", secret="oppo-SECRET")
        got = c.vendor_list()
        T.eq([v["target"] for v in got], [hc.TARGET_OPPO, hc.TARGET_VIVO], "by increasing target")
        T.eq(got[0], {"target": hc.TARGET_OPPO, "url": "https://oppo.example:8443/ignored",
                      "batch_max": 1000, "connections": 4, "rate_per_s": 0, "daily_quota": 0},
             "0 means the defaults 1000 and 4, as listed")
        T.eq(got[1], {"target": hc.TARGET_VIVO, "url": "http://127.0.0.1:1", "batch_max": 7,
                      "connections": 3, "rate_per_s": 10, "daily_quota": 20}, "vivo as set")
        raw = c.call(OP_VENDOR_LIST)
        T.check(b"SECRET" not in raw and b"vivo-app" not in raw, "secrets are never returned")
        c.vendor_set(hc.TARGET_OPPO, "http://127.0.0.1:2", secret="oppo-SECRET", batch_max=1000,
                     connections=64)
        T.eq(c.vendor_list()[0]["url"], "http://127.0.0.1:2", "VENDOR_SET replaces")
        T.eq(c2.vendor_list(), [], "another app's settings are not listed")
        good = hc.enc_vendor_set(hc.TARGET_SMS, "http://127.0.0.1:3")
        for what, body in [
                ("target 0", hc.enc_vendor_set(0, "http://x")),
                ("target 7", hc.enc_vendor_set(7, "http://x")),
                ("empty url", hc.enc_vendor_set(hc.TARGET_SMS, "")),
                ("ftp url", hc.enc_vendor_set(hc.TARGET_SMS, "ftp://x")),
                ("url without host", hc.enc_vendor_set(hc.TARGET_SMS, "http://")),
                ("url of 256 bytes", hc.enc_vendor_set(hc.TARGET_SMS, "http://" + "h" * 249)),
                ("secret of 256 bytes", hc.enc_vendor_set(hc.TARGET_SMS, "http://x", secret="s" * 256)),
                ("batch_max 1001", hc.enc_vendor_set(hc.TARGET_SMS, "http://x", batch_max=1001)),
                ("connections 65", hc.enc_vendor_set(hc.TARGET_SMS, "http://x", connections=65)),
                ("a byte short", good[:-1]),
                ("a byte over", good + b"\x00"),
                ("empty", b"")]:
            expect_err(c, OP_VENDOR_SET, body, E_INVALID_ARGUMENT, "VENDOR_SET %s" % what)
        expect_err(c, OP_VENDOR_LIST, b"\x00", E_INVALID_ARGUMENT, "VENDOR_LIST with a body")
        T.eq(len(c.vendor_list()), 2, "refused settings changed nothing")
        T.eq(c.call(OP_VENDOR_SET, good), b"", "VENDOR_SET answer: empty")
        T.eq(c.call(OP_VENDOR_SET, hc.enc_vendor_set(
            hc.TARGET_WEBHOOK, "http://10.0.0.5:8080/push", secret="s3cret", rate_per_s=500)), b"",
            "the VENDOR_SET example of section 7")
        # The webhook goes where nobody listens: calls fail and are retried.
        c.vendor_set(hc.TARGET_WEBHOOK, "http://127.0.0.1:%d/hook" % dead, secret="t")

        # ---- users: cu1 sms (the sms target points at port 3: calls fail),
        # cu2 push xiaomi (no VENDOR_SET: "no vendor configured"), cu3 no
        # device, cu4 webhook (for control).
        c.bind("cu1", CH_SMS, 0, 0, "+8613900000001")
        c.bind("cu2", CH_PUSH, hc.VENDOR_XIAOMI, PLATFORM_ANDROID, "xm-token-2")
        c.tag_add("cu1", ["vip", "cn"])
        c.tag_add("cu2", ["cn"])
        c.tag_add("cu3", ["vip"])
        c.bind("cu4", CH_WEBHOOK, 0, 0, "https://example.com/cu4")
        T.eq([d["state"] for d in c.user_show("cu2")["devices"]], [hc.DEVICE_ACTIVE],
             "5.3: a new device is active (state 0)")

        # ---- 5.10: one campaign per audience
        t0 = int(time.time() * 1000)
        cid = c.campaign_create(hc.AUD_USER, [CH_PUSH], "hi {{user_id}}", user_id="cu2",
                                title="{{name|there}}", category="promo")
        T.check(cid > 0, "campaign id is not 0")
        st = wait_finished(c, cid, "user audience")
        check_finished(st, "user audience", state=hc.CAMPAIGN_DONE, audience=hc.AUD_USER,
                       lane=hc.LANE_BULK, users_scanned=1, recipients=1, queued=1, sent=0,
                       failed=1, invalid=0, no_address=0, progress_ppm=1000000)
        T.check(abs(st["created_unix_ms"] - t0) < 60000, "created_unix_ms is about now")
        T.eq(c.campaign_counters(cid), [(CH_PUSH, STATE_FAILED, 1)],
             "the outcome is a receipt counted under the campaign id")
        h = c.history("cu2")["receipts"]
        T.eq([(r["message_id"], r["campaign_id"], r["state"], r["reason"]) for r in h],
             [(cid, cid, STATE_FAILED, "no vendor configured")],
             "the receipt: message_id = campaign_id, failed, no vendor configured")

        cid2 = c.campaign_create(hc.AUD_LIST, [CH_PUSH, CH_SMS], "code 1234", lane=hc.LANE_TRANSACTIONAL,
                                 user_ids=["cu1", "cu2", "nobody"])
        T.check(cid2 > cid, "ids go up")
        st = wait_finished(c, cid2, "list audience")
        check_finished(st, "list audience", state=hc.CAMPAIGN_DONE, audience=hc.AUD_LIST,
                       lane=hc.LANE_TRANSACTIONAL, users_scanned=3, recipients=2, queued=2,
                       no_address=0)
        st = wait_finished(c, c.campaign_create(hc.AUD_TAG, [CH_SMS, CH_PUSH], "x",
                                                tag_expr="vip AND NOT cn"), "tag audience")
        check_finished(st, "tag audience: cu3 only", state=hc.CAMPAIGN_DONE, audience=hc.AUD_TAG,
                       recipients=1, queued=0, no_address=1)
        st = wait_finished(c, c.campaign_create(hc.AUD_TAG, [CH_SMS], "x",
                                                tag_expr="vip OR cn AND NOT \"cn\""), "precedence")
        check_finished(st, "NOT > AND > OR: vip OR (cn AND NOT cn)", recipients=2)
        st = wait_finished(c, c.campaign_create(hc.AUD_TAG, [CH_SMS], "x",
                                                tag_expr="(Vip OR VIP) and not CN"), "case")
        check_finished(st, "keywords any case, tags case-sensitive", recipients=0)
        st = wait_finished(c, c.campaign_create(hc.AUD_ALL, [CH_SMS, CH_PUSH, CH_EMAIL], "x"),
                           "all users")
        check_finished(st, "all users", state=hc.CAMPAIGN_DONE, audience=hc.AUD_ALL,
                       users_scanned=4, recipients=4, queued=2, no_address=2)
        # The CAMPAIGN_CREATE example of section 7 is accepted as it stands.
        ex = c.call(OP_CAMPAIGN_CREATE, hc.enc_campaign_create(
            hc.AUD_TAG, [CH_PUSH], "Sale today", title="Hi {{name|there}}",
            tag_expr="vip AND NOT churned"))
        T.check(hc.dec_campaign_create(ex) > cid2, "the CAMPAIGN_CREATE example of section 7")
        # Another app sees none of it.
        expect_call_err(E_NOT_FOUND, "another app's CAMPAIGN_STATUS", c2.campaign_status, cid)
        expect_call_err(E_NOT_FOUND, "another app's CAMPAIGN_CONTROL", c2.campaign_control, cid,
                        hc.CONTROL_CANCEL)
        st = wait_finished(c2, c2.campaign_create(hc.AUD_ALL, [CH_SMS], "x"), "empty app")
        check_finished(st, "an app without users", recipients=0, queued=0, users_scanned=0)

        # ---- control: cu4's webhook call fails and is retried for seconds
        cc = c.campaign_create(hc.AUD_USER, [CH_WEBHOOK], "slow", user_id="cu4")
        T.eq(c.campaign_control(cc, hc.CONTROL_PAUSE), hc.CAMPAIGN_PAUSED, "pause")
        T.eq(c.campaign_status(cc)["state"], hc.CAMPAIGN_PAUSED, "paused in STATUS")
        T.eq(c.campaign_control(cc, hc.CONTROL_PAUSE), hc.CAMPAIGN_PAUSED, "pause again: no change")
        T.eq(c.campaign_control(cc, hc.CONTROL_RESUME), hc.CAMPAIGN_RUNNING, "resume")
        T.eq(c.campaign_control(cc, hc.CONTROL_RESUME), hc.CAMPAIGN_RUNNING, "resume again")
        expect_err(c, OP_CAMPAIGN_CONTROL, hc.enc_campaign_control(cc, 4), E_INVALID_ARGUMENT,
                   "action 4")
        expect_err(c, OP_CAMPAIGN_CONTROL, hc.enc_campaign_control(cc, 0), E_INVALID_ARGUMENT,
                   "action 0")
        T.eq(c.campaign_control(cc, hc.CONTROL_CANCEL), hc.CAMPAIGN_CANCELLED, "cancel")
        st = wait_finished(c, cc, "cancelled")
        check_finished(st, "cancelled", state=hc.CAMPAIGN_CANCELLED, sent=0)
        for action in (hc.CONTROL_PAUSE, hc.CONTROL_RESUME, hc.CONTROL_CANCEL):
            f = answer_of(c, OP_CAMPAIGN_CONTROL, hc.enc_campaign_control(cc, action))
            T.eq(f.error() if f.is_error else None, (E_INVALID_ARGUMENT, "campaign is cancelled"),
                 "action %d on a cancelled campaign" % action)
        # (A done campaign refusing every action is tests/cli_campaign_final.sh.)

        # ---- errors (5.8, 5.9, 5.10)
        def create_err(what, body, want_msg=None):
            f = answer_of(c, OP_CAMPAIGN_CREATE, body)
            got = f.error() if f.is_error else None
            if T.check(got is not None and got[0] == E_INVALID_ARGUMENT,
                       "%s: E_INVALID_ARGUMENT, got %r" % (what, got)) and want_msg:
                T.eq(got[1], want_msg, "%s: message" % what)
        ok = hc.enc_campaign_create(hc.AUD_ALL, [CH_SMS], "x")
        create_err("a byte over", ok + b"\x00")
        create_err("a byte short", ok[:-1])
        create_err("empty", b"")
        create_err("audience 0", bytes([0]) + ok[1:])
        create_err("audience 6", bytes([6]) + ok[1:])
        create_err("lane 2", hc.enc_campaign_create(hc.AUD_ALL, [CH_SMS], "x", lane=2))
        create_err("no channel", hc.enc_campaign_create(hc.AUD_ALL, [], "x"))
        create_err("5 channels", hc.enc_campaign_create(hc.AUD_ALL, [1, 2, 3, 4, 5], "x"))
        create_err("channel twice", hc.enc_campaign_create(hc.AUD_ALL, [1, 2, 1], "x"))
        create_err("channel 6", hc.enc_campaign_create(hc.AUD_ALL, [6], "x"))
        create_err("empty body", hc.enc_campaign_create(hc.AUD_ALL, [1], ""))
        create_err("body 4097", hc.enc_campaign_create(hc.AUD_ALL, [1], "b" * 4097))
        create_err("title 4097", hc.enc_campaign_create(hc.AUD_ALL, [1], "b", title="t" * 4097))
        create_err("category 65", hc.enc_campaign_create(hc.AUD_ALL, [1], "b", category="c" * 65))
        create_err("empty user", hc.enc_campaign_create(hc.AUD_USER, [1], "b", user_id=""))
        create_err("list of 0", hc.enc_campaign_create(hc.AUD_LIST, [1], "b", user_ids=[]))
        create_err("list of 1001", hc.enc_campaign_create(
            hc.AUD_LIST, [1], "b", user_ids=["u%d" % i for i in range(1001)]),
            "a list holds 1 to 1000 users")
        st = wait_finished(c, c.campaign_create(hc.AUD_LIST, [1], "b",
                                                user_ids=["u%d" % i for i in range(1000)]), "1000")
        check_finished(st, "a list of 1000", users_scanned=1000, recipients=0)
        create_err("tag expression", hc.enc_campaign_create(
            hc.AUD_TAG, [1], "b", tag_expr="vip AND (cn OR"),
            "tag expression: expected a tag or '(' at 14")
        create_err("empty tag expression", hc.enc_campaign_create(hc.AUD_TAG, [1], "b", tag_expr=""),
                   "tag expression: empty expression")
        create_err("tag expression over 4096 bytes", hc.enc_campaign_create(
            hc.AUD_TAG, [1], "b", tag_expr="a " * 2048 + "b"),
            "tag expression: expression longer than 4096 bytes at 4096")
        create_err("nesting 33", hc.enc_campaign_create(
            hc.AUD_TAG, [1], "b", tag_expr="(" * 33 + "a" + ")" * 33),
            "tag expression: expression nests deeper than 32 at 32")
        T.check(c.campaign_create(hc.AUD_TAG, [1], "b", tag_expr="(" * 32 + "a" + ")" * 32) > 0,
                "nesting 32")
        create_err("unknown template variable", hc.enc_campaign_create(
            hc.AUD_ALL, [1], "Hi {{row.order}}"),
            "body template: unknown template variable 'row.order' at 5")
        create_err("title unterminated", hc.enc_campaign_create(
            hc.AUD_ALL, [1], "b", title="Hi {{name"), "title template: unterminated placeholder at 3")
        create_err("template spaces", hc.enc_campaign_create(hc.AUD_ALL, [1], "{{ name }}"))
        create_err("template not UTF-8", hc.enc_campaign_create(hc.AUD_ALL, [1], b"\xff"))
        T.check(c.campaign_create(hc.AUD_ALL, [1], "{{{{ {{{x}}} }} {{a|b c}}") > 0,
                "escapes, braces and defaults as 5.9 allows")
        expect_err(c, OP_CAMPAIGN_STATUS, hc.enc_campaign_id(cid)[:-1], E_INVALID_ARGUMENT,
                   "CAMPAIGN_STATUS of 7 bytes")
        expect_err(c, OP_CAMPAIGN_STATUS, hc.enc_campaign_id(cid) + b"\x00", E_INVALID_ARGUMENT,
                   "CAMPAIGN_STATUS of 9 bytes")
        expect_err(c, OP_CAMPAIGN_CONTROL, hc.enc_campaign_id(cid), E_INVALID_ARGUMENT,
                   "CAMPAIGN_CONTROL of 8 bytes")
        for bad in (0, 2**64 - 1):
            expect_call_err(E_NOT_FOUND, "CAMPAIGN_STATUS %d" % bad, c.campaign_status, bad)
            expect_call_err(E_NOT_FOUND, "CAMPAIGN_CONTROL %d" % bad, c.campaign_control, bad,
                            hc.CONTROL_PAUSE)


def t_upload(ctx):
    """Sections 5.9, 5.10, 5.12: upload audiences and CAMPAIGN_UPLOAD."""
    with ctx.admin() as a:
        for app in ("upl1", "upl2"):
            ctx.apps[app] = a.app_create(app)["secret"]
    with ctx.app("upl1") as c, ctx.app("upl2") as c2:
        # Push devices of vendor xiaomi and no VENDOR_SET: every address fails
        # at once ("no vendor configured"), so the campaigns finish alone.
        for u in ("r1", "r2", "r3", "r4"):
            c.bind(u, CH_PUSH, hc.VENDOR_XIAOMI, PLATFORM_ANDROID, "xm-token-" + u)

        def upload_err(what, body, code=E_INVALID_ARGUMENT, want_msg=None, conn=None):
            f = answer_of(conn or c, OP_CAMPAIGN_UPLOAD, body)
            got = f.error() if f.is_error else None
            if T.check(got is not None and got[0] == code,
                       "%s: %s, got %r" % (what, hc.error_name(code), got)) and want_msg:
                T.eq(got[1], want_msg, "%s: message" % what)

        # ---- 5.10: audience 5, created running with its upload open
        cid = c.campaign_create(hc.AUD_UPLOAD, [CH_PUSH], "Order {{row.order}}: {{row.amount|0}} EUR",
                                title="Hi {{user_id}}", upload_kind=hc.UPLOAD_USER_IDS,
                                columns="order,amount")
        st = c.campaign_status(cid)
        T.eq((st["state"], st["audience"]), (hc.CAMPAIGN_RUNNING, hc.AUD_UPLOAD),
             "an upload campaign is created running, audience 5")
        # ---- 5.12: rows, reasons by line, the rest proceeds
        got = c.campaign_upload(cid, 1, 0, "r1,A1,10\nr2,A2\nr3,A3,30,x\n\nr 4,A4,40\nr4,A4,\nnobody,Z,0\n")
        T.eq(got, {"accepted": 3, "rejected": 4, "reported": [
            (2, "fewer fields than the campaign's columns"),
            (3, "more fields than the campaign's columns"),
            (4, "empty row"),
            (5, "the first field holds a space or a byte that is not printable ASCII")]},
            "chunk 1: broken rows named by line, an empty value and an unknown user accepted")
        got = c.campaign_upload(cid, 8, 0, "r2,A2,20\n" + "y" * 1025 + "\nr3,A3,30\n" + "u" * 129 + ",a,b")
        T.eq(got, {"accepted": 2, "rejected": 2, "reported": [
            (9, "row longer than 1024 bytes"), (11, "user id must be 1 to 128 bytes")]},
            "chunk 2: lines from first_line, no final LF")
        time.sleep(0.3)
        st = c.campaign_status(cid)
        T.eq(st["state"], hc.CAMPAIGN_RUNNING, "not done while the upload is open")
        T.check(st["progress_ppm"] < hc.PROGRESS_PPM_ALL,
                "progress below 1000000 while open (%d)" % st["progress_ppm"])
        T.eq(c.campaign_upload(cid, 12, 1, ""), {"accepted": 0, "rejected": 0, "reported": []},
             "an empty last chunk closes the upload")
        upload_err("after the last chunk", hc.enc_campaign_upload(cid, 12, 0, "r1,A,1\n"),
                   want_msg="the upload is closed")
        st = wait_finished(c, cid, "upload campaign")
        check_finished(st, "upload campaign", state=hc.CAMPAIGN_DONE, audience=hc.AUD_UPLOAD,
                       users_scanned=5, recipients=4, queued=4, failed=4, sent=0,
                       progress_ppm=hc.PROGRESS_PPM_ALL)
        T.eq([(r["campaign_id"], r["state"]) for r in c.history("r4")["receipts"]],
             [(cid, STATE_FAILED)], "an uploaded user's outcome is a receipt")
        T.eq(c.history("nobody")["receipts"], [], "a row naming no user sends nothing")

        # The section 7 examples: the upload CAMPAIGN_CREATE and its CAMPAIGN_UPLOAD.
        exid = hc.dec_campaign_create(c.call(OP_CAMPAIGN_CREATE, hc.enc_campaign_create(
            hc.AUD_UPLOAD, [CH_PUSH], "Order {{row.order}} is on its way",
            upload_kind=hc.UPLOAD_USER_IDS, columns="order")))
        T.eq(c.campaign_upload(exid, 1, 1, "alice,A-17\nbob\n"),
             {"accepted": 1, "rejected": 1,
              "reported": [(2, "fewer fields than the campaign's columns")]},
             "the CAMPAIGN_UPLOAD example of section 7")

        # ---- phone numbers straight to sms
        pid = c.campaign_create(hc.AUD_UPLOAD, [CH_SMS], "Hi {{row.name}}", upload_kind=hc.UPLOAD_PHONES,
                                columns="name")
        got = c.campaign_upload(pid, 1, 1, "+8613800000001,Li\n12345,Bad\n+1234567,Seven\n"
                                "+1234567890123456,Sixteen\n+8613800000001x,Bad")
        T.eq(got, {"accepted": 2, "rejected": 3, "reported": [
            (2, "phone number must be E.164: + and 7 to 15 digits"),
            (4, "phone number must be E.164: + and 7 to 15 digits"),
            (5, "phone number must be E.164: + and 7 to 15 digits")]}, "phone rows")
        st = wait_finished(c, pid, "phone upload")
        check_finished(st, "phone upload", state=hc.CAMPAIGN_DONE, recipients=2, queued=2,
                       no_address=0)
        h = c.history("+8613800000001")["receipts"]
        T.eq([r["campaign_id"] for r in h], [pid], "a number's outcome is a receipt under the number")

        # ---- errors of CAMPAIGN_UPLOAD
        lim = c.campaign_create(hc.AUD_UPLOAD, [CH_PUSH], "x", upload_kind=hc.UPLOAD_USER_IDS)
        got = c.campaign_upload(lim, 1, 0, "r 1\n" * (hc.UPLOAD_CHUNK_BYTES_MAX // 4))
        T.eq((got["accepted"], got["rejected"], len(got["reported"])),
             (0, hc.UPLOAD_CHUNK_BYTES_MAX // 4, hc.UPLOAD_REPORTS_MAX),
             "a chunk of 448 KiB: taken; the first 100 rejected rows named")
        T.eq([line for line, _ in got["reported"]], list(range(1, 101)), "reported lines 1..100")
        upload_err("a chunk over 448 KiB",
                   hc.enc_campaign_upload(lim, 1, 0, "r1\n" * (hc.UPLOAD_CHUNK_BYTES_MAX // 3) + "r1"),
                   E_LIMIT_EXCEEDED, "a chunk carries at most 448 KiB of rows")
        upload_err("last 2", hc.enc_campaign_upload(lim, 1, 2, ""), want_msg="last must be 0 or 1")
        upload_err("12 bytes", hc.enc_campaign_upload(lim, 1, 0, "")[:12])
        upload_err("empty body", b"")
        upload_err("unknown campaign", hc.enc_campaign_upload(2**64 - 1, 1, 0, "r1\n"), E_NOT_FOUND)
        upload_err("another app's campaign", hc.enc_campaign_upload(lim, 1, 0, "r1\n"), E_NOT_FOUND,
                   conn=c2)
        other = c.campaign_create(hc.AUD_USER, [CH_PUSH], "x", user_id="r1")
        upload_err("a campaign of another audience", hc.enc_campaign_upload(other, 1, 1, "r1\n"),
                   want_msg="the campaign's audience is not an upload")
        T.eq(c.campaign_control(lim, hc.CONTROL_CANCEL), hc.CAMPAIGN_CANCELLED, "cancel an open upload")
        upload_err("a cancelled campaign", hc.enc_campaign_upload(lim, 1, 0, "r1\n"),
                   want_msg="campaign is cancelled")

        # ---- errors of CAMPAIGN_CREATE with audience 5
        def create_err(what, body, want_msg=None):
            f = answer_of(c, OP_CAMPAIGN_CREATE, body)
            got = f.error() if f.is_error else None
            if T.check(got is not None and got[0] == E_INVALID_ARGUMENT,
                       "%s: E_INVALID_ARGUMENT, got %r" % (what, got)) and want_msg:
                T.eq(got[1], want_msg, "%s: message" % what)

        def up(channels=(CH_PUSH,), body="x", kind=hc.UPLOAD_USER_IDS, columns=""):
            return hc.enc_campaign_create(hc.AUD_UPLOAD, list(channels), body, upload_kind=kind,
                                          columns=columns)
        create_err("kind 0", up(kind=0))
        create_err("kind 3", up(kind=3))
        create_err("phones on push", up(kind=hc.UPLOAD_PHONES),
                   "an upload of phone numbers goes to the sms channel alone")
        create_err("phones on sms and push", up(channels=(CH_SMS, CH_PUSH), kind=hc.UPLOAD_PHONES),
                   "an upload of phone numbers goes to the sms channel alone")
        create_err("empty column name", up(columns="a,,b"))
        create_err("trailing comma", up(columns="a,"))
        create_err("17 columns", up(columns=",".join("c%d" % i for i in range(17))))
        create_err("column of 65 bytes", up(columns="c" * 65))
        create_err("column with a space", up(columns="a b"))
        create_err("undeclared column", up(body="Hi {{row.name}}", columns="order"),
                   "body template: unknown template variable 'row.name' at 5")
        create_err("no columns field", up()[:-2])
        create_err("a byte over", up() + b"\x00")
        T.check(c.campaign_create(hc.AUD_UPLOAD, [CH_PUSH], " ".join("{{row.c%d}}" % i for i in range(16)),
                                  upload_kind=hc.UPLOAD_USER_IDS,
                                  columns=",".join("c%d" % i for i in range(16))) > 0,
                "16 columns of names A-Z a-z 0-9 _ - . read as row.<name>")
        T.check(c.campaign_create(hc.AUD_UPLOAD, [CH_SMS], "x", upload_kind=hc.UPLOAD_PHONES,
                                  columns="Ab_9-.x") > 0, "column name characters")


SECTIONS = [
    t_admin_secret, t_hello, t_hello_required, t_auth, t_apps, t_stats, t_store_stats, t_ping,
    t_framing, t_bind, t_device_limit, t_alias, t_tags, t_attrs, t_receipt_put, t_history,
    t_counters, t_pipelining, t_backpressure, t_many_connections, t_campaigns, t_upload,
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cores", type=int, default=0)
    p.add_argument("--only", nargs="*", help="section names to run (t_ prefix optional)")
    args = p.parse_args()
    ctx = Ctx(args)
    hc.wait_until_answering(ctx.host, ctx.port)

    only = None
    if args.only:
        only = {x if x.startswith("t_") else "t_" + x for x in args.only}
        only |= {"t_admin_secret"}
        if only & {"t_store_stats", "t_bind", "t_device_limit", "t_alias", "t_tags", "t_attrs",
                   "t_receipt_put", "t_history", "t_counters", "t_pipelining",
                   "t_many_connections"}:
            only |= {"t_apps"}

    timeouts = None
    if only is None or "t_timeout" in only:
        T.section = "t_timeout"
        try:
            timeouts = start_timeouts(ctx)
        except Exception:  # noqa: BLE001 - report and go on
            T.check(False, "starting the timeout test: " + traceback.format_exc())

    for fn in SECTIONS:
        if only is not None and fn.__name__ not in only:
            continue
        T.section = fn.__name__
        t = time.monotonic()
        print("== %s" % fn.__name__, flush=True)
        try:
            fn(ctx)
        except Exception:  # noqa: BLE001 - one broken section must not hide the rest
            T.check(False, "exception:\n" + traceback.format_exc())
        print("   %.2fs" % (time.monotonic() - t), flush=True)
        if fn is t_admin_secret and ctx.admin_secret is None:
            break

    if timeouts:
        T.section = "t_timeout"
        print("== t_timeout", flush=True)
        finish_timeouts(*timeouts)

    print("\nnotes (choices the document leaves open, as this engine made them):")
    for n in T.notes:
        print("  - " + n)
    print("\n%d checks, %d failed" % (T.checks, len(T.failures)))
    for f in T.failures:
        print("FAILED " + f)
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
