"""The side-by-side benchmark: guardduty-responder and Cloud Custodian's guard-duty mode.

Both run against one AWS emulator, through one recording proxy, on resources
seeded the same way, with the same findings, in one run:

* ours: each function's release binary started as a Lambda sandbox by the
  Runtime API in lambda_probe.py (cold init, first and warm invocation, peak RSS);
* the peer: c7n's packaged policy Lambda, imported and called in a fresh
  Python process by peer_lambda.py.

Every scenario runs RUNS times without added latency and RUNS times with a
fixed latency per request (the proxy sleeps before forwarding), so parallel
requests show in the time to contain. After each run the emulator's state is
read to say whether the resource was actually contained. Medians are printed
as Markdown tables and, with --write, written to BENCHMARKS.md.

Then the burst (once): BURST findings on as many instances in one VPC, then
on as many IAM users, handed at once to BURST_CONCURRENCY sandboxes of each
side, with the proxy throttling as AWS does (proxy.Throttle). It reports
when the first and the last resource were contained, the requests and the
throttling it cost, and every finding neither contained nor reported (lost).

With --plots, SVG plots (svg.py) of the requests of one finding per side and
of the burst's containment over time are written there and linked from the
report.

Usage (make bench builds the binaries and packages first):
  python bench/run.py --bin-dir DIR --peer-python PY [--zip-dir DIR] [--runs 5]
                      [--latency-ms 25] [--burst 100] [--burst-concurrency 10]
                      [--throttle-scale 1] [--plots bench/plots] [--write BENCHMARKS.md]
--runs 0 skips the single-finding scenarios; --burst 0 skips the burst.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lambda_probe import run_function, run_pool  # noqa: E402
from proxy import Proxy, Throttle, serial_depths  # noqa: E402
import svg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The burst's token buckets refill at this fraction of AWS's rates
# (--throttle-scale). As documented: a burst of 100 instances drains EC2's
# ModifyNetworkInterfaceAttribute bucket on the emulator as it is (four
# calls an instance against 100 tokens and 5 a second), so no scaling is
# needed for the burst to meet throttling. On AWS the same burst would run
# faster and meet more of it.
DEFAULT_THROTTLE_SCALE = 1.0
ACCOUNT = "123456789012"
# This machine's single CA bundle (the template points SSL_CERT_FILE at the
# runtime image's own).
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
FUNCTIONS = [
    "quarantine-instance",
    "disable-iam-user",
    "revoke-role-sessions",
    "restore-cloudtrail",
    "notify-finding",
    "check-posture",
]
# The requests that contain each kind of resource: the last of them to finish
# is the moment of containment.
CONTAINING = {
    "ec2": {"ModifyNetworkInterfaceAttribute"},
    "user": {"UpdateAccessKey", "DeleteLoginProfile", "PutUserPolicy", "AttachUserPolicy"},
    "role": {"PutRolePolicy"},
    "trail": {"StartLogging"},
}


def fixture(name):
    with open(os.path.join(ROOT, "events", name), encoding="utf-8") as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(work):
    port = free_port()
    log = open(os.path.join(work, "emulator.log"), "wb")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "emulator", "moto_emulator.py"), str(port)],
        env=dict(os.environ, EMULATOR_PARENT_PID=str(os.getpid())),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).read()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise SystemExit(f"the AWS emulator did not start; its log is {log.name}")


class World:
    """Seeds and inspects resources directly on the emulator (not through the proxy)."""

    def __init__(self, endpoint):
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.ec2 = session.client("ec2", endpoint_url=endpoint)
        self.iam = session.client("iam", endpoint_url=endpoint)
        self.sns = session.client("sns", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.cloudtrail = session.client("cloudtrail", endpoint_url=endpoint)
        self.serial = 0

    def name(self, prefix):
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def network(self):
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        web = self.ec2.create_security_group(GroupName=self.name("web"), Description="web", VpcId=vpc)["GroupId"]
        app = self.ec2.create_security_group(GroupName=self.name("app"), Description="app", VpcId=vpc)["GroupId"]
        return {"vpc": vpc, "subnet": subnet, "groups": [web, app]}

    def deny_all_group(self, net):
        group = self.ec2.create_security_group(GroupName=self.name("isolation"), Description="deny all", VpcId=net["vpc"])["GroupId"]
        self.ec2.revoke_security_group_egress(
            GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        return group

    def instance(self, net):
        """An instance whose primary ENI has two groups, with a second ENI and a volume."""
        instance = self.ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=net["subnet"],
            SecurityGroupIds=net["groups"],
        )["Instances"][0]["InstanceId"]
        eni = self.ec2.create_network_interface(SubnetId=net["subnet"], Groups=net["groups"][:1])["NetworkInterface"]
        self.ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance, DeviceIndex=1)
        return instance

    def instances(self, net, count):
        """`count` instances seeded as `instance` seeds one, on a subnet of
        their own in the same VPC (a /24 holds too few addresses for a burst).
        Returns the instances and that subnet."""
        vpc = net["vpc"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{16 * (1 + self.serial % 15)}.0/20")["Subnet"]["SubnetId"]
        self.serial += 1
        found = self.ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=count,
            MaxCount=count,
            InstanceType="t3.micro",
            SubnetId=subnet,
            SecurityGroupIds=net["groups"],
        )["Instances"]
        instances = [i["InstanceId"] for i in found]
        for instance in instances:
            eni = self.ec2.create_network_interface(SubnetId=subnet, Groups=net["groups"][:1])["NetworkInterface"]
            self.ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance, DeviceIndex=1)
        return instances, subnet

    def enis_by_instance(self, subnet):
        """{instance: {eni: sorted groups}} for every attached ENI of a subnet, in one describe."""
        out = {}
        pages = self.ec2.get_paginator("describe_network_interfaces").paginate(Filters=[{"Name": "subnet-id", "Values": [subnet]}])
        for page in pages:
            for e in page["NetworkInterfaces"]:
                instance = (e.get("Attachment") or {}).get("InstanceId")
                if instance:
                    out.setdefault(instance, {})[e["NetworkInterfaceId"]] = sorted(g["GroupId"] for g in e["Groups"])
        return out

    def enis(self, instance):
        found = self.ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance]}])
        return {e["NetworkInterfaceId"]: sorted(g["GroupId"] for g in e["Groups"]) for e in found["NetworkInterfaces"]}

    def isolated(self, instance, isolation_groups):
        enis = self.enis(instance)
        wrong = {eni: groups for eni, groups in enis.items() if len(groups) != 1 or groups[0] not in isolation_groups}
        if not enis:
            return False, "no network interface found"
        if wrong:
            return False, f"{len(wrong)} of {len(enis)} ENIs not on the isolation group ({json.dumps(wrong)})"
        return True, f"{len(enis)} of {len(enis)} ENIs on the isolation group only"

    def our_isolation_groups(self, role="isolation"):
        found = self.ec2.describe_security_groups(Filters=[{"Name": "tag:guardduty-responder:group", "Values": [role]}])
        return {g["GroupId"] for g in found["SecurityGroups"]}

    def user(self):
        user = self.name("bench-user")
        self.iam.create_user(UserName=user)
        keys = [self.iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"] for _ in range(2)]
        self.iam.create_login_profile(UserName=user, Password="Correct-Horse-9-Battery")
        return user, keys

    def user_contained(self, user, key):
        keys = {k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
        problems = []
        if keys.get(key) != "Inactive":
            problems.append(f"finding's key {keys.get(key)}")
        try:
            self.iam.get_login_profile(UserName=user)
            problems.append("console login remains")
        except self.iam.exceptions.NoSuchEntityException:
            pass
        inline = self.iam.list_user_policies(UserName=user)["PolicyNames"]
        attached = self.iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
        if not inline and not attached:
            problems.append("no deny policy")
        other = sum(1 for k, s in keys.items() if k != key and s == "Active")
        detail = f"other keys active: {other}"
        return (False, "; ".join(problems) + f"; {detail}") if problems else (True, f"key inactive, no console login, deny policy; {detail}")

    def role(self):
        role = self.name("bench-role")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        self.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        return role

    def role_contained(self, role):
        names = self.iam.list_role_policies(RoleName=role)["PolicyNames"]
        ok = "AWSRevokeOlderSessions" in names
        return ok, "older sessions denied" if ok else "no revocation policy"

    def trail(self):
        name = self.name("bench-trail")
        self.s3.create_bucket(Bucket=name)
        self.cloudtrail.create_trail(Name=name, S3BucketName=name)
        self.cloudtrail.start_logging(Name=name)
        self.cloudtrail.stop_logging(Name=name)
        return name

    def trail_contained(self, name):
        ok = self.cloudtrail.get_trail_status(Name=name)["IsLogging"]
        return ok, "logging" if ok else "still off"


def generic(message):
    """A message with its resource ids, user names, keys and finding ids
    blanked out, so that the same failure on many resources counts once."""
    message = re.sub(r"\b(i|eni|sg|vol|snap|ami|vpc|subnet)-[0-9a-f]{8,17}\b", r"\1-…", message)
    message = re.sub(r"\b(AKIA|ASIA)[A-Z0-9]{12,20}\b", "AKIA…", message)
    message = re.sub(r"\bbench-user-\d+\b", "bench-user-…", message)
    message = re.sub(r"\b[0-9a-f]{32}\b", "…", message)
    return message


def our_answer(kind, body):
    """What one of our invocations answered: its outcome, and whether it
    reported a failure (a failed or partial report, or an error Lambda
    retries), with the first failed step."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    report, message = parsed, ""
    if kind == "error":
        # A retryable error carries the report so far after its message.
        message = parsed.get("errorMessage", body)
        try:
            report = json.loads(message[message.index("{") :])
        except ValueError:
            report = {}
    outcome = report.get("outcome", "?")
    reported = kind == "error" or outcome in ("failed", "partial")
    failed = [s for s in report.get("steps") or [] if s.get("status") == "failed"]
    if not reported:
        return {"outcome": outcome, "reported": False, "message": "", "failed_steps": [s.get("action") for s in failed]}
    what = f'{failed[0].get("action")}: {failed[0].get("detail")}' if failed else report.get("reason") or message[:200]
    head = f'{parsed.get("errorType", "error")} ({outcome})' if kind == "error" else outcome
    return {
        "outcome": "error" if kind == "error" else outcome,
        "reported": True,
        "message": f"{head}, {len(failed)} failed steps, first {what}"[:300],
        "failed_steps": [s.get("action") for s in failed],
    }


