"""Routing check: the template's EventBridge rules, put into the emulator's
EventBridge with an SQS queue behind each function, against every fixture.

Each rule pattern is taken from infra/template.yaml as CloudFormation would
deploy it (Fn::Sub resolved with the parameters' defaults), put on a bus with
an SQS target for its function, and every fixture in events/ is sent. What
each queue receives is compared with the table below: which functions each
fixture must reach. A fixture without a row fails the check.

Usage: python tests/infra/routing.py   (starts and stops its own emulator)
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]

Q, R, D, T, S, L, B, E, K, N = (
    "quarantine-instance",
    "revoke-role-sessions",
    "disable-iam-user",
    "restore-cloudtrail",
    "protect-s3-bucket",
    "contain-lambda-function",
    "isolate-database",
    "contain-ecs-task",
    "contain-eks-workload",
    "notify-finding",
)

# Which functions each fixture reaches with the template's default thresholds
# (remediation 7, alert 4). Rules are coarse: the functions decide the rest.
EXPECTED = {
    "ec2-cryptocurrency-bitcointool-high.json": {Q, N},
    "ec2-trojan-blackhole-traffic-epoch-launchtime.json": {Q, N},
    "ec2-backdoor-c2-activity-critical.json": {Q, N},
    "ec2-impact-bitcoin-domain-request.json": {Q, N},
    "ec2-tor-client.json": {Q, N},
    "ec2-metadata-dns-rebind.json": {Q, N},
    "ec2-execution-malicious-file.json": {Q, N},
    "ec2-malicious-file-snapshot.json": {Q, N},
    "ec2-malicious-file-ami.json": {Q, N},
    "ec2-malicious-file-recovery-point.json": {Q, N},
    "ec2-ssh-bruteforce-actor.json": {Q, N},
    "ec2-rdp-bruteforce-actor.json": {Q, N},
    "ec2-ssh-bruteforce-target-victim.json": set(),
    "ec2-recon-port-probe-medium.json": {N},
    "ec2-backdoor-spambot-medium.json": {N},
    "ec2-cryptocurrency-sample-finding.json": {Q, N},
    "ec2-trojan-archived-finding.json": {Q, N},
    "ec2-cryptocurrency-other-account.json": {Q, N},
    "iam-instance-credential-exfiltration-outside-aws.json": {Q, R, N},
    "s3-bucket-block-public-access-disabled.json": {S},
    "s3-bucket-anonymous-access-granted.json": {S, D, N},
    "s3-account-block-public-access-disabled.json": {S},
    "s3-exfiltration-malicious-ip-caller-user.json": {D, N},
    "s3-anomalous-behavior-role.json": {R, N},
    "s3-server-access-logging-disabled.json": {N},
    "s3-malicious-object.json": {S, N},
    "lambda-backdoor-c2-activity.json": {L, N},
    "lambda-cryptocurrency-bitcoin-tool.json": {L, N},
    "rds-successful-login-malicious-ip.json": {B, N},
    "rds-aurora-successful-brute-force.json": {B, N},
    "rds-failed-login-tor.json": {N},
    "ecs-runtime-cryptocurrency-fargate.json": {E, N},
    # EC2 launch type: the task here, its container instance to quarantine.
    "ecs-runtime-malicious-file-ec2.json": {Q, E, N},
    "ecs-runtime-reverse-shell-standalone.json": {E, N},
    "eks-runtime-backdoor-c2.json": {K, N},
    "eks-rolebinding-created.json": {K, N},
    "eks-admin-access-default-service-account.json": {K, N},
    "eks-anonymous-access-granted.json": {K, N},
    "eks-exposed-dashboard.json": {N},
    "eks-malicious-ip-caller-iam-user.json": {N},
    # A node's finding naming a container: both look; the functions decide.
    "ec2-runtime-eks-node-cryptocurrency.json": {Q, K, N},
    "ec2-runtime-eks-node-no-workload.json": {Q, N},
    "s3-attack-sequence-compromised-data.json": {S, R, D, N},
    "ec2-attack-sequence-compromised-instance-group.json": {Q, R, D, N},
    "iam-role-instance-credential-exfiltration-inside-aws.json": {Q, R, N},
    "iam-role-malicious-ip-caller.json": {R, N},
    "iam-role-tor-ip-caller.json": {N},
    "iam-role-sso-reserved.json": {R, N},
    "iam-role-service-linked.json": {R, N},
    "iam-federated-malicious-ip-caller.json": {N},
    "iam-user-malicious-ip-caller.json": {D, N},
    "iam-user-malicious-ip-caller-custom.json": {D, N},
    "iam-user-tor-ip-caller.json": {D, N},
    "iam-user-recon-malicious-ip-caller.json": {D, N},
    "iam-user-pentest-kali-linux.json": {D, N},
    "iam-user-attack-sequence-compromised-credentials.json": {R, D, N},
    "iam-user-discovery-anomalous-behavior.json": {D, N},
    "iam-user-malicious-ip-caller-sample.json": {D, N},
    "iam-root-credential-usage.json": set(),
    "cloudtrail-logging-disabled.json": {T},
    "cloudtrail-logging-disabled-unnamed-trail.json": {T},
    # Security Hub custom actions reach every remediation function, whatever
    # the finding's severity: each fetches the finding and decides.
    "securityhub-custom-action-contain-ec2-spambot-medium.json": {Q, R, D, T, S, L, B, E, K},
    "securityhub-custom-action-release-ec2-spambot-medium.json": {Q, R, D, T, S, L, B, E, K},
    "securityhub-custom-action-contain-iam-user.json": {Q, R, D, T, S, L, B, E, K},
}

# Where the stack is taken to be deployed: the account and region the
# custom action fixtures' action targets are in.
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


def resolve(value, parameters):
    """A pattern as CloudFormation would hand it to EventBridge."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"]:
        text = value["Fn::Sub"]
        for name, default in parameters.items():
            text = text.replace("${%s}" % name, str(default))
        return json.loads(text)
    return value


