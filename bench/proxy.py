"""A recording, delaying HTTP proxy in front of the AWS emulator.

Every request a function makes goes through it: it waits a fixed latency
(the round trip a real AWS endpoint would cost), forwards the request to the
emulator, and records when the request arrived and when its answer left,
with the service, the API action and a few identifying parameters. From that
recording `serial_depths` finds the critical path: a request's depth is one
more than the deepest request that had finished before it started, so
requests made in parallel share a depth and the deepest one is the number of
serial round trips.
"""

import http.client
import http.server
import threading
import time
import urllib.parse

# Parameters worth keeping in the recording: they say what a request acted on.
KEPT_PARAMS = (
    "AccessKeyId",
    "UserName",
    "RoleName",
    "PolicyName",
    "PolicyArn",
    "InstanceId",
    "NetworkInterfaceId",
    "GroupId",
    "VolumeId",
    "Name",
)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Recording:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.delay = 0.0

    def clear(self, delay=0.0):
        with self.lock:
            self.records = []
            self.delay = delay

    def add(self, record):
        with self.lock:
            self.records.append(record)

    def snapshot(self):
        with self.lock:
            return list(self.records)


def describe(headers, body):
    """Service, action and kept parameters of one AWS API request."""
    auth = headers.get("Authorization", "")
    service = "?"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = headers.get("X-Amz-Target")
    params = {}
    if target:
        action = target.rsplit(".", 1)[-1]
    else:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        action = form.get("Action", ["?"])[0]
        for key, values in form.items():
            base = key.split(".", 1)[0]
            if base in KEPT_PARAMS:
                params.setdefault(base, values[0])
    return service, action, params


def handler_for(upstream_host, upstream_port, recording):
    local = threading.local()

    def connection():
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
        return local.conn

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            service, action, params = describe(self.headers, body)
            delay = recording.delay
            if delay:
                time.sleep(delay)
            forwarded = time.monotonic()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            for attempt in range(2):
                conn = connection()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    # A pooled connection the emulator closed: one fresh retry.
                    conn.close()
                    local.conn = None
                    if attempt:
                        raise
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            recording.add(
                {
                    "start": arrived,
                    "forwarded": forwarded,
                    "end": time.monotonic(),
                    "service": service,
                    "action": action,
                    "params": params,
                    "status": response.status,
                }
            )

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    return Handler


class Proxy:
    """Listens on a free loopback port; `url` is what AWS_ENDPOINT_URL gets."""

    def __init__(self, upstream_port):
        self.recording = Recording()
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), handler_for("127.0.0.1", upstream_port, self.recording)
        )
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


def serial_depths(records):
    """Each record with its `depth` on the critical path (1 = first round trip).

    A request was released by the last request that finished before it
    started: its depth is one more than that one's. (Taking the deepest of
    all earlier-finished requests instead would over-count behind an
    emulator that serves one request at a time: a request that waited in
    its queue finishes late, and the next request of its chain would look
    as if it had waited for everything else that finished meanwhile.)
    Requests sent together share a depth.
    """
    ordered = sorted(records, key=lambda r: r["start"])
    for i, record in enumerate(ordered):
        before = [r for r in ordered[:i] if r["end"] <= record["start"]]
        record["depth"] = 1 + (max(before, key=lambda r: r["end"])["depth"] if before else 0)
    return ordered