def ms(a, b):
    return None if a is None or b is None else (b - a) * 1000


def window(records, start, end):
    return [r for r in records if r["start"] >= start and r["end"] <= end + 0.001]


def busy_time(records, start, end):
    """How long, between start and end, at least one request was in flight."""
    spans = sorted((max(r["start"], start), min(r["end"], end)) for r in records if r["end"] > start and r["start"] < end)
    total, cur_start, cur_end = 0.0, None, None
    for a, b in spans:
        if cur_end is None or a > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def analyse(records, spawn, kind, first_key=None, invoked=None, init_ms=None, latency_ms=25):
    """Requests, serial round trips, spawn to contained, and the depth of the finding's own key/role.

    `modeled_ms` is spawn to contained on an endpoint that answers every
    request in `latency_ms`, in parallel: cold init, plus the tool's own
    time on the way (the time no request was in flight), plus one latency
    per serial round trip. It takes out the emulator, which serves one
    request at a time and so queues parallel requests.
    """
    ordered = serial_depths(records)
    containing = [r for r in ordered if r["action"] in CONTAINING.get(kind, ())]
    contained_at = max((r["end"] for r in containing), default=None)
    depth = max((r["depth"] for r in containing), default=None)
    modeled = None
    if contained_at is not None and invoked is not None and init_ms is not None and depth:
        own = (contained_at - invoked) - busy_time(ordered, invoked, contained_at)
        modeled = init_ms + own * 1000 + depth * latency_ms
    first = None
    if kind == "user":
        first = min((r["depth"] for r in containing if r["action"] == "UpdateAccessKey" and r["params"].get("AccessKeyId") == first_key), default=None)
    elif kind == "role":
        first = min((r["depth"] for r in containing), default=None)
    served = [r["end"] - r["forwarded"] for r in ordered]
    origin = invoked if invoked is not None else spawn
    return {
        "requests": len(ordered),
        # Requests sent before the resource was contained: those that started
        # before the last containing request ended.
        "to_contained": sum(1 for r in ordered if r["start"] < contained_at) if contained_at is not None else None,
        # The emulator's own time per request (it serves one at a time).
        "emulator_ms": statistics.median(served) * 1000 if served else None,
        "round_trips": max((r["depth"] for r in ordered), default=0),
        "contain_depth": depth,
        "contained_ms": ms(spawn, contained_at),
        "modeled_ms": modeled,
        "first_action_depth": first,
        "actions": [f'{r["depth"]}:{r["service"]}:{r["action"]}' for r in ordered],
        # For the timeline plots: each request's start and end in seconds
        # since the invocation was handed its event, and the containment.
        "timeline": [[r["start"] - origin, r["end"] - origin, r["depth"], f'{r["service"]}:{r["action"]}'] for r in ordered],
        "contained_at": contained_at - origin if contained_at is not None else None,
    }


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.emulator, self.port = start_emulator(work)
        self.proxy = Proxy(self.port)
        self.world = World(f"http://127.0.0.1:{self.port}")
        self.results = []
        self.bursts = []
        self.burst_subnet = None
        self.detector = None
        self.run_index = None
        self.peer_group = None
        self.seed_shared()

    def seed_shared(self):
        """What every run shares: the topic, a VPC with both sides' isolation groups, the deny policy."""
        self.topic = self.world.sns.create_topic(Name="security-alerts")["TopicArn"]
        self.net = self.world.network()
        old_group, self.peer_group = self.peer_group, self.world.deny_all_group(self.net)
        deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
        self.deny_arn = self.world.iam.create_policy(PolicyName="custodian-deny-all", PolicyDocument=json.dumps(deny))["Policy"]["Arn"]
        if old_group:
            # The peer's policy names its isolation group: point it at this run's.
            config = os.path.join(self.work, "peer", "ec2-quarantine", "config.json")
            with open(config) as f:
                text = f.read()
            with open(config, "w") as f:
                f.write(text.replace(old_group, self.peer_group))

    def fresh_world(self):
        """Empties the emulator and seeds the shared part again, so every run
        meets the same, small emulator (its calls slow down as state piles up)."""
        self.detector = None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        self.seed_shared()
        self.warm_up()

    # --- ours -------------------------------------------------------------

    def registered(self, events):
        """Each finding event with an id of its own, registered with the
        emulator's GuardDuty: the functions confirm every finding there before
        they change anything, as they do on AWS."""
        out = []
        for text in events:
            event = json.loads(text)
            if event.get("source") == "aws.guardduty":
                self.findings = getattr(self, "findings", 0) + 1
                event["detail"]["id"] = f"{event['detail']['id'][:20]}{self.findings:012x}"
                request = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}/moto-api/static/guardduty/findings",
                    data=json.dumps(event).encode(),
                    method="POST",
                    headers={"Content-Type": "text/plain"},
                )
                answer = urllib.request.urlopen(request, timeout=30).read()
                # The emulator's detector, named to the functions as a
                # deployment names it (the GuardDutyDetectorId parameter).
                self.detector = json.loads(answer or b"{}").get("detectorId") or self.detector
            out.append(json.dumps(event))
        return out

    def our_env(self):
        env = dict(CREDENTIALS, AWS_ENDPOINT_URL=self.proxy.url, NOTIFY_TOPIC_ARN=self.topic, AWS_EC2_METADATA_DISABLED="true")
        if self.detector:
            env["GUARDDUTY_DETECTOR_ID"] = self.detector
        # As the template sets it on Lambda: the one CA bundle, no directory scan.
        if os.path.exists(CA_BUNDLE):
            env["SSL_CERT_FILE"] = CA_BUNDLE
        return env

    def peer_env(self):
        return dict(os.environ, **CREDENTIALS, AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=self.proxy.url, AWS_EC2_METADATA_DISABLED="true")

    def ours(self, function, events, latency, kind=None, check=None, first_key=None, label=None):
        events = self.registered(events)
        env = self.our_env()
        self.proxy.recording.clear(latency / 1000)
        log = os.path.join(self.work, f"{function}.log")
        out = run_function(os.path.join(self.args.bin_dir, function), [e.encode() for e in events], env, log_path=log)
        records = self.proxy.recording.snapshot()
        invocations = out["invocations"]
        if out["init_error"]:
            raise SystemExit(f"{function} failed its init: {out['init_error']} (log: {log})")
        first = invocations[0]
        bodies = [json.loads(i["body"]) if i.get("kind") == "response" else {"error": i.get("body")} for i in invocations]
        row = {
            "side": "ours",
            "scenario": label or function,
            "run": self.run_index,
            "latency": latency,
            "init_ms": ms(out["spawn"], out["first_poll"]),
            "first_ms": ms(first["handed"], first["answered"]),
            "warm_ms": ms(invocations[1]["handed"], invocations[1]["answered"]) if len(invocations) > 1 else None,
            "done_ms": ms(out["spawn"], first["answered"]),
            "rss_kb": out["rss_kb"],
            "outcome": bodies[0].get("outcome") or bodies[0].get("error", "?")[:200],
            # The playbook's own requests: those of the invocation (init's
            # identity call happens before the event arrives).
            **analyse(
                window(records, first["handed"], first["answered"]),
                out["spawn"],
                kind,
                first_key,
                first["handed"],
                ms(out["spawn"], out["first_poll"]),
                self.args.latency_ms,
            ),
            "init_requests": len(window(records, out["spawn"], out["first_poll"])),
        }
        if check:
            row["contained"], row["state"] = check()
        self.results.append(row)
        return row

    # --- the peer ---------------------------------------------------------

    def peer(self, policy, events, latency, kind, check, first_key=None, label=None):
        env = self.peer_env()
        paths = []
        for n, event in enumerate(events):
            path = os.path.join(self.work, f"peer-event-{n}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(event)
            paths.append(path)
        self.proxy.recording.clear(latency / 1000)
        log = open(os.path.join(self.work, f"peer-{policy}.log"), "ab")
        spawn = time.monotonic()
        done = subprocess.run(
            [self.args.peer_python, os.path.join(ROOT, "bench", "peer_lambda.py"), "invoke", os.path.join(self.work, "peer", policy), *paths],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=300,
        )
        if done.returncode != 0:
            raise SystemExit(f"the peer's Lambda process failed (log: {log.name})")
        out = json.loads(done.stdout.decode().strip().splitlines()[-1])
        records = self.proxy.recording.snapshot()
        first = out["invocations"][0]
        warm = out["invocations"][1] if len(out["invocations"]) > 1 else None
        row = {
            "side": "peer",
            "scenario": label or policy,
            "run": self.run_index,
            "latency": latency,
            "init_ms": ms(spawn, out["marks"]["ready"]),
            "first_ms": ms(first["start"], first["end"]),
            "warm_ms": ms(warm["start"], warm["end"]) if warm else None,
            "done_ms": ms(spawn, first["end"]),
            "rss_kb": out["rss_kb"],
            "outcome": first["error"] or "returned",
            **analyse(
                window(records, first["start"], first["end"]),
                spawn,
                kind,
                first_key,
                first["start"],
                ms(spawn, out["marks"]["ready"]),
                self.args.latency_ms,
            ),
            "init_requests": len(window(records, spawn, first["start"])),
        }
        row["contained"], row["state"] = check()
        self.results.append(row)
        return row

    def package_peer(self):
        net_group = self.peer_group
        notify = {"type": "notify", "to": ["security-team@example.com"], "subject": "GuardDuty finding", "transport": {"type": "sns", "topic": self.topic}}
        mode = {"type": "guard-duty", "role": f"arn:aws:iam::{ACCOUNT}:role/custodian-guard-duty"}
        policies = {
            "policies": [
                {
                    "name": "ec2-quarantine",
                    "resource": "ec2",
                    "mode": mode,
                    "actions": [
                        {"type": "modify-security-groups", "isolation-group": net_group, "remove": "all"},
                        {"type": "snapshot"},
                        {"type": "tag", "key": "quarantine", "value": "guardduty"},
                        notify,
                    ],
                },
                {
                    "name": "iam-user-disable",
                    "resource": "iam-user",
                    "mode": mode,
                    "actions": [
                        {"type": "remove-keys", "disable": True},
                        {"type": "delete", "options": ["console-access"]},
                        {"type": "set-policy", "state": "attached", "arn": self.deny_arn},
                        notify,
                    ],
                },
            ]
        }
        folder = os.path.join(self.work, "peer")
        os.makedirs(folder)
        policy_file = os.path.join(folder, "policies.json")
        with open(policy_file, "w") as f:
            json.dump(policies, f, indent=2)
        done = subprocess.run([self.args.peer_python, os.path.join(ROOT, "bench", "peer_lambda.py"), "package", policy_file, folder], stdout=subprocess.PIPE, check=True)
        self.peer_zips = json.loads(done.stdout)
        self.peer_policies = policies

    # --- scenarios --------------------------------------------------------

    def ec2_events(self, net, count=2):
        instances = [self.world.instance(net) for _ in range(count)]
        events = [fixture("ec2-cryptocurrency-bitcointool-high.json").replace("i-0a1b2c3d4e5f67890", i) for i in instances]
        return instances, events

    def user_events(self, count=2):
        users = [self.world.user() for _ in range(count)]
        text = fixture("iam-user-malicious-ip-caller.json")
        return users, [text.replace("ci-deployer", u).replace("AKIA2EXAMPLEKEY7QXK3", keys[0]) for u, keys in users]

    def run_once(self, latency):
        w = self.world
        # Containment of an instance when the isolation group exists already.
        (a, _), events = self.ec2_events(self.net)
        self.ours("quarantine-instance", events, latency, "ec2", lambda: w.isolated(a, w.our_isolation_groups()), label="ec2")
        # ... and when this VPC has none yet (ours creates it; the peer cannot).
        net = w.network()
        (b,), events = self.ec2_events(net, 1)
        self.ours("quarantine-instance", events, latency, "ec2", lambda: w.isolated(b, w.our_isolation_groups()), label="ec2-new-vpc")
        (c, _), events = self.ec2_events(self.net)
        self.peer("ec2-quarantine", events, latency, "ec2", lambda: w.isolated(c, {self.peer_group}), label="ec2")

        users, events = self.user_events()
        (user, keys) = users[0]
        self.ours("disable-iam-user", events, latency, "user", lambda: w.user_contained(user, keys[0]), keys[0], label="iam-user")
        for policy, label in (("iam-user-disable", "iam-user"), ("iam-user-disable-fixed", "iam-user (c7n with a one-line fix)")):
            peer_users, events = self.user_events()
            (p_user, p_keys) = peer_users[0]
            self.peer(policy, events, latency, "user", lambda: w.user_contained(p_user, p_keys[0]), p_keys[0], label=label)

        roles = [w.role() for _ in range(2)]
        text = fixture("iam-role-malicious-ip-caller.json")
        self.ours("revoke-role-sessions", [text.replace("data-pipeline", r) for r in roles], latency, "role", lambda: w.role_contained(roles[0]), label="iam-role")

        trails = [w.trail() for _ in range(2)]
        text = fixture("cloudtrail-logging-disabled.json")
        self.ours("restore-cloudtrail", [text.replace('"management-events"', f'"{t}"') for t in trails], latency, "trail", lambda: w.trail_contained(trails[0]), label="cloudtrail")

        medium = fixture("ec2-recon-port-probe-medium.json")
        self.ours("notify-finding", [medium, medium], latency, label="notify")
        schedule = json.dumps({"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT, "time": "2026-11-29T00:00:00Z", "region": REGION, "resources": [], "detail": {}})
        self.ours("check-posture", [schedule, schedule], latency, label="posture")

    # --- the burst ----------------------------------------------------------

    def burst_world(self, kind, count):
        """A fresh emulator with `count` instances (one VPC, the isolation
        groups in place) or `count` users with keys; each side gets its own,
        seeded the same way. Returns the resources and one finding event each."""
        self.fresh_world()
        w = self.world
        if kind == "ec2":
            instances, self.burst_subnet = w.instances(self.net, count)
            text = fixture("ec2-cryptocurrency-bitcointool-high.json")
            events = [text.replace("i-0a1b2c3d4e5f67890", i) for i in instances]
            return instances, events
        users = [w.user() for _ in range(count)]
        text = fixture("iam-user-malicious-ip-caller.json")
        events = [text.replace("ci-deployer", u).replace("AKIA2EXAMPLEKEY7QXK3", keys[0]) for u, keys in users]
        return users, events

    def burst_state(self, kind, resources, side):
        """Which resources the emulator shows contained, read after the burst;
        for instances also which instance each ENI belongs to, and where the
        ENIs ended (how many on which kind of group)."""
        w = self.world
        if kind == "ec2":
            groups = w.our_isolation_groups() if side.startswith("ours") else {self.peer_group}
            enis = w.enis_by_instance(self.burst_subnet)
            untrack = w.our_isolation_groups("untrack")
            state, where = {}, {}
            for instance in resources:
                found = enis.get(instance, {})
                state[instance] = bool(found) and all(len(g) == 1 and g[0] in groups for g in found.values())
                for g in found.values():
                    # Where each ENI ended: the allow-all step of ours is
                    # more open than the ENI was before.
                    if len(g) == 1 and g[0] in groups:
                        place = "isolation group"
                    elif set(g) & untrack:
                        place = "allow-all group"
                    elif set(g) <= set(self.net["groups"]):
                        place = "its own groups"
                    else:
                        place = "mixed"
                    where[place] = where.get(place, 0) + 1
            return state, {eni: i for i, found in enis.items() for eni in found}, where
        return {user: w.user_contained(user, keys[0])[0] for user, keys in resources}, {}, {}

    def burst_ours(self, kind, count, concurrency, scale, side="ours", env=None):
        function = "quarantine-instance" if kind == "ec2" else "disable-iam-user"
        resources, events = self.burst_world(kind, count)
        events = self.registered(events)
        throttle = Throttle(scale)
        self.proxy.recording.clear(0, throttle)
        log = os.path.join(self.work, f"burst-{function}.log")
        out = run_pool(os.path.join(self.args.bin_dir, function), [e.encode() for e in events], concurrency, dict(self.our_env(), **(env or {})), log_path=log, timeout=900)
        records = self.proxy.recording.snapshot()
        self.proxy.recording.clear()
        errors = [s["init_error"] for s in out["sandboxes"] if s["init_error"]]
        if errors:
            raise SystemExit(f"{function} failed its init in the burst: {errors[0]} (log: {log})")
        answers = []
        for i in out["invocations"]:
            answers.append(our_answer(i.get("kind"), i.get("body") or ""))
        inits = [ms(s["spawn"], s["first_poll"]) for s in out["sandboxes"]]
        return self.burst_result(side, kind, resources, out["spawn"], out["invocations"], answers, records, concurrency, scale, inits)

    def burst_peer(self, kind, count, concurrency, scale):
        policy = "ec2-quarantine" if kind == "ec2" else "iam-user-disable-fixed"
        resources, events = self.burst_world(kind, count)
        folder = os.path.join(self.work, f"burst-peer-{kind}")
        os.makedirs(folder, exist_ok=True)
        paths = []
        for n, event in enumerate(events):
            path = os.path.join(folder, f"event-{n}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(event)
            paths.append(path)
        # Each of the K sandboxes takes every K-th event, one after another.
        shares = [list(range(k, len(paths), concurrency)) for k in range(concurrency)]
        shares = [s for s in shares if s]
        env = self.peer_env()
        throttle = Throttle(scale)
        self.proxy.recording.clear(0, throttle)
        procs, logs = [], []
        command = [self.args.peer_python, os.path.join(ROOT, "bench", "peer_lambda.py"), "invoke", os.path.join(self.work, "peer", policy)]
        start = time.monotonic()
        for k, share in enumerate(shares):
            logs.append(open(os.path.join(folder, f"sandbox-{k}.log"), "ab"))
            procs.append((subprocess.Popen(command + [paths[n] for n in share], env=env, stdout=subprocess.PIPE, stderr=logs[-1]), share, time.monotonic()))
        invocations = [{} for _ in events]
        answers = [None] * len(events)
        inits = []
        for k, (proc, share, spawned) in enumerate(procs):
            stdout, _ = proc.communicate(timeout=900)
            if proc.returncode != 0:
                raise SystemExit(f"a peer sandbox failed in the burst (log: {folder}/sandbox-{k}.log)")
            out = json.loads(stdout.decode().strip().splitlines()[-1])
            inits.append(ms(spawned, out["marks"]["ready"]))
            for n, inv in zip(share, out["invocations"]):
                invocations[n] = {"handed": inv["start"], "answered": inv["end"], "sandbox": k}
                answers[n] = {"outcome": "error" if inv["error"] else "returned", "reported": bool(inv["error"]), "message": inv["error"] or ""}
        records = self.proxy.recording.snapshot()
        self.proxy.recording.clear()
        for log in logs:
            log.close()
        return self.burst_result("peer", kind, resources, start, invocations, answers, records, len(procs), scale, inits)

    def burst_result(self, side, kind, resources, start, invocations, answers, records, concurrency, scale, inits):
        state, eni_owner, eni_places = self.burst_state(kind, resources, side)
        names = resources if kind == "ec2" else [u for u, _ in resources]
        # Containment per resource: the end of its last containing request
        # that the service accepted.
        contained_at = {}
        for r in records:
            if r.get("throttled") or r["status"] >= 400 or r["action"] not in CONTAINING["ec2" if kind == "ec2" else "user"]:
                continue
            owner = eni_owner.get(r["params"].get("NetworkInterfaceId")) if kind == "ec2" else r["params"].get("UserName")
            if owner is not None:
                contained_at[owner] = max(contained_at.get(owner, 0.0), r["end"])
        times = sorted(contained_at[name] - start for name in names if state[name] and name in contained_at)
        contained = sum(1 for name in names if state[name])
        reported = sum(1 for name, a in zip(names, answers) if a and a["reported"])
        lost = [name for name, a in zip(names, answers) if not state[name] and not (a and a["reported"])]
        # Resources the function reported contained that the emulator shows are not.
        claimed = sum(1 for name, a in zip(names, answers) if a and a["outcome"] == "contained" and not state[name])
        throttled = [r for r in records if r.get("throttled")]
        later_ok = {}
        for r in records:
            if not r.get("throttled") and r["status"] < 400:
                k = (r["service"], r["action"], r.get("key"))
                later_ok[k] = max(later_ok.get(k, 0.0), r["end"])
        throttled_requests = {}
        for r in throttled:
            k = (r["service"], r["action"], r.get("key"))
            throttled_requests[k] = max(throttled_requests.get(k, 0.0), r["end"])
        retried = sum(1 for k, last in throttled_requests.items() if later_ok.get(k, 0.0) > last)
        answered = [i["answered"] for i in invocations if i.get("answered") is not None]
        outcomes, messages, failed_steps = {}, {}, {}
        for a in answers:
            if a is None:
                continue
            outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
            for step in a.get("failed_steps") or ():
                failed_steps[step] = failed_steps.get(step, 0) + 1
            if a["message"]:
                m = generic(a["message"])
                messages[m] = messages.get(m, 0) + 1
        by_action = {}
        for r in throttled:
            label = f'{r["service"]}:{r["action"]}'
            by_action[label] = by_action.get(label, 0) + 1
        result = {
            "side": side,
            "kind": kind,
            "n": len(names),
            "concurrency": concurrency,
            "scale": scale,
            "init_ms": inits,
            "contained": contained,
            "contained_s": times,
            "first_s": times[0] if times else None,
            "last_s": times[-1] if times else None,
            "done_s": max(answered) - start if answered else None,
            "requests": len(records),
            "throttled": len(throttled),
            "throttled_requests": len(throttled_requests),
            "retried": retried,
            "throttled_by_action": dict(sorted(by_action.items(), key=lambda kv: -kv[1])),
            "reported": reported,
            "lost": len(lost),
            "lost_resources": lost[:10],
            "claimed_not_contained": claimed,
            "eni_places": eni_places,
            "outcomes": outcomes,
            "failed_steps": dict(sorted(failed_steps.items(), key=lambda kv: (-kv[1], kv[0]))),
            "messages": dict(sorted(messages.items(), key=lambda kv: -kv[1])[:10]),
        }
        self.bursts.append(result)
        return result

    def warm_up(self):
        """One unmeasured quarantine creates this VPC's isolation groups, as any earlier response would have."""
        _, events = self.ec2_events(self.net, 1)
        self.ours("quarantine-instance", events, 0, "ec2", label="warm-up")
        self.results = [r for r in self.results if r["scenario"] != "warm-up"]

    def close(self):
        self.proxy.close()
        self.emulator.kill()


# --- report ----------------------------------------------------------------


def med(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value, unit="", digits=0):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def ratio(ours, peer):
    if ours in (None, 0) or peer is None:
        return "n/a"
    return f"{peer / ours:.1f}×"


# Ours, first invocation: at most this many requests started before the
# resource is contained, and this many serial round trips to contain it.
TO_CONTAINED = {"ec2": (12, 4), "iam-user": (8, 3)}


def every_run_init(scenario, ours_rows, peer_rows):
    """The cold-init target holds in every run, not only in the median: each
    run's init of ours against the peer's in the same run (the runs without
    added latency), the worst pair reported; also our slowest init against
    the peer's fastest, a bound that no pairing can fall under."""
    peer_by_run = {r["run"]: r["init_ms"] for r in peer_rows if r.get("init_ms")}
    pairs = [(peer_by_run[r["run"]] / r["init_ms"]) for r in ours_rows if r.get("init_ms") and r["run"] in peer_by_run]
    name = f"{scenario} cold init ≥ 25× in every run"
    if not pairs:
        return (name, False, "n/a")
    worst = min(pairs)
    bound = min(peer_by_run.values()) / max(r["init_ms"] for r in ours_rows if r.get("init_ms"))
    return (name, worst >= 25, f"worst run {worst:.1f}× of {len(pairs)} runs, each paired with the peer's same run (our slowest against its fastest: {bound:.1f}×; target ≥ 25×)")


def single_tables(results, args, zips, peer_zips):
    """The single-finding scenarios: the side-by-side and per-function tables,
    their target checks, and the critical paths."""
    lines = []
    pick = lambda side, scenario, latency: [r for r in results if r["side"] == side and r["scenario"] == scenario and r["latency"] == latency]
    lat = args.latency_ms
    deep = args.depth_latency_ms

    lines.append(f"### Side by side (median of {args.runs} runs; +{lat} ms = that latency added to every request)\n")
    lines.append("| measure | guardduty-responder | Cloud Custodian | peer ÷ ours | target |")
    lines.append("|---|---|---|---|---|")
    checks = []
    for scenario, peer_scenario, zip_ours, zip_peer in (
        ("ec2", "ec2", "quarantine-instance", "ec2-quarantine"),
        ("iam-user", "iam-user", "disable-iam-user", "iam-user-disable"),
    ):
        o0, p0 = pick("ours", scenario, 0), pick("peer", peer_scenario, 0)
        ol, pl = pick("ours", scenario, lat), pick("peer", peer_scenario, lat)
        od = pick("ours", scenario, deep)
        fixed = pick("peer", "iam-user (c7n with a one-line fix)", 0) if scenario == "iam-user" else []
        fixed_l = pick("peer", "iam-user (c7n with a one-line fix)", lat) if scenario == "iam-user" else []
        fixed_d = pick("peer", "iam-user (c7n with a one-line fix)", deep) if scenario == "iam-user" else []
        timedd = fixed_d or pick("peer", peer_scenario, deep)
        timed0 = fixed or p0
        timedl = fixed_l or pl
        note = " (c7n fixed)" if fixed else ""
        oc, pc = all(r["contained"] for r in o0 + ol), all(r["contained"] for r in p0 + pl)
        lines.append(f"| **{scenario}**: contained in every run | {'yes' if oc else 'NO'} | {'yes' if pc else 'NO: ' + (p0 or pl)[0]['state'][:120] + ' / ' + (p0 or pl)[0]['outcome'][:80]} | | contained |")
        if fixed:
            fc = all(r["contained"] for r in fixed + fixed_l)
            lines.append(f"| {scenario}: contained, c7n with the one-line fix | | {'yes' if fc else 'NO: ' + fixed[0]['state'][:120]} | | |")
        rows = [
            ("cold init (spawn → ready)", "init_ms", o0, timed0, " ms", 1, "≥ 25× in every run"),
            ("first invocation", "first_ms", o0, timed0, " ms", 1, ""),
            ("warm invocation", "warm_ms", o0, timed0, " ms", 1, ""),
            ("spawn → contained", "contained_ms", o0, timed0, " ms", 1, "≥ 15×"),
            (f"spawn → contained, +{lat} ms", "contained_ms", ol, timedl, " ms", 1, "≥ 15×"),
            (f"spawn → done, +{lat} ms", "done_ms", ol, timedl, " ms", 1, ""),
            (f"spawn → contained, modeled: every request {lat} ms, in parallel", "modeled_ms", o0, timed0, " ms", 1, "≥ 15×"),
            ("API requests (first invocation)", "requests", od, timedd, "", 0, ""),
            ("API requests to contained (first invocation)", "to_contained", od, timedd, "", 0, f"≤ {TO_CONTAINED[scenario][0]}"),
            ("emulator time per request (median)", "emulator_ms", o0, timed0, " ms", 1, ""),
            ("serial round trips (all)", "round_trips", od, timedd, "", 0, ""),
            ("serial round trips to contained", "contain_depth", od, timedd, "", 0, f"≤ {TO_CONTAINED[scenario][1]}" + (" (group exists)" if scenario == "ec2" else "")),
        ]
        for title, key, ours_rows, peer_rows, unit, digits, target in rows:
            a, b = med(ours_rows, key), med(peer_rows, key)
            peer_note = note if peer_rows is not p0 and peer_rows is not pl else ""
            lines.append(f"| {scenario}: {title}{peer_note} | {fmt(a, unit, digits)} | {fmt(b, unit, digits)} | {ratio(a, b)} | {target} |")
            if key == "init_ms":
                checks.append(every_run_init(scenario, o0, timed0))
            elif target.startswith("≥") and a and b:
                checks.append((f"{scenario} {title}", b / a >= float(target.split()[1].rstrip("×")), f"{b / a:.1f}× (target {target})"))
        limit_requests, limit_depth = TO_CONTAINED[scenario]
        a, d = med(od, "to_contained"), med(od, "contain_depth")
        function = "quarantine-instance" if scenario == "ec2" else "disable-iam-user"
        checks.append((f"{scenario} requests to contained ({function})", a is not None and a <= limit_requests, f"{fmt(a)} (target ≤ {limit_requests})"))
        checks.append((f"{scenario} serial round trips to contained ({function})", d is not None and d <= limit_depth, f"{fmt(d)} (target ≤ {limit_depth})"))
        a, b = med(o0, "rss_kb"), med(timed0, "rss_kb")
        lines.append(f"| {scenario}: peak RSS | {fmt(a and a / 1024, ' MB', 1)} | {fmt(b and b / 1024, ' MB', 1)} | {ratio(a, b)} | ≤ ⅙ of peer, ≤ 15 MB |")
        if a and b:
            checks.append((f"{scenario} peak RSS", a * 6 <= b and a <= 15 * 1024, f"{a / 1024:.1f} MB vs {b / 1024:.1f} MB"))
        zo, zp = zips.get(zip_ours), peer_zips.get(zip_peer)
        lines.append(f"| {scenario}: zip (ours arm64) | {fmt(zo and zo / 1e6, ' MB', 2)} | {fmt(zp and zp / 1e6, ' MB', 2)} | {ratio(zo, zp)} | ≤ 5 MB |")
        if scenario == "ec2":
            created = pick("ours", "ec2-new-vpc", deep)
            depth = med(created, "contain_depth")
            lines.append(f"| ec2: serial round trips to contained, isolation group created | {fmt(depth)} | cannot (group must exist) | | ≤ 5 |")
            checks.append(("ec2 round trips, group created", (depth or 99) <= 5, fmt(depth)))
        else:
            first = med(od, "first_action_depth")
            lines.append(f"| iam-user: round trip that disables the finding's key | {fmt(first)} | {fmt(med(timedd, 'first_action_depth'))} | | 1 |")
            checks.append(("finding's key disabled in round trip 1", first == 1, fmt(first)))
    lines.append("")

    lines.append(f"### Every function of ours (median of {args.runs} runs)\n")
    lines.append(f"| function | scenario | cold init | first invocation | warm invocation | peak RSS | requests | serial round trips | spawn → done, +{lat} ms | arm64 zip | outcome | resource state |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    scenarios = [("quarantine-instance", "ec2"), ("quarantine-instance", "ec2-new-vpc"), ("disable-iam-user", "iam-user"), ("revoke-role-sessions", "iam-role"), ("restore-cloudtrail", "cloudtrail"), ("notify-finding", "notify"), ("check-posture", "posture")]
    for function, scenario in scenarios:
        r0, rl, rd = pick("ours", scenario, 0), pick("ours", scenario, lat), pick("ours", scenario, deep)
        if not r0:
            continue
        outcomes = sorted({r["outcome"] for r in r0 + rl})
        states = sorted({r.get("state", "") for r in r0 + rl} - {""})
        contained = [r["contained"] for r in r0 + rl if "contained" in r]
        zip_size = zips.get(function)
        lines.append(
            f"| {function} | {scenario} | {fmt(med(r0, 'init_ms'), ' ms', 1)} | {fmt(med(r0, 'first_ms'), ' ms', 1)} | {fmt(med(r0, 'warm_ms'), ' ms', 1)} "
            f"| {fmt(med(r0, 'rss_kb') and med(r0, 'rss_kb') / 1024, ' MB', 1)} | {fmt(med(rd, 'requests'))} | {fmt(med(rd, 'round_trips'))} | {fmt(med(rl, 'done_ms'), ' ms', 0)} "
            f"| {fmt(zip_size and zip_size / 1e6, ' MB', 2)} | {', '.join(outcomes)} | {('contained in every run; ' if contained and all(contained) else 'NOT contained in some runs; ' if contained else '') + '; '.join(states)[:160]} |"
        )
        if zip_size and not any(name == f"{function} zip ≤ 5 MB" for name, _, _ in checks):
            checks.append((f"{function} zip ≤ 5 MB", zip_size <= 5e6, f"{zip_size / 1e6:.2f} MB"))
    lines.append("")
    critical = [f"### Critical paths (the +{deep} ms pass; `round trip:service:action`)\n"]
    for side, scenario in (("ours", "ec2"), ("ours", "ec2-new-vpc"), ("peer", "ec2"), ("ours", "iam-user"), ("peer", "iam-user (c7n with a one-line fix)"), ("ours", "iam-role"), ("ours", "cloudtrail")):
        rows = pick(side, scenario, deep)
        if rows:
            critical.append(f"- {side} {scenario}: " + ", ".join(rows[0]["actions"]))
    critical.append("")
    return lines, checks, critical


BURST_KINDS = (("ec2", "instances", "quarantine-instance", "ec2-quarantine"), ("user", "IAM users", "disable-iam-user", "iam-user-disable with the one-line fix"))


def throttle_note(scale):
    factor = "refill unscaled" if scale == 1 else f"refill × {scale:g}"
    return f"throttled: EC2's documented token buckets; IAM and STS assumed (reads 100, +20/s; changes 50, +5/s); {factor}"


def burst_tables(bursts, args):
    """The burst: per kind and side, when resources were contained, what it
    cost in requests, the throttling met, and whether any finding was lost."""
    find = lambda kind, side: next((b for b in bursts if b["kind"] == kind and b["side"] == side), None)
    n = bursts[0]["n"]
    concurrency = bursts[0]["concurrency"]
    lines = [f"### Burst: {n} findings at once (one run, throttled as AWS)\n"]
    lines.append(
        f"{n} instances in one VPC, each with a two-group primary ENI and a second ENI (quarantine-instance; c7n `ec2-quarantine`), "
        f"then {n} IAM users with two keys and a password (disable-iam-user; c7n `iam-user-disable` with the one-line fix): "
        f"two bursts, each side on a fresh emulator with its own resources. {concurrency} sandboxes at once, each taking the next "
        f"event when it is free: the reserved concurrency an operator sets with the template's `ReservedConcurrency` parameter "
        f"(with none reserved, Lambda runs up to the account's unreserved concurrency). The proxy {throttle_note(bursts[0]['scale'])}. "
        f"Contained is read from the emulator after the burst; a resource's time is the end of its last accepted containing request.\n"
    )
    columns = [(kind, side) for kind, *_ in BURST_KINDS for side in ("ours", "ours-standard", "peer") if find(kind, side)]
    heads = {
        ("ec2", "ours"): "instances: guardduty-responder",
        ("ec2", "ours-standard"): "instances: ours, SDK standard retries",
        ("ec2", "peer"): "instances: Cloud Custodian",
        ("user", "ours"): "users: guardduty-responder",
        ("user", "ours-standard"): "users: ours, SDK standard retries",
        ("user", "peer"): "users: Cloud Custodian (fixed)",
    }
    lines.append("| measure | " + " | ".join(heads[c] for c in columns) + " |")
    lines.append("|---|" + "---|" * len(columns))

    def row(title, cell):
        values = []
        for kind, side in columns:
            b = find(kind, side)
            values.append(cell(b) if b else "n/a")
        lines.append(f"| {title} | " + " | ".join(values) + " |")

    row("findings / sandboxes at once", lambda b: f"{b['n']} / {b['concurrency']}")
    row("cold init of the sandboxes (slowest)", lambda b: fmt(max([i for i in b["init_ms"] if i is not None] or [None]) if b["init_ms"] else None, " ms", 0))
    row("contained (emulator state)", lambda b: f"{b['contained']} of {b['n']}")
    row("first contained", lambda b: fmt(b["first_s"], " s", 2))
    row("last contained", lambda b: fmt(b["last_s"], " s", 1))
    row("last invocation returned", lambda b: fmt(b["done_s"], " s", 1))
    row("requests", lambda b: fmt(b["requests"]))
    row("requests per containment", lambda b: fmt(b["requests"] / b["contained"], "", 1) if b["contained"] else "n/a (none contained)")
    row("throttling errors seen", lambda b: f"{b['throttled']:,} answers to {b['throttled_requests']:,} requests")
    row("throttled requests retried to success", lambda b: f"{b['retried']:,} of {b['throttled_requests']:,}")
    row("throttled actions", lambda b: ", ".join(f"{a} {c:,}" for a, c in list(b["throttled_by_action"].items())[:3]) or "none")
    row("ENIs after the burst", lambda b: ", ".join(f"{c} on {p}" for p, c in sorted(b["eni_places"].items(), key=lambda kv: -kv[1])) if b["eni_places"] else "")
    row("findings reported failed (failed, partial or error)", lambda b: fmt(b["reported"]))
    row("failed steps in the reports", lambda b: ", ".join(f"{a} {c}" for a, c in b.get("failed_steps", {}).items()) if b["side"].startswith("ours") else "")
    row("reported contained, emulator says not", lambda b: fmt(b["claimed_not_contained"]) if b["side"].startswith("ours") else "")
    row("**lost**: neither contained nor reported", lambda b: f"**{b['lost']}**")
    lines.append("")
    checks = []
    for kind, what, function, _ in BURST_KINDS:
        b = find(kind, "ours")
        if b:
            checks.append((f"burst: no {what[:-1] if what.endswith('s') else what} finding lost ({function}, {b['n']} at once)", b["lost"] == 0, f"{b['lost']} lost; {b['contained']} contained, {b['reported']} reported"))
    for kind, what, function, _ in BURST_KINDS:
        b = find(kind, "ours")
        if b and b["messages"]:
            lines.append(f"What {function} reported on the {what} it did not contain at once (count, message):\n")
            for message, count in list(b["messages"].items())[:3]:
                lines.append(f"- {count} × `{message[:220]}`")
            lines.append("")
    return lines, checks


def tables(results, bursts, args, zips, peer_zips, plots=()):
    """The generated part of the report, and every target check."""
    lines, checks, critical = single_tables(results, args, zips, peer_zips) if results else ([], [], [])
    if bursts:
        more, burst_checks = burst_tables(bursts, args)
        lines += more
        checks += burst_checks
    lines.append("### Targets\n")
    lines.append("| target | met | figure |")
    lines.append("|---|---|---|")
    for name, ok, figure in checks:
        lines.append(f"| {name} | {'yes' if ok else 'NO'} | {figure} |")
    lines.append("")
    lines += critical
    if plots:
        lines.append("### Plots\n")
        for alt, path in plots:
            lines.append(f"![{alt}]({path})\n")
    return "\n".join(lines), checks


def write_plots(results, bursts, args, folder, link_base):
    """Writes the SVGs into `folder`; returns (alt text, link) for each,
    the link relative to `link_base` (the report's folder)."""
    os.makedirs(folder, exist_ok=True)
    deep = args.depth_latency_ms
    first = lambda side, scenario: next((r for r in results if r["side"] == side and r["scenario"] == scenario and r["latency"] == deep), None)
    written = []

    def save(name, alt, content):
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        written.append((alt, os.path.relpath(path, link_base)))

    def mark(r):
        """The dashed line: containment, or only the last containing request when the emulator shows it did not hold."""
        if r["contained_at"] is None:
            return None
        if r.get("contained"):
            return r["contained_at"], f"contained, {r['contained_at']:.2f} s"
        return r["contained_at"], f"last containing request, {r['contained_at']:.2f} s: NOT contained"

    for scenario, peer_scenario, ours_name, peer_name in (
        ("ec2", "ec2", "quarantine-instance", "c7n ec2-quarantine"),
        ("iam-user", "iam-user (c7n with a one-line fix)", "disable-iam-user", "c7n iam-user-disable, with the one-line fix"),
    ):
        o, p = first("ours", scenario), first("peer", peer_scenario)
        if not o or not p:
            continue
        panels = [
            ("ours", f"guardduty-responder: {ours_name}, {len(o['timeline'])} requests, {o['round_trips']} round trips", o["timeline"], mark(o)),
            ("peer", f"Cloud Custodian: {peer_name}, {len(p['timeline'])} requests, {p['round_trips']} round trips", p["timeline"], mark(p)),
        ]
        title = f"{scenario}: the requests of one finding, by serial round trip"
        note = f"+{deep} ms added to every request, as in the round-trip pass; dashed: the end of the last containing request"
        save(f"timeline-{scenario}.svg", f"{scenario}: requests of one finding, ours and the peer", svg.timeline(title, panels, note))
    for kind, what, function, peer_name in BURST_KINDS:
        o, s_, p = (next((b for b in bursts if b["kind"] == kind and b["side"] == side), None) for side in ("ours", "ours-standard", "peer"))
        if not o or not p:
            continue
        series = [("ours", f"guardduty-responder ({function}): {o['contained']} of {o['n']} contained, {o['lost']} lost", o["contained_s"], o["done_s"])]
        if s_:
            series.append(("ours-standard", f"the same with the SDK's standard retries (3 attempts): {s_['contained']} of {s_['n']} contained, {s_['lost']} lost", s_["contained_s"], s_["done_s"]))
        series.append(("peer", f"Cloud Custodian ({peer_name}): {p['contained']} of {p['n']} contained, {p['lost']} lost", p["contained_s"], p["done_s"]))
        title = f"Burst: {o['n']} {what}, {o['concurrency']} sandboxes at once"
        save(f"burst-{'instances' if kind == 'ec2' else 'users'}.svg", f"burst of {o['n']} {what}: contained over time, ours and the peer", svg.containment(title, series, o["n"], throttle_note(o["scale"])))
    return written


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()} ({platform.machine()})"


def versions(args):
    def out(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        except OSError:
            return "?"

    import moto

    c7n = out([args.peer_python, "-c", "import importlib.metadata as m; print(m.version('c7n'))"])
    peer_py = out([args.peer_python, "--version"])
    return f"{out(['rustc', '--version'])}; moto {moto.__version__}; c7n {c7n} on {peer_py}"


def main():
    # The proxy and the Runtime API are threads of this process: switch
    # between them often, so a request is taken in as soon as it is sent.
    sys.setswitchinterval(0.0002)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True, help="folder with the functions' release binaries")
    parser.add_argument("--peer-python", required=True, help="interpreter with c7n and its requirements only")
    parser.add_argument("--zip-dir", help="cargo-lambda's output folder (<function>/bootstrap.zip)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=25)
    parser.add_argument(
        "--depth-latency-ms",
        type=int,
        default=250,
        help="latency of the one pass that counts round trips: wider than the emulator's queue, so it cannot reorder them",
    )
    parser.add_argument("--burst", type=int, default=100, help="findings in the burst, on as many instances and as many users (0: no burst)")
    parser.add_argument(
        "--burst-concurrency",
        type=int,
        default=10,
        help="sandboxes serving the burst at once: the reserved concurrency an operator sets with the template's ReservedConcurrency",
    )
    parser.add_argument(
        "--throttle-scale",
        type=float,
        default=DEFAULT_THROTTLE_SCALE,
        help="factor on every token bucket's refill rate in the burst (the emulator is slower than AWS)",
    )
    parser.add_argument("--plots", help="write the SVG plots to this folder (linked from the report)")
    parser.add_argument("--write", help="write the report to this Markdown file")
    parser.add_argument("--command", default="make bench", help="the command named in the report")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, raw results)")
    args = parser.parse_args()
    missing = [f for f in FUNCTIONS if not os.path.exists(os.path.join(args.bin_dir, f))]
    if missing:
        raise SystemExit(f"release binaries missing in {args.bin_dir}: {', '.join(missing)}")
    zips = {}
    if args.zip_dir:
        for f in FUNCTIONS:
            path = os.path.join(args.zip_dir, f, "bootstrap.zip")
            if os.path.exists(path):
                zips[f] = os.path.getsize(path)

    work = tempfile.mkdtemp(prefix="gdr-bench-")
    bench = Bench(args, work)
    started = time.monotonic()
    try:
        bench.package_peer()
        for n in range(args.runs):
            bench.run_index = n
            for latency in (0, args.latency_ms):
                bench.fresh_world()
                bench.run_once(latency)
            print(f"run {n + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        if args.runs:
            # The round trips: the emulator serves one request at a time, so a
            # request of a parallel wave can finish late and look like a later
            # one. With a latency wider than that queue, waves stay apart.
            bench.run_index = "depth"
            bench.fresh_world()
            bench.run_once(args.depth_latency_ms)
        if args.burst:
            # Two bursts, instances then users; each side on a fresh emulator.
            for kind in ("ec2", "user"):
                # Ours twice: as configured (adaptive retries, 8 attempts), and
                # with the SDK's standard retries, which the configuration must beat.
                for side in ("ours", "ours-standard", "peer"):
                    went = time.monotonic()
                    if side == "peer":
                        r = bench.burst_peer(kind, args.burst, args.burst_concurrency, args.throttle_scale)
                    else:
                        env = {"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "3"} if side == "ours-standard" else None
                        r = bench.burst_ours(kind, args.burst, args.burst_concurrency, args.throttle_scale, side, env)
                    print(
                        f"burst {kind} {side}: {r['contained']}/{r['n']} contained, last at {fmt(r['last_s'], ' s', 1)}, "
                        f"{r['requests']} requests, {r['throttled']} throttled, lost {r['lost']} ({time.monotonic() - went:.0f} s)",
                        file=sys.stderr,
                    )
    finally:
        bench.close()
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"results": bench.results, "bursts": bench.bursts}, f, indent=1)
    plots = []
    if args.plots:
        plots = write_plots(bench.results, bench.bursts, args, args.plots, os.path.dirname(os.path.abspath(args.write)) if args.write else os.getcwd())
    body, checks = tables(bench.results, bench.bursts, args, zips, bench.peer_zips, plots)
    header = (
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}.\n"
        f"Tools: {versions(args)}.\n"
        f"Command: `{args.command}` ({args.runs} runs, +{args.latency_ms} ms per request in the latency runs, "
        f"round trips counted in one pass at +{args.depth_latency_ms} ms; "
        + (f"a burst of {args.burst} findings, {args.burst_concurrency} at once, throttled (refill × {args.throttle_scale:g}); " if args.burst else "")
        + f"took {time.monotonic() - started:.0f} s).\n"
    )
    print(header)
    print(body)
    if args.write:
        write_report(args.write, header, body)
    if args.keep:
        print(f"raw results and logs: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, ok, _ in checks if not ok]
    if failed:
        print("targets missed: " + "; ".join(failed), file=sys.stderr)


MARK_BEGIN = "<!-- bench:begin -->"
MARK_END = "<!-- bench:end -->"


def write_report(path, header, body):
    """Replaces the generated part of the file, between its markers, keeping the prose around it."""
    generated = f"{MARK_BEGIN}\n{header}\n{body}\n{MARK_END}"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else f"# Benchmarks\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in text or MARK_END not in text:
        text += f"\n{MARK_BEGIN}\n{MARK_END}\n"
    before, rest = text.split(MARK_BEGIN, 1)
    _, after = rest.split(MARK_END, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(before + generated + after)


if __name__ == "__main__":
    main()
