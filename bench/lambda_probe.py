"""A minimal Lambda Runtime API that starts one function binary and measures it.

It serves the binary the Runtime API (next invocation, response, error) on a
free loopback port, hands it the given events one after another, and records
on CLOCK_MONOTONIC:
  spawn        when the process was started
  first_poll   its first poll for an event (the end of the cold start's init)
  handed/answered  for each invocation, when the event was handed out and when
               the response (or error) came back
  rss_kb       the process's peak resident set (VmHWM), read after the last answer

Usage as a script (prints one JSON object):
  python bench/lambda_probe.py BINARY EVENT_FILE [EVENT_FILE ...] [--wrap CMD] [--env K=V ...]
--wrap runs the binary through another program (qemu-aarch64 to run an arm64
build on x86_64: the figures are then the emulator's, indicative only).
"""

import argparse
import http.server
import json
import os
import shlex
import subprocess
import threading
import time

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:probe"


class QuietServer(http.server.ThreadingHTTPServer):
    """A stopped function drops its pending poll: not an error worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class RuntimeApi:
    def __init__(self, events, deadline_ms=60_000):
        self.events = events
        self.deadline_ms = deadline_ms
        self.lock = threading.Lock()
        self.served = 0
        self.first_poll = None
        self.invocations = [{} for _ in events]
        self.init_error = None
        self.finished = threading.Event()
        self.stopping = threading.Event()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def _answered(self):
        if self.init_error is not None or all("answered" in i for i in self.invocations):
            self.finished.set()

    def _handler(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                now = time.monotonic()
                with api.lock:
                    n = api.served
                    api.served += 1
                    if api.first_poll is None:
                        api.first_poll = now
                if n >= len(api.events):
                    # No more events: hold the poll, as Lambda freezes the sandbox.
                    api.stopping.wait(120)
                    return
                body = api.events[n]
                api.invocations[n]["handed"] = time.monotonic()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + api.deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = self.path.split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with api.lock:
                    if "invocation" in parts:
                        n = int(parts[parts.index("invocation") + 1].split("-")[1])
                        api.invocations[n].update(answered=time.monotonic(), kind=parts[-1], body=body)
                    else:
                        api.init_error = body
                    api._answered()

        return Handler

    def close(self):
        self.stopping.set()
        self.server.shutdown()


def peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_function(binary, events, env=None, wrap="", log_path=os.devnull, deadline_ms=60_000, timeout=120):
    """Starts `binary` as a Lambda sandbox, serves it `events` (bytes), returns the measurements."""
    api = RuntimeApi(events, deadline_ms)
    full_env = dict(os.environ)
    full_env.update(
        AWS_LAMBDA_RUNTIME_API=api.address,
        AWS_LAMBDA_FUNCTION_NAME="probe",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/probe",
        AWS_LAMBDA_LOG_STREAM_NAME="probe",
    )
    full_env.update(env or {})
    with open(log_path, "ab") as log:
        spawn = time.monotonic()
        proc = subprocess.Popen(shlex.split(wrap) + [binary], env=full_env, stdout=log, stderr=log)
        finished = api.finished.wait(timeout)
        rss = peak_rss_kb(proc.pid)
        proc.kill()
        proc.wait()
    api.close()
    if not finished:
        raise RuntimeError(f"{binary} did not answer every event within {timeout} s (log: {log_path})")
    return {
        "spawn": spawn,
        "first_poll": api.first_poll,
        "init_error": api.init_error,
        "invocations": api.invocations,
        "rss_kb": rss,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("events", nargs="+")
    parser.add_argument("--wrap", default="")
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args()
    events = [open(path, "rb").read() for path in args.events]
    result = run_function(args.binary, events, dict(kv.split("=", 1) for kv in args.env), args.wrap)
    ms = lambda a, b: None if a is None or b is None else round((b - a) * 1000, 1)
    print(
        json.dumps(
            {
                "init_ms": ms(result["spawn"], result["first_poll"]),
                "invocations_ms": [ms(i.get("handed"), i.get("answered")) for i in result["invocations"]],
                "rss_kb": result["rss_kb"],
                "init_error": result["init_error"],
                "responses": [{"kind": i.get("kind"), "body": (i.get("body") or "")[:2000]} for i in result["invocations"]],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
