"""A minimal Lambda Runtime API that starts one function binary and measures it.

It serves the binary the Runtime API (next invocation, response, error) on a
free loopback port and reports:
  init_ms   spawn to the first poll for an event (the cold start's init phase)
  first_ms  the first invocation, from handing out the event to the response
  warm_ms   a second invocation of the same event
  rss_kb    the process's peak resident set (VmHWM), read before it is stopped

Usage:
  python bench/lambda_probe.py BINARY EVENT_FILE [--wrap CMD] [--env K=V ...]
--wrap runs the binary through another program (qemu-aarch64 to run an arm64
build on x86_64: the figures are then the emulator's, indicative only).
Prints one JSON object.
"""

import argparse
import http.server
import json
import os
import shlex
import socket
import subprocess
import threading
import time


class Probe:
    def __init__(self, event):
        self.event = event
        self.times = {}
        self.responses = []
        self.served = 0
        self.done = threading.Event()
        self.lock = threading.Lock()


def handler(probe):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            with self.lock_and_count() as n:
                if n >= 2:
                    probe.done.set()
                    time.sleep(30)
                    return
                probe.times.setdefault("first_poll", time.monotonic())
                probe.times[f"handed_{n}"] = time.monotonic()
            body = probe.event
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:probe")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def lock_and_count(self):
            class Ctx:
                def __enter__(ctx):
                    probe.lock.acquire()
                    n = probe.served
                    probe.served += 1
                    return n

                def __exit__(ctx, *exc):
                    probe.lock.release()

            return Ctx()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            parts = self.path.split("/")
            if "invocation" in parts:
                n = int(parts[parts.index("invocation") + 1].split("-")[1])
                probe.times[f"answered_{n}"] = time.monotonic()
                probe.responses.append({"kind": parts[-1], "body": body.decode("utf-8", "replace")[:2000]})
            else:
                probe.responses.append({"kind": "init-error", "body": body.decode("utf-8", "replace")[:2000]})
                probe.done.set()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("event")
    parser.add_argument("--wrap", default="")
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()

    probe = Probe(open(args.event, "rb").read())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(probe))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME="probe",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/probe",
        AWS_LAMBDA_LOG_STREAM_NAME="probe",
    )
    env.update(kv.split("=", 1) for kv in args.env)
    start = time.monotonic()
    proc = subprocess.Popen(shlex.split(args.wrap) + [args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe.done.wait(timeout=60)
    rss = None
    try:
        with open(f"/proc/{proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    proc.kill()
    server.shutdown()
    t = probe.times
    ms = lambda a, b: round((t[b] - t[a]) * 1000, 1) if a in t and b in t else None
    t["start"] = start
    print(json.dumps({
        "init_ms": ms("start", "first_poll"),
        "first_ms": ms("handed_0", "answered_0"),
        "warm_ms": ms("handed_1", "answered_1"),
        "rss_kb": rss,
        "responses": probe.responses,
    }, indent=2))


if __name__ == "__main__":
    main()
