#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""http_peer.py - the HTTP/1.1 server tests/http1.c talks to (stdlib only).

    tests/http_peer.py [--tls CERT KEY]

Listens on 127.0.0.1, an ephemeral port, and prints that port alone on the
first line of stdout. Keep-alive HTTP/1.1, one thread per connection; with
--tls every connection is TLS (the handshake runs in the connection's
thread). Paths (query parameters after ?):

  /echo                 200, the request body back (Content-Length)
  /count                200, "conn=<connection id> n=<requests on this connection>"
  /chunked              200, "hello chunked world" in three chunks
  /continue             a 100 Continue, then 200 "after continue"
  /close                200 "bye" with Connection: close, then closes
  /eof-body             200 with no length: the body ends when the server closes
  /idle-close?ms=N      200 "ok", then closes if no request follows within N ms
  /slow?ms=N            sleeps N ms, then 200 "slow"
  /garbage              bytes that are not HTTP, then closes
  /huge?bytes=N[&chunked=1]   200 with N bytes of body
  /drop                 reads the request, closes without answering
  /drop-if-reused       like /drop on a connection that already served a request, else /count
  HEAD on any path      200, Content-Length: 5, no body
"""
import itertools
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TLS_CTX = None
CONN_IDS = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        if TLS_CTX is not None:
            self.request = TLS_CTX.wrap_socket(self.request, server_side=True)
        super().setup()
        self.conn_id = next(CONN_IDS)
        self.served = 0

    def log_message(self, *args):
        pass

    def answer(self, code, body, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.served += 1
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()

    def do_GET(self):
        self.served += 1
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n) if n else b""
        name = "ep_" + url.path.strip("/").replace("-", "_")
        getattr(self, name, self.ep_missing)()

    do_POST = do_GET

    def ep_missing(self):
        self.answer(404, b"no such path")

    def ep_echo(self):
        self.answer(200, self.body)

    def ep_count(self):
        self.answer(200, b"conn=%d n=%d" % (self.conn_id, self.served))

    def ep_chunked(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (b"hello ", b"chunked ", b"world"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def ep_continue(self):
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.answer(200, b"after continue")

    def ep_close(self):
        self.answer(200, b"bye", [("Connection", "close")])
        self.close_connection = True

    def ep_eof_body(self):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"until close")
        self.close_connection = True

    def ep_idle_close(self):
        self.answer(200, b"ok")
        self.wfile.flush()
        self.connection.settimeout(int(self.query.get("ms", "200")) / 1000.0)

    def ep_slow(self):
        time.sleep(int(self.query.get("ms", "1000")) / 1000.0)
        self.answer(200, b"slow")

    def ep_garbage(self):
        self.wfile.write(b"this is not http at all\r\n\r\n")
        self.close_connection = True

    def ep_huge(self):
        n = int(self.query.get("bytes", "1048576"))
        chunked = self.query.get("chunked") == "1"
        self.send_response(200)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        piece = b"x" * 65536
        while n > 0:
            k = min(n, len(piece))
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (k, piece[:k]))
            else:
                self.wfile.write(piece[:k])
            n -= k
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def ep_drop(self):
        self.close_connection = True

    def ep_drop_if_reused(self):
        if self.served > 1:
            self.close_connection = True
        else:
            self.ep_count()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-answer are part of the tests


def main():
    global TLS_CTX
    args = sys.argv[1:]
    if args[:1] == ["--tls"]:
        TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS_CTX.load_cert_chain(args[1], args[2])
    srv = Server(("127.0.0.1", 0), Handler)
    srv.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
