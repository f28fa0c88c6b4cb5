"""A recording, delaying HTTP proxy in front of the AWS emulator.

Every request a function makes goes through it: it waits a fixed latency
(the round trip a real AWS endpoint would cost), forwards the request to the
emulator, and records when the request arrived and when its answer left,
with the service, the API action and a few identifying parameters. From that
recording `serial_depths` finds the critical path: a request's depth is one
more than the deepest request that had finished before it started, so
requests made in parallel share a depth and the deepest one is the number of
serial round trips.

It can also throttle as AWS does (`Throttle`): a token bucket per API action,
and an empty bucket answers the request itself, in the service's own error
shape, without forwarding it. The emulator never throttles.
"""

import hashlib
import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid

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
    "ResourceId",
    "SecurityGroupId",
    "Name",
)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Recording:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.delay = 0.0
        self.throttle = None

    def clear(self, delay=0.0, throttle=None):
        with self.lock:
            self.records = []
            self.delay = delay
            self.throttle = throttle

    def add(self, record):
        with self.lock:
            self.records.append(record)

    def snapshot(self):
        with self.lock:
            return list(self.records)


# GuardDuty speaks REST-JSON: the action is in the method and path.
GUARDDUTY_PATHS = (
    ("POST", re.compile(r"^/detector/[^/]+/findings/get$"), "GetFindings"),
    ("POST", re.compile(r"^/detector/[^/]+/findings$"), "ListFindings"),
    ("GET", re.compile(r"^/detector$"), "ListDetectors"),
    ("GET", re.compile(r"^/detector/[^/]+$"), "GetDetector"),
    ("POST", re.compile(r"^/malware-scan/start$"), "StartMalwareScan"),
    ("POST", re.compile(r"^/detector/[^/]+/malware-scans$"), "DescribeMalwareScans"),
)


def describe(headers, body, method="POST", path="/"):
    """Service, action and kept parameters of one AWS API request.

    Also whether it named a filter or a page (EC2 throttles an unfiltered,
    unpaginated describe harder) and a short digest of its body: a retry
    sends the same body, so (service, action, digest) says "the same request".
    """
    auth = headers.get("Authorization", "")
    service = "?"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = headers.get("X-Amz-Target")
    params = {}
    filtered = False
    if target:
        action = target.rsplit(".", 1)[-1]
    elif service == "guardduty":
        bare = urllib.parse.urlsplit(path).path.rstrip("/") or "/"
        action = next((name for m, pattern, name in GUARDDUTY_PATHS if m == method and pattern.match(bare)), "?")
    else:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        action = form.get("Action", ["?"])[0]
        for key, values in form.items():
            base = key.split(".", 1)[0]
            if base in KEPT_PARAMS:
                params.setdefault(base, values[0])
            if base in ("Filter", "MaxResults", "NextToken"):
                filtered = True
    digest = hashlib.sha1(method.encode() + path.encode() + body).hexdigest()[:12]
    return service, action, params, filtered, digest


# --- throttling as AWS does it ---------------------------------------------

# EC2's request token buckets, per API action (each action has a bucket of
# its own; the category gives its size and refill), from "Request throttling
# for the Amazon EC2 API":
# https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
# (capacity in tokens, refill in tokens per second)
EC2_NON_MUTATING = (100, 20)
EC2_UNFILTERED = (50, 10)
EC2_MUTATING = (50, 5)
EC2_RESOURCE_INTENSIVE = (50, 5)
# Non-mutating actions that use the smaller bucket when the request names
# neither a filter nor a page.
EC2_UNFILTERED_ACTIONS = {
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
}
EC2_RESOURCE_INTENSIVE_ACTIONS = {
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
}
# The page's "uncategorized actions" with figures of their own, those the
# functions (or the peer, or the bench's seeding) can call.
EC2_OWN_BUCKETS = {
    "AssociateIamInstanceProfile": (100, 5),
    "CopyImage": (100, 1),
    "CreateNetworkInterface": (100, 5),
    "CreateSnapshot": (100, 5),
    "CreateSnapshots": (100, 5),
    "CreateTags": (100, 10),
    "CreateVolume": (100, 5),
    "DeleteNetworkInterface": (100, 5),
    "DeleteSnapshot": (100, 5),
    "DeleteTags": (100, 10),
    "DeleteVolume": (100, 5),
    "DeregisterImage": (100, 5),
    "DescribeSecurityGroupReferences": (20, 5),
    "DescribeStaleSecurityGroups": (20, 5),
    "DisassociateIamInstanceProfile": (100, 5),
    "ModifyImageAttribute": (100, 5),
    "ModifyInstanceMetadataOptions": (100, 5),
    "ModifyNetworkInterfaceAttribute": (100, 5),
    "ModifySnapshotAttribute": (100, 5),
    "RunInstances": (5, 2),
    "StartInstances": (5, 2),
    "TerminateInstances": (100, 5),
}
# IAM and STS publish no request rates: "IAM and AWS STS quotas" lists object
# sizes and counts only, and AWS says both use token buckets whose size and
# refill "depend on the API". ASSUMPTION, not a documented figure: each IAM
# or STS action gets a bucket of EC2's figures for its kind (reads 100/20,
# changes 50/5).
ASSUMED_READ = EC2_NON_MUTATING
ASSUMED_WRITE = EC2_MUTATING
READ_PREFIXES = ("Describe", "List", "Search", "Get")


