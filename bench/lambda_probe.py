"""A minimal Lambda Runtime API that starts one function binary and measures it.

It serves the binary the Runtime API (next invocation, response, error) on a
free loopback port, hands it the given events one after another, and records
on CLOCK_MONOTONIC:
  spawn        when the process was started
  first_poll   its first poll for an event (the end of the cold start's init)
  handed/answered  for each invocation, when the event was handed out and when
               the response (or error) came back
  rss_kb       the process's peak resident set (VmHWM), read after the last answer

`run_pool` is a burst: several sandboxes of the same binary, started at
once (as Lambda starts up to the function's concurrency for a backlog of
asynchronous events), each with its own Runtime API but all taking their
next event from one shared queue, one event after another. It records the
same instants per invocation, which sandbox served it, and each sandbox's
init.

Usage as a script (prints one JSON object):
  python bench/lambda_probe.py BINARY EVENT_FILE [EVENT_FILE ...] [--wrap CMD] [--env K=V ...]
                               [--concurrency K]
--wrap runs the binary through another program (qemu-aarch64 to run an arm64
build on x86_64: the figures are then the emulator's, indicative only).
--concurrency K serves the events to K sandboxes from one queue (run_pool).
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


class EventQueue:
    """The events of one run, handed out in order to whichever sandbox polls
    first; `finished` is set once every event has been answered (or a
    sandbox failed its init)."""

    def __init__(self, events):
        self.events = events
        self.lock = threading.Lock()
        self.next = 0
        self.invocations = [{} for _ in events]
        self.failed_init = False
        self.finished = threading.Event()
        self.stopping = threading.Event()
        if not events:
            self.finished.set()

    def take(self, sandbox):
        """(number, body) of the next event, marked handed to `sandbox`; None when none is left."""
        with self.lock:
            n = self.next
            if n >= len(self.events):
                return None
            self.next += 1
            self.invocations[n].update(handed=time.monotonic(), sandbox=sandbox)
            return n, self.events[n]

    def answer(self, n, kind, body):
        with self.lock:
            self.invocations[n].update(answered=time.monotonic(), kind=kind, body=body)
            self._check()

    def init_failed(self):
        with self.lock:
            self.failed_init = True
            self._check()

    def _check(self):
        if self.failed_init or all("answered" in i for i in self.invocations):
            self.finished.set()


class RuntimeApi:
    """One sandbox's Runtime API, serving events from `queue` (its own, or one
    shared with other sandboxes of the same function)."""

    def __init__(self, events=None, deadline_ms=60_000, queue=None, sandbox=0):
        self.queue = queue if queue is not None else EventQueue(events)
        self.sandbox = sandbox
        self.deadline_ms = deadline_ms
        self.lock = threading.Lock()
        self.first_poll = None
        self.init_error = None
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def invocations(self):
        return self.queue.invocations

    @property
    def finished(self):
        return self.queue.finished

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
                    if api.first_poll is None:
                        api.first_poll = now
                taken = api.queue.take(api.sandbox)
                if taken is None:
                    # No more events: hold the poll, as Lambda freezes the sandbox.
                    api.queue.stopping.wait(120)
                    return
                n, body = taken
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
                if "invocation" in parts:
                    n = int(parts[parts.index("invocation") + 1].split("-")[1])
                    api.queue.answer(n, parts[-1], body)
                else:
                    with api.lock:
                        api.init_error = body
                    api.queue.init_failed()

        return Handler

    def close(self):
        self.queue.stopping.set()
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


def sandbox_env(api, env, stream="probe"):
    full_env = dict(os.environ)
    full_env.update(
        AWS_LAMBDA_RUNTIME_API=api.address,
        AWS_LAMBDA_FUNCTION_NAME="probe",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/probe",
        AWS_LAMBDA_LOG_STREAM_NAME=stream,
    )
    full_env.update(env or {})
    return full_env


def run_pool(binary, events, concurrency, env=None, wrap="", log_path=os.devnull, deadline_ms=60_000, timeout=600):
    """Starts `concurrency` sandboxes of `binary` at once and serves them
    `events` (bytes) from one queue: each sandbox takes the next event when
    it polls, so a slow invocation holds one sandbox and the others go on.
    Returns the spawn instant (the burst's start), each sandbox's spawn,
    first poll, init error and peak RSS, and each invocation's instants,
    sandbox and answer."""
    queue = EventQueue(events)
    apis = [RuntimeApi(queue=queue, deadline_ms=deadline_ms, sandbox=k) for k in range(concurrency)]
    procs, spawns = [], []
    with open(log_path, "ab") as log:
        start = time.monotonic()
        for k, api in enumerate(apis):
            spawns.append(time.monotonic())
            procs.append(subprocess.Popen(shlex.split(wrap) + [binary], env=sandbox_env(api, env, f"probe-{k}"), stdout=log, stderr=log))
        finished = queue.finished.wait(timeout)
        rss = [peak_rss_kb(p.pid) for p in procs]
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    for api in apis:
        api.close()
    if not finished:
        missing = sum(1 for i in queue.invocations if "answered" not in i)
        raise RuntimeError(f"{binary}: {missing} of {len(events)} events unanswered after {timeout} s (log: {log_path})")
    return {
        "spawn": start,
        "sandboxes": [
            {"spawn": spawns[k], "first_poll": api.first_poll, "init_error": api.init_error, "rss_kb": rss[k]} for k, api in enumerate(apis)
        ],
        "invocations": queue.invocations,
    }


def run_function(binary, events, env=None, wrap="", log_path=os.devnull, deadline_ms=60_000, timeout=120):
    """Starts `binary` as a Lambda sandbox, serves it `events` (bytes), returns the measurements."""
    api = RuntimeApi(events, deadline_ms)
    full_env = sandbox_env(api, env)
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
    parser.add_argument("--concurrency", type=int, default=0, help="serve the events to this many sandboxes from one queue")
    args = parser.parse_args()
    events = [open(path, "rb").read() for path in args.events]
    env = dict(kv.split("=", 1) for kv in args.env)
    ms = lambda a, b: None if a is None or b is None else round((b - a) * 1000, 1)
    if args.concurrency:
        pool = run_pool(args.binary, events, args.concurrency, env, args.wrap)
        print(
            json.dumps(
                {
                    "init_ms": [ms(s["spawn"], s["first_poll"]) for s in pool["sandboxes"]],
                    "rss_kb": [s["rss_kb"] for s in pool["sandboxes"]],
                    "init_errors": [s["init_error"] for s in pool["sandboxes"] if s["init_error"]],
                    "invocations": [
                        {
                            "sandbox": i.get("sandbox"),
                            "handed_ms": ms(pool["spawn"], i.get("handed")),
                            "answered_ms": ms(pool["spawn"], i.get("answered")),
                            "kind": i.get("kind"),
                            "body": (i.get("body") or "")[:2000],
                        }
                        for i in pool["invocations"]
                    ],
                },
                indent=2,
            )
        )
        return
    result = run_function(args.binary, events, env, args.wrap)
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
