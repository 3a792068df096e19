#!/usr/bin/env python3
"""A webhook receiver for the benchmarks: loopback only, answers 200 to every POST, counts the requests and events
(GET /stats: "requests events first_unix last_unix"), checks each signature when given the secret (--secret-file, read
on every request so it can be written after start), and exits by itself after --seconds.

    webhook-receiver.py PORT [--seconds N] [--secret-file PATH]
"""
import argparse, hashlib, hmac, json, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("--seconds", type=float, default=1800)
parser.add_argument("--secret-file")
args = parser.parse_args()
lock = threading.Lock()
stats = {"requests": 0, "events": 0, "bad": 0, "first": 0.0, "last": 0.0}


def signed(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    expected = hmac.new(secret.encode(), parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per delivery worker

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        events = len(json.loads(body)["events"])
        ok = True
        if args.secret_file and os.path.exists(args.secret_file):
            secret = open(args.secret_file).read().strip()
            ok = bool(secret) and signed(secret, self.headers.get("X-InvexQR-Signature", ""), body)
        with lock:
            now = time.time()
            stats["requests"] += 1
            stats["events"] += events
            stats["bad"] += 0 if ok else 1
            stats["first"] = stats["first"] or now
            stats["last"] = now
        self.answer(200 if ok else 400, b"")

    def do_GET(self):
        with lock:
            text = "%d %d %.3f %.3f %d\n" % (stats["requests"], stats["events"], stats["first"], stats["last"], stats["bad"])
        self.answer(200, text.encode())

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
threading.Timer(args.seconds, server.shutdown).start()
server.serve_forever()