def bucket_for(service, action, filtered):
    """(bucket key, capacity, refill per second) for one request, or None when it is not throttled."""
    reads = action.startswith(READ_PREFIXES)
    if service == "ec2":
        if action in EC2_OWN_BUCKETS:
            return (service, action), *EC2_OWN_BUCKETS[action]
        if action in EC2_UNFILTERED_ACTIONS and not filtered:
            return (service, action, "unfiltered"), *EC2_UNFILTERED
        if reads:
            return (service, action), *EC2_NON_MUTATING
        if action in EC2_RESOURCE_INTENSIVE_ACTIONS:
            return (service, action), *EC2_RESOURCE_INTENSIVE
        return (service, action), *EC2_MUTATING
    if service in ("iam", "sts"):
        return (service, action), *(ASSUMED_READ if reads else ASSUMED_WRITE)
    return None


class Throttle:
    """Token buckets per API action: each starts full, refills continuously at
    its rate times `scale`, and a request takes one token or is throttled.

    `scale` < 1 slows the refill to the emulator's pace: it serves requests
    one at a time, far slower than AWS, so a burst that would drain a bucket
    in a second on AWS is spread over many seconds here, each refilling it.
    Bucket sizes are counts of requests and are not scaled.
    """

    def __init__(self, scale=1.0):
        self.scale = scale
        self.lock = threading.Lock()
        self.buckets = {}

    def take(self, service, action, filtered, now=None):
        """True when the request may go on; False when AWS would throttle it."""
        found = bucket_for(service, action, filtered)
        if found is None:
            return True
        key, capacity, refill = found
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.buckets.get(key, (float(capacity), now))
            tokens = min(float(capacity), tokens + (now - last) * refill * self.scale)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, now)
                return True
            self.buckets[key] = (tokens, now)
            return False


def throttled_answer(service, target):
    """Status, headers and body AWS answers a throttled request with, in its protocol."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
            f"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return 503, "text/xml;charset=UTF-8", body.encode()
    if target:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return 400, "application/x-amz-json-1.1", body.encode()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>'
        f"<Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return 400, "text/xml", body.encode()


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
            service, action, params, filtered, digest = describe(self.headers, body, self.command, self.path)
            delay = recording.delay
            throttle = recording.throttle
            if delay:
                time.sleep(delay)
            forwarded = time.monotonic()

            def reply(status, headers, payload, **marks):
                """Answers the caller and records the request as it was answered."""
                self.send_response(status)
                for key, value in headers:
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
                        "key": digest,
                        "status": status,
                        **marks,
                    }
                )

            if throttle is not None and not throttle.take(service, action, filtered, forwarded):
                status, content_type, payload = throttled_answer(service, self.headers.get("X-Amz-Target"))
                reply(status, [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))], payload, throttled=True)
                return
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
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
            reply(response.status, kept, payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    return Handler


class ProxyServer(http.server.ThreadingHTTPServer):
    """A listen backlog wide enough for a burst of new connections. With the
    default (5), a function opening a wave of more parallel connections than
    that overflows the accept queue: the kernel drops the extra SYNs and the
    client sends them again after its 1 s retransmission timeout, which the
    recording would charge to the function as a request started 1 s late."""

    request_queue_size = 1024
    daemon_threads = True


class Proxy:
    """Listens on a free loopback port; `url` is what AWS_ENDPOINT_URL gets."""

    def __init__(self, upstream_port):
        self.recording = Recording()
        self.server = ProxyServer(("127.0.0.1", 0), handler_for("127.0.0.1", upstream_port, self.recording))
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