def rules(template):
    parameters = {k: v.get("Default") for k, v in template["Parameters"].items()}
    parameters.update(PSEUDO_PARAMETERS)
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                yield binary, event_name, resolve(event["Properties"]["Pattern"], parameters)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator():
    port = free_port()
    env = dict(os.environ, EMULATOR_PARENT_PID=str(os.getpid()))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/emulator/moto_emulator.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    sys.exit("routing check: the AWS emulator could not start")


def main():
    template, matches = decode(str(ROOT / "infra/template.yaml"))
    if template is None:
        sys.exit(f"routing check: cannot read the template: {matches}")
    proc, url = start_emulator()
    try:
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        events, sqs = boto3.client("events", **kw), boto3.client("sqs", **kw)
        queues = {}
        for binary, event_name, pattern in rules(template):
            if binary not in queues:
                queues[binary] = sqs.create_queue(QueueName=binary)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queues[binary], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            rule = f"{binary}-{event_name}"
            events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])

        fixtures = sorted(p for p in (ROOT / "events").glob("*.json"))
        failures = []
        missing = [p.name for p in fixtures if p.name not in EXPECTED]
        failures += [f"{name}: no row in the routing table" for name in missing]
        for path in fixtures:
            if path.name in missing:
                continue
            event = json.loads(path.read_text())
            put = events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event.get("resources", []),
                    }
                ]
            )
            if put.get("FailedEntryCount", 0) != 0:
                failures.append(f"{path.name}: PutEvents rejected it: {put.get('Entries')}")
                continue
            reached = set()
            for binary, queue in queues.items():
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                for m in messages:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
                # A function with two rules may match twice; it is reached once.
                if messages:
                    reached.add(binary)
            want = EXPECTED[path.name]
            if reached != want:
                failures.append(f"{path.name}: reached {sorted(reached)}, expected {sorted(want)}")
        for f in failures:
            print("FAIL", f)
        print(f"routing: {len(fixtures) - len(failures)} passed, {len(failures)} failed")
        return 1 if failures else 0
    finally:
        proc.kill()


if __name__ == "__main__":
    sys.exit(main())
