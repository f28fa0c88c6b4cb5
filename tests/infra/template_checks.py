"""Assertions on the deployment templates that cfn-lint and checkov do not make.

Each check reads infra/template.yaml or infra/member-role.yaml and states one
property a deploy relies on: that it deploys in an ordinary account, that
nothing it keeps is lost with the stack, that failures reach someone, that
the evidence store keeps what is written to it out of an attacker's reach,
and that the member role trusts exactly the functions. A check that fails
names what is wrong.

Usage: python tests/infra/template_checks.py [TEMPLATE_DIR]
"""

import json
import os
import re
import sys

from policies import TemplateLoader  # noqa: F401  (registers CloudFormation tags)

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return yaml.load(f, Loader=TemplateLoader)


def functions(t):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def event_rules(t):
    for name, fn in functions(t).items():
        for event_name, event in fn["Properties"].get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                yield name, event_name, event["Properties"]


def external_id_patterns(t, m):
    checks = []
    # What STS accepts for ExternalId ([\w+=,.@:/-], 2 to 1224), and at least 16.
    for template, param in ((t, "MemberRoleExternalId"), (m, "ExternalId")):
        p = template["Parameters"][param]
        pattern = re.compile(p["AllowedPattern"])
        good = "a1B2-c3d4_e5f6+g=h,i.j@k:l/m"
        checks.append((f"{param} accepts an id STS accepts", bool(pattern.fullmatch(good))))
        for bad in ("shared-secret-with!", "with space in it 1234", "ünïcode-secret-1234"):
            checks.append((f"{param} refuses {bad!r}", not pattern.fullmatch(bad)))
        checks.append((f"{param} is 16 to 1224 long", p.get("MinLength") == 16 and p.get("MaxLength") == 1224))
    return checks


def reserved_concurrency(t, _):
    param = t["Parameters"]["ReservedConcurrency"]
    value = t["Globals"]["Function"]["ReservedConcurrentExecutions"]
    no_value = isinstance(value, list) and value[0] == "HasReservedConcurrency" and value[2] == "AWS::NoValue"
    condition = t["Conditions"].get("HasReservedConcurrency")
    return [
        ("no reserved concurrency by default", param.get("Default") == "" and no_value and condition is not None),
        ("0 still reaches the functions (the kill switch)", re.fullmatch(param["AllowedPattern"], "0") is not None),
    ]


def retained(t, _):
    checks = []
    for name in ("ResponderKey", "FailedEventsQueue"):
        r = t["Resources"][name]
        checks.append(
            (f"{name} is retained", r.get("DeletionPolicy") == "Retain" and r.get("UpdateReplacePolicy") == "Retain")
        )
    alias = t["Resources"]["ResponderKeyAlias"]["Properties"]["AliasName"]
    checks.append(("the key alias names the stack", "${AWS::StackName}" in alias))
    return checks


