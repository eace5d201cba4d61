#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/vendorsim.sh - bench/herald-vendorsim answers every vendor in the
# shapes of docs/VENDORS.md and keeps an exact ledger: Huawei partial
# success names exactly the bad token and the ledger holds the good ones;
# Xiaomi, OPPO, vivo (saveListPayload then pushToList, unknown taskId),
# SMS (with and without --sms-secret) and the webhook accept and count;
# a body that is not JSON gets the vendor's bad-request answer and leaves
# the ledger alone; JSON escapes and chunked bodies; keep-alive and
# pipelining; --invalid-per-10000, --rate, --quota, --auth, --error,
# --garbage, --latency-ms (delays do not block other connections);
# --ledger-file on SIGTERM; receipts to a callback server for every
# accepted token; bad options exit 2; and a short run of --load (its
# tokens/s is printed, with only a low floor checked).
# Exit 0 pass, 1 fail, 77 skip.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BUILD_DIR=$BUILD ;;
*) BUILD_DIR=$ROOT/$BUILD ;;
esac
SIM=$BUILD_DIR/bench/herald-vendorsim
if [ ! -x "$SIM" ]; then
	echo "skip: $SIM not built"
	exit 77
fi
if ! command -v python3 >/dev/null; then
	echo "skip: no python3"
	exit 77
fi
# the interpreter itself: a version-manager shim costs a second per start
PY=$(python3 -c 'import sys; print(sys.executable)')

TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-vendorsim.XXXXXX")
PIDS=()
# a copy, so that a make elsewhere cannot swap the binary mid-run
cp "$SIM" "$TMP/herald-vendorsim"
SIM=$TMP/herald-vendorsim

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	local f
	for f in "$TMP"/*.err; do
		[ -s "$f" ] || continue
		echo "---- $(basename "$f") ----"
		tail -n 20 "$f"
	done
	exit 1
}

# start_sim NAME ARGS...: the simulator on an ephemeral port (output in
# $TMP/NAME.out and .err); sets SIM_PORT and SIM_PID.
start_sim() {
	local name=$1 pid port=
	shift
	"$SIM" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do
		if grep -q '^listening ' "$TMP/$name.out"; then
			port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$name.out")
			break
		fi
		kill -0 "$pid" 2>/dev/null || fail "$name: exited at start: $(cat "$TMP/$name.err")"
		sleep 0.05
	done
	[ -n "$port" ] || fail "$name: no 'listening 127.0.0.1:PORT' line"
	SIM_PORT=$port
	SIM_PID=$pid
}

# stop_sim PID: SIGTERM; the simulator must exit 0.
stop_sim() {
	local pid=$1 rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "the simulator exited $rc on SIGTERM"
}

cat >"$TMP/lib.py" <<'EOF'
import http.client, json, os, socket, sys, time, urllib.parse

PORT = int(os.environ["PORT"])

def req(method, path, body=b"", headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    if conn is None:
        c.close()
    return r.status, data, r

def post(path, body, headers=None, conn=None):
    return req("POST", path, body, headers, conn)[:2]

def ledger(vendor=None):
    s, b, _ = req("GET", "/ledger" + ("?vendor=" + vendor if vendor else ""))
    expect(s == 200, "GET /ledger: %d %s" % (s, b))
    return [tuple(l.split("\t")) for l in b.splitlines()]

def summary():
    s, b, _ = req("GET", "/ledger/summary")
    expect(s == 200, "GET /ledger/summary: %d" % s)
    return json.loads(b)

def expect(cond, msg):
    if not cond:
        print("  FAIL:", msg)
        sys.exit(1)

def form(d):
    return urllib.parse.urlencode(d, quote_via=urllib.parse.quote)

def huawei(tokens, auth="Bearer at", extra=None, conn=None):
    msg = {"notification": {"title": "t", "body": "b"},
           "android": {"notification": {"title": "t", "body": "b", "click_action": {"type": 3}}},
           "token": tokens}
    if extra:
        msg["android"].update(extra)
    return post("/v1/101/messages:send", json.dumps({"validate_only": False, "message": msg}),
                {"Authorization": auth, "Content-Type": "application/json; charset=UTF-8"}, conn)

def xiaomi(regids, key="key=secret", conn=None):
    body = form({"restricted_package_name": "com.example", "pass_through": "0", "notify_type": "-1",
                 "title": "t", "description": "d"}) + "&registration_id=" + ",".join(
                     urllib.parse.quote(r, safe="") for r in regids)
    return post("/v3/message/regid", body, {"Authorization": key,
                "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}, conn)

def fnv1a64(s):
    h = 14695981039346656037
    for c in s.encode():
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
EOF

# check WHAT PORT: run the Python snippet on stdin (with lib.py) against PORT.
check() {
	local what=$1 port=$2
	echo "check: $what"
	{ cat "$TMP/lib.py"; cat; } >"$TMP/check.py"
	PORT=$port "$PY" "$TMP/check.py" || fail "$what"
}

# ---- options ----------------------------------------------------------------------------
echo "check: --help lists every option with its default"
"$SIM" --help >"$TMP/help.txt" || fail "--help exited non-zero"
for opt in --listen --threads --invalid-prefix --invalid-per-10000 --latency-ms --error --garbage \
	--seed --rate --quota --auth --sms-secret --ledger-file --callback --delivered --clicked \
	--callback-delay-ms --help --load --vendor --conns --depth --seconds --batch --token-bytes \
	--server-pid; do
	grep -q -- "^  $opt " "$TMP/help.txt" || fail "--help does not list $opt"
done
grep -q '(bad)' "$TMP/help.txt" || fail "--help does not give the default invalid prefix"

echo "check: bad options exit 2 with a message"
for args in "--bogus" "--threads 0" "--rate nope=5" "--rate huawei=-1" "--error huawei:80000000:0.1" \
	"--error xiaomi:abc:0.1" "--error huawei:503" "--error huawei:503:2" "--latency-ms 10" \
	"--latency-ms 20,10" "--callback huawei=ftp://x" "--delivered 1.5" "--listen nowhere" \
	"--error webhook:bad_request:0.5" "--garbage 0.6 --error huawei:503:0.6" "--conns 4" "--threads"; do
	rc=0
	# shellcheck disable=SC2086
	"$SIM" $args >/dev/null 2>"$TMP/opt.err" || rc=$?
	[ "$rc" = 2 ] || fail "'$args' exited $rc, not 2"
	grep -q 'herald-vendorsim: ' "$TMP/opt.err" || fail "'$args': no message"
done

# ---- one simulator with the defaults ---------------------------------------------------------
start_sim base
P=$SIM_PORT

check "Huawei: 3 tokens with one bad... -> 80100000 naming exactly it; the ledger has the 2 good" "$P" <<'EOF'
s, b = huawei(["hw-tok-1", "bad-hw-2", "hw-tok-3"])
expect(s == 200, "status %d %s" % (s, b))
m = json.loads(b)
expect(m["code"] == "80100000", "code %s" % m)
expect(m["requestId"], "no requestId")
inner = json.loads(m["msg"])
expect(inner == {"success": 2, "failure": 1, "illegal_tokens": ["bad-hw-2"]}, "msg %s" % inner)
expect(ledger("huawei") == [("huawei", "hw-tok-1", "1"), ("huawei", "hw-tok-3", "1")], "ledger %s" % ledger("huawei"))
EOF

check "Huawei: all tokens bad -> HTTP 400 80300007 listing them, nothing accepted" "$P" <<'EOF'
s, b = huawei(["bad-1", "bad-2"])
m = json.loads(b)
expect(s == 400 and m["code"] == "80300007", "%d %s" % (s, b))
expect(json.loads(m["msg"])["illegalTokens"]["tokenFormatError"] == ["bad-1", "bad-2"], b)
s, b = huawei(["hw-tok-4"])
expect(s == 200 and json.loads(b)["code"] == "80000000", b)
expect(len(ledger("huawei")) == 3, "ledger %s" % ledger("huawei"))
EOF

check "Huawei: JSON escapes in tokens are decoded (ledger) and re-encoded (answer)" "$P" <<'EOF'
raw = '{"message":{"token":["esc\\u00e9\\"q\\\\\\/","ba\\u0064-esc","pair\\ud83d\\ude00"]}}'
s, b = post("/v1/101/messages:send", raw, {"Authorization": "Bearer at"})
expect(s == 200, b)
expect(json.loads(json.loads(b)["msg"])["illegal_tokens"] == ["bad-esc"], b)
toks = [t for v, t, c in ledger("huawei")]
expect('escé"q\\\\/' in toks and "pair\U0001F600" in toks, "ledger %s" % toks)
EOF

check "Huawei: a body that is not JSON -> 400 80100003, ledger untouched" "$P" <<'EOF'
before, sb = ledger(), summary()
for body in ["this is not json", '{"message":{"token":["a"]}', '{"message":{"token":["a"]}} x', "[1,2]"]:
    s, b = post("/v1/101/messages:send", body, {"Authorization": "Bearer at"})
    m = json.loads(b)
    expect(s == 400 and m["code"] == "80100003", "%r -> %d %s" % (body, s, b))
s, b = post("/v1/101/messages:send", '{"message":{"token":[]}}', {"Authorization": "Bearer at"})
expect(s == 400 and json.loads(b)["code"] == "80300010", "empty token array: %s" % b)
s, b = huawei(["t%d" % i for i in range(1001)])
expect(s == 400 and json.loads(b)["code"] == "80300010", "1001 tokens: %s" % b)
s, b = huawei(["x"], auth="")
expect(s == 401 and json.loads(b)["code"] == "80200001", "no credential: %d %s" % (s, b))
expect(ledger() == before, "the ledger changed")
sa = summary()
expect(sa["huawei"]["errors"] == sb["huawei"]["errors"] + 7, "errors %s -> %s" % (sb["huawei"], sa["huawei"]))
expect(sa["huawei"]["accepted"] == sb["huawei"]["accepted"], "accepted changed")
EOF

check "Xiaomi: a form request is accepted and counted; bad_regids; a lone bad regid is 20301" "$P" <<'EOF'
s, b = xiaomi(["mi-1", "mi-2"])
m = json.loads(b)
expect(s == 200 and m["result"] == "ok" and m["code"] == 0 and m["data"]["id"], b)
expect("bad_regids" not in m["data"], b)
s, b = xiaomi(["mi-3", "bad-mi"])
m = json.loads(b)
expect(m["result"] == "ok" and m["data"]["bad_regids"] == "bad-mi", b)
s, b = xiaomi(["bad-only"])
m = json.loads(b)
expect(s == 200 and m["result"] == "error" and m["code"] == 20301, b)
s, b = xiaomi(["mi-1"])
expect(json.loads(b)["result"] == "ok", b)
expect(ledger("xiaomi") == [("xiaomi", "mi-1", "2"), ("xiaomi", "mi-2", "1"), ("xiaomi", "mi-3", "1")],
       "ledger %s" % ledger("xiaomi"))
x = summary()["xiaomi"]
expect(x == {"requests": 4, "accepted": 4, "invalid": 2, "throttled": 0, "errors": 0, "distinct": 3,
             "duplicates": 1}, "summary %s" % x)
s, b = post("/v3/message/regid", "registration_id=a", {"Authorization": "key=s"})
expect(json.loads(b)["code"] == 10016, "missing fields: %s" % b)
s, b = xiaomi(["a"], key="Key=secret")
expect(json.loads(b)["code"] == 21301, "the keyword key is lower case: %s" % b)
EOF

check "OPPO: unicast_batch accepted, per-element messageId / errorCode 10000" "$P" <<'EOF'
msgs = [{"target_type": 2, "target_value": r, "notification": {"title": "t", "content": "c"}}
        for r in ["op-1", "bad-op", "op-2"]]
s, b = post("/server/v1/message/notification/unicast_batch",
            form({"auth_token": "tok", "messages": json.dumps(msgs)}),
            {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
m = json.loads(b)
expect(s == 200 and m["code"] == 0, b)
d = m["data"]
expect([e["registrationId"] for e in d] == ["op-1", "bad-op", "op-2"], b)
expect(d[1]["errorCode"] == 10000 and "messageId" not in d[1], b)
expect(d[0]["messageId"] and d[2]["messageId"] and d[0]["messageId"] != d[2]["messageId"], b)
expect(ledger("oppo") == [("oppo", "op-1", "1"), ("oppo", "op-2", "1")], "ledger %s" % ledger("oppo"))
s, b = post("/server/v1/message/notification/unicast_batch", form({"messages": json.dumps(msgs)}))
expect(json.loads(b)["code"] == 11, "no auth_token: %s" % b)
s, b = post("/server/v1/message/notification/unicast_batch", form({"auth_token": "t", "messages": "{"}))
expect(json.loads(b)["code"] == 41, "messages not JSON: %s" % b)
EOF

check "vivo: saveListPayload hands out a taskId that pushToList accepts; an unknown one is 10055" "$P" <<'EOF'
h = {"authToken": "vt", "Content-Type": "application/json"}
s, b = post("/message/saveListPayload", json.dumps({"appId": "1", "title": "t", "content": "c",
            "notifyType": 4, "skipType": 1, "requestId": "save-1"}), h)
m = json.loads(b)
expect(s == 200 and m["result"] == 0 and m["taskId"], b)
task = m["taskId"]
s, b = post("/message/pushToList", json.dumps({"appId": "1", "regIds": ["vv-1", "bad-vv", "vv-2"],
            "taskId": task, "requestId": "push-1"}), h)
m = json.loads(b)
expect(s == 200 and m["result"] == 0 and m["requestId"] == "push-1", b)
expect(m["invalidUsers"] == [{"status": 1, "userid": "bad-vv"}], b)
s, b = post("/message/pushToList", json.dumps({"appId": "1", "regIds": ["vv-8", "vv-9"],
            "taskId": str(int(task) + 1000), "requestId": "push-2"}), h)
expect(json.loads(b)["result"] == 10055, "unknown taskId: %s" % b)
s, b = post("/message/pushToList", json.dumps({"appId": "1", "regIds": ["vv-8"], "taskId": task,
            "requestId": "push-3"}), h)
expect(json.loads(b)["result"] == 10050, "one regId: %s" % b)
s, b = post("/message/pushToList", json.dumps({"regIds": ["vv-8", "vv-9"], "taskId": task,
            "requestId": "push-4"}), {"Content-Type": "application/json"})
expect(json.loads(b)["result"] == 10000, "no authToken: %s" % b)
expect(ledger("vivo") == [("vivo", "vv-1", "1"), ("vivo", "vv-2", "1")], "ledger %s" % ledger("vivo"))
EOF

check "SMS: SendSms accepted with a BizId; an illegal number refuses the request" "$P" <<'EOF'
def sms(numbers, **extra):
    p = {"AccessKeyId": "ak", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": ",".join(numbers),
         "RegionId": "cn-hangzhou", "SignName": "Herald", "SignatureMethod": "HMAC-SHA1",
         "SignatureNonce": "n1", "SignatureVersion": "1.0", "TemplateCode": "SMS_1",
         "TemplateParam": json.dumps({"text": "hi"}), "Timestamp": "2026-01-01T00:00:00Z",
         "Version": "2017-05-25", "Signature": "unchecked"}
    p.update(extra)
    return post("/", form(dict(sorted(p.items()))), {"Content-Type": "application/x-www-form-urlencoded"})
s, b = sms(["+8613800000001", "+8613800000002"], OutId="out-1")
m = json.loads(b)
expect(s == 200 and m["Code"] == "OK" and m["BizId"] and m["RequestId"], b)
s, b = sms(["+8613800000003", "bad-number"])
m = json.loads(b)
expect(s == 200 and m["Code"] == "isv.MOBILE_NUMBER_ILLEGAL", b)
s, b = sms(["+8613800000004"], Action="QuerySendDetails")
expect(s == 404 and json.loads(b)["Code"] == "InvalidAction.NotFound", b)
s, b = sms(["+8613800000004"], AccessKeyId="")
expect(json.loads(b)["Code"] == "InvalidAccessKeyId.NotFound", b)
expect(ledger("sms") == [("sms", "+8613800000001", "1"), ("sms", "+8613800000002", "1")],
       "ledger %s" % ledger("sms"))
EOF

check "webhook: accepted, invalid listed, bad body 400, no bearer 401" "$P" <<'EOF'
h = {"Authorization": "Bearer whs", "Content-Type": "application/json"}
s, b = post("/webhook", json.dumps({"herald": 1, "id": "req-1", "title": "t", "body": "b",
            "to": ["wh-1", "bad-wh", "wh-2"]}), h)
expect(s == 200 and json.loads(b) == {"accepted": 2, "invalid": ["bad-wh"]}, "%d %s" % (s, b))
s, b = post("/webhook", "not json", h)
expect(s == 400, "not JSON: %d %s" % (s, b))
s, b = post("/webhook", json.dumps({"herald": 1, "id": "x", "to": ["a"]}), {})
expect(s == 401, "no bearer: %d" % s)
expect(ledger("webhook") == [("webhook", "wh-1", "1"), ("webhook", "wh-2", "1")], "ledger %s" % ledger("webhook"))
EOF

check "ledger: sorted by vendor then token, tab-separated; summary; reset" "$P" <<'EOF'
rows = ledger()
expect(rows == sorted(rows, key=lambda r: (r[0], r[1].encode())), "not sorted: %s" % rows)
expect(all(len(r) == 3 and r[2].isdigit() for r in rows), "shape: %s" % rows)
sm = summary()
expect(set(sm) == {"huawei", "xiaomi", "oppo", "vivo", "sms", "webhook"}, sm)
for v, d in sm.items():
    expect(d["accepted"] == sum(int(r[2]) for r in rows if r[0] == v), "accepted of %s" % v)
    expect(d["distinct"] == len([r for r in rows if r[0] == v]), "distinct of %s" % v)
    expect(d["duplicates"] == d["accepted"] - d["distinct"], "duplicates of %s" % v)
s, b, _ = req("POST", "/ledger/reset")
expect(s == 200, b)
expect(ledger() == [], "not empty after reset")
expect(all(d["requests"] == 0 and d["accepted"] == 0 for d in summary().values()), "summary after reset")
s, b, _ = req("GET", "/nowhere")
expect(s == 404, "unknown path %d" % s)
s, b, _ = req("GET", "/webhook")
expect(s == 405, "wrong method %d" % s)
EOF

check "keep-alive: several requests on one connection; pipelined requests answered in order" "$P" <<'EOF'
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
for i in range(5):
    s, b = huawei(["ka-%d" % i], conn=c)
    expect(s == 200, b)
    if i == 0:
        sock = c.sock
    expect(c.sock is sock, "the connection was not kept")
c.close()
def raw(path, body, hdr):
    h = "".join("%s: %s\r\n" % kv for kv in hdr.items())
    return ("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (path, h, len(body))).encode() + body.encode()
wire = (raw("/v1/101/messages:send", json.dumps({"message": {"token": ["pl-1"]}}), {"Authorization": "Bearer a"}) +
        raw("/v1/101/messages:send", "garbage", {"Authorization": "Bearer a"}) +
        raw("/webhook", json.dumps({"herald": 1, "id": "p", "to": ["pl-2"]}), {"Authorization": "Bearer a"}) +
        b"GET /ledger HTTP/1.1\r\nHost: x\r\n\r\n")
s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
s.sendall(wire)
f = s.makefile("rb")
got = []
for _ in range(4):
    status = int(f.readline().split()[1])
    n = 0
    while True:
        line = f.readline().strip()
        if not line:
            break
        k, v = line.split(b":", 1)
        if k.lower() == b"content-length":
            n = int(v)
    got.append((status, f.read(n).decode()))
s.close()
expect([g[0] for g in got] == [200, 400, 200, 200], "statuses %s" % got)
expect(json.loads(got[0][1])["code"] == "80000000" and json.loads(got[1][1])["code"] == "80100003", got)
expect(got[3][1] == "huawei\tka-0\t1\nhuawei\tka-1\t1\nhuawei\tka-2\t1\nhuawei\tka-3\t1\nhuawei\tka-4\t1\n"
       "huawei\tpl-1\t1\nwebhook\tpl-2\t1\n", "ledger in the pipeline: %r" % got[3][1])
EOF

check "a chunked request body is read" "$P" <<'EOF'
body = json.dumps({"message": {"token": ["chunk-1", "chunk-2"]}}).encode()
s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
s.sendall(b"POST /v1/7/messages:send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
for i in range(0, len(body), 7):
    part = body[i:i + 7]
    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    time.sleep(0.002)
s.sendall(b"0\r\n\r\n")
resp = s.recv(65536).decode()
s.close()
expect(resp.startswith("HTTP/1.1 200") and '"80000000"' in resp, resp)
expect(("huawei", "chunk-2", "1") in ledger("huawei"), "ledger %s" % ledger("huawei"))
EOF
stop_sim "$SIM_PID"

# ---- --invalid-per-10000 -------------------------------------------------------------------
start_sim hashed --invalid-prefix "" --invalid-per-10000 3000
check "--invalid-per-10000: invalid exactly when fnv1a64(token) % 10000 < N" "$SIM_PORT" <<'EOF'
toks = ["hash-%03d" % i for i in range(200)] + ["bad-not-a-prefix-now"]
want = [t for t in toks if fnv1a64(t) % 10000 < 3000]
expect(0 < len(want) < len(toks), "a useless sample")
s, b = post("/webhook", json.dumps({"herald": 1, "id": "h", "to": toks}), {"Authorization": "Bearer a"})
expect(s == 200, b)
expect(json.loads(b)["invalid"] == want, "invalid %s, want %s" % (json.loads(b)["invalid"], want))
expect(sorted(t for v, t, c in ledger()) == sorted(set(toks) - set(want)), "ledger")
EOF
stop_sim "$SIM_PID"

# ---- limits, auth, injected errors ------------------------------------------------------------
start_sim limits --rate huawei=1/5 --quota xiaomi=3 --auth huawei=right --auth vivo=vright \
	--error oppo:-2@503:1 --error sms:isp.SYSTEM_ERROR:1 --error webhook:503:1
check "--rate: a batch over the bucket gets the throttle answer (503) and nothing of it is accepted" "$SIM_PORT" <<'EOF'
s, b = huawei(["rt-1", "rt-2", "rt-3"], auth="Bearer right")
expect(s == 200, "first batch %d %s" % (s, b))
s, b = huawei(["rt-4", "rt-5", "rt-6"], auth="Bearer right")
expect(s == 503, "second batch %d %s" % (s, b))
expect(json.loads(b)["code"], b)
expect([t for v, t, c in ledger("huawei")] == ["rt-1", "rt-2", "rt-3"], "ledger %s" % ledger())
expect(summary()["huawei"]["throttled"] == 1, summary()["huawei"])
EOF
check "--quota: beyond it the vendor's quota answer (Xiaomi 200001)" "$SIM_PORT" <<'EOF'
s, b = xiaomi(["q-1", "q-2"])
expect(json.loads(b)["result"] == "ok", b)
s, b = xiaomi(["q-3", "q-4"])
m = json.loads(b)
expect(s == 200 and m["result"] == "error" and m["code"] == 200001, b)
s, b = xiaomi(["q-5"])
expect(json.loads(b)["result"] == "ok", "one more fits: %s" % b)
expect([t for v, t, c in ledger("xiaomi")] == ["q-1", "q-2", "q-5"], ledger("xiaomi"))
EOF
check "--auth: another credential gets the vendor's auth answer" "$SIM_PORT" <<'EOF'
s, b = huawei(["au-1"], auth="Bearer wrong")
expect(s == 401 and json.loads(b)["code"] == "80200001", "%d %s" % (s, b))
h = {"authToken": "wrong", "Content-Type": "application/json"}
s, b = post("/message/saveListPayload", json.dumps({"title": "t", "content": "c", "notifyType": 4,
            "skipType": 1, "requestId": "r"}), h)
expect(json.loads(b)["result"] == 10000, b)
expect(ledger("huawei") == [("huawei", t, "1") for t in ["rt-1", "rt-2", "rt-3"]], ledger())
EOF
check "--error: vendor body codes and HTTP statuses, nothing accepted" "$SIM_PORT" <<'EOF'
msgs = [{"target_type": 2, "target_value": "e-1", "notification": {}}]
s, b = post("/server/v1/message/notification/unicast_batch", form({"auth_token": "t", "messages": json.dumps(msgs)}))
expect(s == 503 and json.loads(b)["code"] == -2, "oppo:-2@503: %d %s" % (s, b))
s, b = post("/", form({"Action": "SendSms", "AccessKeyId": "a", "PhoneNumbers": "1", "SignName": "s",
                       "TemplateCode": "t"}))
expect(s == 200 and json.loads(b)["Code"] == "isp.SYSTEM_ERROR", "sms: %d %s" % (s, b))
s, b = post("/webhook", json.dumps({"herald": 1, "id": "e", "to": ["e-2"]}), {"Authorization": "Bearer a"})
expect(s == 503, "webhook:503: %d" % s)
expect(not [r for r in ledger() if r[0] in ("oppo", "sms", "webhook")], ledger())
sm = summary()
expect(sm["oppo"]["errors"] == 1 and sm["sms"]["errors"] == 1 and sm["webhook"]["errors"] == 1, sm)
EOF
stop_sim "$SIM_PID"

start_sim slow --latency-ms 150,200 --garbage 1 --seed 7
check "--latency-ms delays answers without blocking other connections; --garbage answers non-JSON" "$SIM_PORT" <<'EOF'
import threading
res = []
def one(i):
    t = time.time()
    s, b = xiaomi(["lat-%d" % i])
    res.append((time.time() - t, s, b))
t0 = time.time()
th = [threading.Thread(target=one, args=(i,)) for i in range(8)]
[t.start() for t in th]
[t.join() for t in th]
total = time.time() - t0
expect(all(d >= 0.12 for d, s, b in res), "an answer came early: %s" % [round(d, 3) for d, s, b in res])
expect(total < 0.8, "8 concurrent answers took %.2fs: delays block" % total)
expect(all(s == 200 and b.startswith("<html>") for d, s, b in res), res[0])
s, b, _ = req("GET", "/ledger/summary")
expect(s == 200 and json.loads(b)["xiaomi"]["errors"] == 8, b)
EOF
stop_sim "$SIM_PID"

# ---- SMS signature --------------------------------------------------------------------------
start_sim signed --sms-secret testSecret
check "--sms-secret: a good HMAC-SHA1 signature is accepted, a wrong one is SignatureDoesNotMatch" "$SIM_PORT" <<'EOF'
import base64, hashlib, hmac
def pct(s):
    return urllib.parse.quote(s, safe="-_.~")
def signed(params, secret="testSecret"):
    canon = "&".join("%s=%s" % (pct(k), pct(v)) for k, v in sorted(params.items()))
    sts = "POST&%2F&" + pct(canon)
    sig = base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return canon + "&Signature=" + pct(sig)
p = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": "15300000001,15300000002",
     "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试", "SignatureMethod": "HMAC-SHA1",
     "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
     "TemplateCode": "SMS_71390007", "TemplateParam": '{"text":"a b*c~"}',
     "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}
s, b = post("/", signed(p), {"Content-Type": "application/x-www-form-urlencoded"})
expect(s == 200 and json.loads(b)["Code"] == "OK", "good signature: %d %s" % (s, b))
s, b = post("/", signed(p, "otherSecret"), {"Content-Type": "application/x-www-form-urlencoded"})
expect(s == 400 and json.loads(b)["Code"] == "SignatureDoesNotMatch", "bad signature: %d %s" % (s, b))
expect([t for v, t, c in ledger("sms")] == ["15300000001", "15300000002"], ledger())
EOF
stop_sim "$SIM_PID"

# ---- --ledger-file ------------------------------------------------------------------------------
start_sim dump --ledger-file "$TMP/ledger.txt" --threads 2
check "traffic for the ledger file (two threads)" "$SIM_PORT" <<'EOF'
for i in range(3):
    s, b = huawei(["lf-b", "lf-a", "bad-lf"])
    expect(s == 200, b)
s, b = xiaomi(["lf-mi"])
expect(s == 200, b)
EOF
echo "check: --ledger-file is written on SIGTERM and the exit status is 0"
stop_sim "$SIM_PID"
printf 'huawei\tlf-a\t3\nhuawei\tlf-b\t3\nxiaomi\tlf-mi\t1\n' >"$TMP/ledger.want"
cmp -s "$TMP/ledger.want" "$TMP/ledger.txt" || fail "ledger file: $(cat -A "$TMP/ledger.txt" 2>&1)"

# ---- callbacks --------------------------------------------------------------------------------
cat >"$TMP/receiver.py" <<'EOF'
import http.server, json, sys, threading
lock = threading.Lock()
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            log.write(json.dumps({"path": self.path, "ctype": self.headers.get("Content-Type"), "body": body}) + "\n")
            log.flush()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
: >"$TMP/receipts.log"
"$PY" "$TMP/receiver.py" "$TMP/receipts.log" >"$TMP/receiver.out" 2>"$TMP/receiver.err" &
PIDS+=("$!")
RPORT=
for _ in $(seq 100); do
	RPORT=$(head -n 1 "$TMP/receiver.out")
	[ -n "$RPORT" ] && break
	sleep 0.05
done
[ -n "$RPORT" ] || fail "the callback receiver did not start"
start_sim cb --callback "huawei=http://127.0.0.1:$RPORT/hw" --callback "xiaomi=http://127.0.0.1:$RPORT/mi" \
	--callback "webhook=http://127.0.0.1:$RPORT/wh" --delivered 1 --clicked 0.5 --callback-delay-ms 10
RECEIPTS=$TMP/receipts.log check "callbacks: a receipt for every accepted token (Huawei, Xiaomi, webhook)" "$SIM_PORT" <<'EOF'
hw = ["cb-hw-%02d" % i for i in range(40)] + ["bad-cb-hw"]
s, b = huawei(hw, extra={"bi_tag": "tag-1"})
expect(s == 200, b)
rid = json.loads(b)["requestId"]
mi = ["cb-mi-%02d" % i for i in range(30)] + ["bad-cb-mi"]
s, b = xiaomi(mi)
msg_id = json.loads(b)["data"]["id"]
s, b = post("/webhook", json.dumps({"herald": 1, "id": "wh-req", "to": ["cb-wh-1", "cb-wh-2"]}),
            {"Authorization": "Bearer a"})
expect(s == 200, b)
hw_seen, mi_deliv, mi_click, wh = {}, set(), set(), []
deadline = time.time() + 10
while time.time() < deadline:
    hw_seen, mi_deliv, mi_click, wh = {}, set(), set(), []
    for line in open(os.environ["RECEIPTS"]):
        rec = json.loads(line)
        if rec["path"] == "/hw":
            expect(rec["ctype"].startswith("application/json"), rec)
            for st in json.loads(rec["body"])["statuses"]:
                hw_seen[st["token"]] = st
        elif rec["path"] == "/mi":
            expect(rec["ctype"].startswith("application/x-www-form-urlencoded"), rec)
            data = json.loads(urllib.parse.parse_qs(rec["body"])["data"][0])
            for mid, v in data.items():
                expect(mid == msg_id, "xiaomi msg id %s, want %s" % (mid, msg_id))
                (mi_deliv if v["type"] == 1 else mi_click).update(v["targets"].split(","))
        elif rec["path"] == "/wh":
            wh += json.loads(rec["body"])["receipts"]
    if len(hw_seen) == 40 and len(mi_deliv) == 30 and len([r for r in wh if r["event"] == "delivered"]) == 2:
        break
    time.sleep(0.05)
expect(sorted(hw_seen) == hw[:40], "huawei receipts for %d tokens: %s" % (len(hw_seen), sorted(hw_seen)))
for t, st in hw_seen.items():
    expect(st["status"] == 0 and st["biTag"] == "tag-1" and st["appid"] == "101" and st["requestId"] == rid
           and isinstance(st["timestamp"], int), st)
expect(sorted(mi_deliv) == mi[:30], "xiaomi delivered %s" % sorted(mi_deliv))
expect(mi_click and mi_click <= mi_deliv and len(mi_click) < 30, "xiaomi clicked %s" % sorted(mi_click))
expect(sorted(r["token"] for r in wh if r["event"] == "delivered") == ["cb-wh-1", "cb-wh-2"], wh)
expect(all(r["msg_id"] == "wh-req" and r["event"] in ("delivered", "clicked") for r in wh), wh)
s, b, _ = req("GET", "/callbacks/summary")
cs = json.loads(b)
expect(cs["failed"] == 0 and cs["dropped"] == 0 and cs["rejected"] == 0, cs)
EOF
stop_sim "$SIM_PID"

# ---- load -------------------------------------------------------------------------------------
start_sim perf
for vendor in huawei xiaomi; do
	echo "check: --load, 1000-address $vendor batches for 1 s (a floor only; the figure is for reading)"
	"$SIM" --load "127.0.0.1:$SIM_PORT" --vendor "$vendor" --conns 4 --depth 2 --seconds 1 \
		--server-pid "$SIM_PID" >"$TMP/load.out" 2>"$TMP/load.err" || fail "load: $(cat "$TMP/load.out" "$TMP/load.err")"
	sed 's/^/  /' "$TMP/load.out"
	tps=$(sed -n 's/.* tokens_per_sec=\([0-9]*\).*/\1/p' "$TMP/load.out")
	if [ -z "$tps" ] || [ "$tps" -lt 50000 ]; then
		fail "load: $(cat "$TMP/load.out")"
	fi
done
stop_sim "$SIM_PID"

echo "vendorsim: all checks passed"
