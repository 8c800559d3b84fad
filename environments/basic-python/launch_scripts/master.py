"""The master: hands out numbers to test for primality, keeps and shows the results."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESULTS = "/home/data/results/primes.jsonl"
lock = threading.Lock()
next_item = [10**12]


class Master(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/work":
            with lock:
                item = next_item[0]
                next_item[0] += 1
            self._send(json.dumps({"n": item}), "application/json")
            return
        lines = open(RESULTS).read().splitlines() if os.path.exists(RESULTS) else []
        rows = "".join(f"<li>{line}</li>" for line in lines[-20:])
        self._send(f"<h1>basic-python</h1><p>{len(lines)} results</p><ul>{rows}</ul>", "text/html")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with lock, open(RESULTS, "a") as out:
            out.write(body.strip() + "\n")
        self._send("ok", "text/plain")

    def _send(self, text: str, kind: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    print("master listening on port 8888", flush=True)
    ThreadingHTTPServer(("", 8888), Master).serve_forever()