def alarms(t, _):
    resources = t["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    checks = [("every alarm tells the report topic", all(a.get("AlarmActions") == ["ReportTopic"] for a in alarms))]
    queue = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    checks.append(("an alarm on the failed-events queue", len(queue) == 1 and queue[0]["Dimensions"][0]["Value"] == "FailedEventsQueue.QueueName"))
    names = set(functions(t))
    for metric in ("Errors", "Throttles", "DestinationDeliveryFailures"):
        covered = set()
        for a in alarms:
            for q in a.get("Metrics", []):
                stat = q.get("MetricStat", {}).get("Metric", {})
                if stat.get("MetricName") == metric:
                    covered |= {d["Value"] for d in stat["Dimensions"]}
        checks.append((f"{metric} of every function alarms", covered == names))
    key = resources["ResponderKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = [s["Principal"].get("Service", []) for s in key if isinstance(s.get("Principal"), dict)]
    checks.append(("CloudWatch may use the topic's key", any("cloudwatch.amazonaws.com" in s for s in services)))
    return checks


def delivery(t, _):
    checks = []
    stack_rules = []
    for fn, event, props in event_rules(t):
        dlq = props.get("DeadLetterConfig", {}).get("Arn")
        retry = props.get("RetryPolicy", {})
        checks.append((f"{fn}.{event} keeps what it cannot deliver", dlq == "FailedEventsQueue.Arn"))
        checks.append((f"{fn}.{event} retries for an hour", retry.get("MaximumEventAgeInSeconds") == 3600 and retry.get("MaximumRetryAttempts", 0) > 0))
        name = props.get("RuleName", "")
        checks.append((f"{fn}.{event} has a name of the stack's", isinstance(name, str) and name.startswith("${AWS::StackName}-")))
        stack_rules.append(name)
    policy = t["Resources"]["FailedEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    checks.append(("EventBridge may send to the failed-events queue", policy["Principal"] == {"Service": "events.amazonaws.com"}))
    posture = t["Resources"]["CheckPostureFunction"]["Properties"]["Environment"]["Variables"]
    listed = posture.get("RESPONDER_RULES", "").split(",")
    checks.append(("check-posture knows every rule by its exact name", sorted(listed) == sorted(stack_rules)))
    checks.append(("check-posture finds no rule by prefix", "RESPONDER_RULE_PREFIX" not in posture))
    return checks


def statements_of(document):
    """The statements of a policy, a conditional one (!If) as it is when its
    condition holds."""
    for s in document["Statement"]:
        if isinstance(s, list) and len(s) == 3:
            s = s[1]
        if isinstance(s, dict):
            yield s


def listed(value):
    return [value] if isinstance(value, str) else list(value)


def evidence_store(t, m):
    resources = t["Resources"]
    checks = []
    # A member role deletes object versions only where its own stack says
    # so: the security stack's setting alone cannot make it delete data.
    member = [s for p in m["Resources"]["MemberRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    deletes = lambda s: any(a.startswith("s3:Delete") for a in listed(s.get("Action", [])))  # noqa: E731
    unconditional = [s for s in member if isinstance(s, dict) and s.get("Effect") == "Allow" and deletes(s)]
    conditional = [s for s in member if isinstance(s, list) and s[0] == "DeletesMaliciousObjects" and deletes(s[1])]
    checks.append(
        (
            "a member role deletes objects only with its own DeleteMaliciousObjects",
            not unconditional
            and len(conditional) == 1
            and m["Conditions"]["DeletesMaliciousObjects"] == ["DeleteMaliciousObjects", "true"]
            and m["Parameters"]["DeleteMaliciousObjects"]["Default"] == "false",
        )
    )
    for name in ("EvidenceKey", "EvidenceBucket", "EvidenceLogBucket"):
        r = resources[name]
        checks.append(
            (f"{name} is retained", r.get("DeletionPolicy") == "Retain" and r.get("UpdateReplacePolicy") == "Retain")
        )
    key = resources["EvidenceKey"]["Properties"]
    checks.append(("the evidence key rotates", key.get("EnableKeyRotation") is True))
    alias = resources["EvidenceKeyAlias"]["Properties"]["AliasName"]
    checks.append(("the evidence key alias names the stack", "${AWS::StackName}" in alias))
    # Only this account's principals may read anything under the key.
    root = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    reads = ("kms:*", "kms:Decrypt", "kms:ReEncrypt*", "kms:ReEncryptFrom", "kms:CreateGrant")
    outside = [
        s for s in statements_of(key["KeyPolicy"])
        if s["Effect"] == "Allow" and s["Principal"] != {"AWS": root}
    ]
    checks.append(
        ("no other account may decrypt with the evidence key", not any(a in reads for s in outside for a in listed(s["Action"])))
    )

    bucket = resources["EvidenceBucket"]["Properties"]
    rule = bucket.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention", {})
    checks.append(
        (
            "every evidence version is locked for EvidenceRetentionDays",
            bucket.get("ObjectLockEnabled") is True
            and rule.get("Mode") == "EvidenceLockMode"
            and rule.get("Days") == "EvidenceRetentionDays",
        )
    )
    checks.append(("the evidence store keeps every version", bucket["VersioningConfiguration"]["Status"] == "Enabled"))
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    checks.append(("the evidence store encrypts under the evidence key", sse.get("KMSMasterKeyID") == "EvidenceKey.Arn"))
    checks.append(
        ("the evidence store's access is logged", bucket.get("LoggingConfiguration", {}).get("DestinationBucketName") == "EvidenceLogBucket")
    )

    policy = list(statements_of(resources["EvidenceBucketPolicy"]["Properties"]["PolicyDocument"]))
    for bucket_policy in ("EvidenceBucketPolicy", "EvidenceLogBucketPolicy"):
        document = resources[bucket_policy]["Properties"]["PolicyDocument"]
        tls = [
            s for s in statements_of(document)
            if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        checks.append((f"{bucket_policy} refuses requests without TLS", len(tls) == 1 and tls[0]["Action"] == "s3:*"))
    encrypted = [
        k
        for s in policy
        if s["Effect"] == "Deny" and s["Action"] == "s3:PutObject"
        for k in s.get("Condition", {}).get("StringNotEquals", {})
    ]
    checks.append(
        (
            "the evidence store takes objects only under the evidence key",
            {"s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"} <= set(encrypted),
        )
    )
    members = [s for s in policy if s["Effect"] == "Allow"]
    checks.append(
        (
            "member roles write only under their own account's prefix, from the organization",
            all(
                s["Resource"].endswith("/malware/${!aws:PrincipalAccount}/*")
                and set(listed(s["Action"])) <= {"s3:PutObject", "s3:PutObjectTagging"}
                and "aws:PrincipalOrgID" in s["Condition"].get("StringEquals", {})
                for s in members
            ),
        )
    )

    variables = t["Globals"]["Function"]["Environment"]["Variables"]
    checks.append(
        (
            "every function knows the evidence store and its settings",
            variables.get("EVIDENCE_BUCKET") == "EvidenceBucket"
            and variables.get("EVIDENCE_KEY_ARN") == "EvidenceKey.Arn"
            and variables.get("DELETE_MALICIOUS_OBJECTS") == "DeleteMaliciousObjects"
            and variables.get("START_MALWARE_SCANS") == "StartMalwareScans",
        )
    )
    # Every function that responds to findings writes its record.
    for logical, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        function = role["Properties"].get("Description")
        if function in ("notify-finding", "check-posture", "preserve-evidence"):
            continue
        statements = [s for p in role["Properties"]["Policies"] for s in statements_of(p["PolicyDocument"])]
        writes = any(
            s["Effect"] == "Allow" and "s3:PutObject" in listed(s["Action"]) and s["Resource"] == "${EvidenceBucket.Arn}/findings/*"
            for s in statements
        )
        checks.append((f"{function} may write its evidence record", writes))
    return checks


def member_trust(t, m):
    statement = m["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    principal = statement["Principal"]["AWS"]
    conditions = json.dumps(statement.get("Condition", {}))
    trusted = t["Outputs"]["MemberRoleTrustedRoleArns"]["Value"]
    roles = {v.split(".")[0] for v in trusted[1]} if isinstance(trusted, list) else set()
    remediating = {
        r for r, v in t["Resources"].items()
        if v["Type"] == "AWS::IAM::Role" and v["Properties"].get("Description") not in ("check-posture",)
    }
    return [
        ("the member role trusts the ARNs it is given, no wildcard", principal == "ResponderRoleArns" and "*" not in conditions),
        ("and only with the external id, from the organization", "sts:ExternalId" in conditions and "aws:PrincipalOrgID" in conditions),
        ("the security stack names exactly its functions' roles", roles == remediating),
    ]


def protected_roles(t, m):
    """Every role that may change IAM roles denies it on the responder's own
    roles and on roles no automation should touch, and on the named ones."""
    checks = []
    must = {
        "template.yaml": ["role/guardduty-responder/*", "role/${MemberRoleName}"],
        "member-role.yaml": ["role/${RoleName}", "role/${RoleName}-release"],
    }
    always = ["role/OrganizationAccountAccessRole", "role/aws-reserved/*", "role/aws-service-role/*"]
    for name, template in (("template.yaml", t), ("member-role.yaml", m)):
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for policy in resource["Properties"].get("Policies", []):
                statements = policy["PolicyDocument"]["Statement"]
                plain = [s for s in statements if isinstance(s, dict)]
                writes = {
                    a
                    for s in plain
                    if s["Effect"] == "Allow"
                    for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
                    if a in ("iam:PutRolePolicy", "iam:TagRole", "iam:DeleteRolePolicy", "iam:UntagRole")
                }
                if not writes:
                    continue
                denied = [s for s in plain if s["Effect"] == "Deny" and writes <= set(s["Action"])]
                resources = [r for s in denied for r in s["Resource"]]
                for suffix in must[name] + always:
                    checks.append(
                        (f"{name} {logical} may not change {suffix}", any(r.endswith(suffix) for r in resources))
                    )
                if logical != "ReleaseRole":
                    named = any(isinstance(s, list) and s[0] == "HasProtectedRoleArns" for s in statements)
                    checks.append((f"{name} {logical} may not change the ProtectedRoleArns", named))
    tag_writes = []
    for template in (t, m):
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for policy in resource["Properties"].get("Policies", []):
                for s in policy["PolicyDocument"]["Statement"]:
                    if not isinstance(s, dict) or s["Effect"] != "Allow":
                        continue
                    actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
                    if any(a in ("ec2:CreateTags", "iam:TagRole", "iam:TagUser") for a in actions):
                        tag_writes.append((resource["Properties"].get("Description"), s))
    for role, s in tag_writes:
        keys = s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("aws:TagKeys", [])
        checks.append((f"{role}: tag writes only with the responder's keys", keys and all(k.startswith("guardduty-responder:") or k == "Name" for k in keys)))
    return checks


def security_hub(t, _):
    """Custom actions reach only the remediation functions, only from the
    responder's own action targets and GuardDuty findings; no role holds more
    of Security Hub than the write-back, and none can undo a containment."""
    checks = []
    resources = t["Resources"]
    targets = {r["Properties"]["Id"]: r for r in resources.values() if r["Type"] == "AWS::SecurityHub::ActionTarget"}
    checks.append(("the template creates the Contain and Release actions", sorted(targets) == ["GDRContain", "GDRRelease"]))
    checks.append(
        ("the actions exist only with SecurityHubIntegration", all(r.get("Condition") == "HasSecurityHub" for r in targets.values()))
    )
    remediation = {name for name, fn in functions(t).items() if any(
        "aws.guardduty" in str(e["Properties"].get("Pattern", "")) for e in fn["Properties"].get("Events", {}).values()
    )} - {"NotifyFindingFunction"}
    reached = set()
    for fn, event, props in event_rules(t):
        pattern = str(props.get("Pattern", ""))
        if "aws.securityhub" not in pattern:
            continue
        reached.add(fn)
        rule = json.loads(re.sub(r"\$\{[^}]+\}", "X", pattern))
        checks.append((f"{fn}.{event} takes custom actions only", rule.get("detail-type") == ["Security Hub Findings - Custom Action"]))
        checks.append(
            (f"{fn}.{event} takes only the responder's actions", sorted(a.rsplit("/", 1)[-1] for a in rule.get("resources", [])) == ["GDRContain", "GDRRelease"])
        )
        checks.append((f"{fn}.{event} takes GuardDuty findings only", rule.get("detail", {}).get("findings", {}).get("ProductName") == ["GuardDuty"]))
    checks.append(("every remediation function, and only those, takes custom actions", reached == remediation))
    for name, role in resources.items():
        if role["Type"] != "AWS::IAM::Role" or name.startswith("Release"):
            continue
        actions = [a for p in role["Properties"].get("Policies", []) for st in statements_of(p["PolicyDocument"]) if st.get("Effect") == "Allow" for a in listed(st["Action"])]
        hub = sorted({a for a in actions if a.startswith("securityhub:")})
        checks.append((f"{name} holds nothing of Security Hub but the write-back", hub in ([], ["securityhub:BatchUpdateFindings"])))
        undo = {"ec2:AssociateIamInstanceProfile", "autoscaling:AttachInstances", "elasticloadbalancing:RegisterTargets", "lambda:DeleteFunctionConcurrency"}
        checks.append((f"{name} cannot undo a containment", not undo & set(actions)))
    return checks


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "infra")
    t, m = load(directory, "template.yaml"), load(directory, "member-role.yaml")
    results = []
    groups = (external_id_patterns, reserved_concurrency, retained, alarms, delivery, evidence_store, member_trust, protected_roles, security_hub)
    for group in groups:
        try:
            results.extend(group(t, m))
        except (KeyError, IndexError, TypeError) as e:
            results.append((f"{group.__name__}: the template lacks {e!r}", False))
    failed = [name for name, ok in results if not ok]
    for name in failed:
        print("FAIL", name)
    print(f"template: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
