"""Checks every IAM policy of the templates against the AWS action reference.

cfn-lint checks the template's shape and checkov its security defaults;
neither knows whether `ec2:CreateSnapshot` acts on a snapshot ARN, whether
`ec2:CreateAction` is a condition key of `iam:TagRole`, or whether an
action exists at all. parliament does, from the Service Authorization
Reference: each role's inline policies (and the member role's), and the
resource policies (the buckets', the queue's, the keys'), are resolved with
sample values (the stack's parameters, pseudo parameters, the ARNs of the
resources they refer to) and analysed; an unknown action or prefix, a
resource of the wrong type, a condition key the action does not support, or
a malformed statement fails the check.

`--self-test` plants one defect of each kind into a copy of the templates
and expects the check to fail on each: a checker that passes everything
proves nothing.

Usage: python tests/infra/policy_check.py [--self-test]
"""

import copy
import json
import os
import re
import sys

import yaml
from parliament import analyze_policy_string

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The findings that mean the policy is wrong against the reference.
FAIL_ON = {
    "UNKNOWN_ACTION",
    "UNKNOWN_PREFIX",
    "RESOURCE_MISMATCH",
    "UNKNOWN_CONDITION_FOR_ACTION",
    "MALFORMED",
    "MALFORMED_JSON",
    "UNKNOWN_OPERATOR",
    "MISMATCHED_TYPE",
    "INVALID_ARN",
    "UNKNOWN_FEDERATION_SOURCE",
}

ACCOUNT = "123456789012"
SAMPLES = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": "gdr",
    "MemberRoleName": "GuardDutyResponderMember",
    "RoleName": "GuardDutyResponderMember",
    "SecurityAccountId": "210987654321",
    "OrganizationId": "o-exampleorg1",
    "ExternalId": "example-external-id-0001",
    "MemberRoleExternalId": "example-external-id-0001",
    "ReportTopic": f"arn:aws:sns:us-east-1:{ACCOUNT}:gdr-reports",
    "ProtectedRoleArns": [f"arn:aws:iam::{ACCOUNT}:role/break-glass"],
    "ReleasePrincipalArns": [f"arn:aws:iam::{ACCOUNT}:role/responders"],
    "ResponderRoleArns": [f"arn:aws:iam::210987654321:role/guardduty-responder/gdr-quarantine"],
    "EvidenceBucketName": "gdr-evidencebucket-1a2b3c4d5e6f",
    "EvidenceKeyArn": "arn:aws:kms:us-east-1:210987654321:key/66666666-7777-8888-9999-000000000000",
    "AWS::NoValue": None,
}
ATTRIBUTES = {
    "FailedEventsQueue.Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:gdr-failed-events",
    "ResponderKey.Arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
    "EvidenceKey.Arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/66666666-7777-8888-9999-000000000000",
    "EvidenceBucket.Arn": "arn:aws:s3:::gdr-evidencebucket-1a2b3c4d5e6f",
    "EvidenceLogBucket.Arn": "arn:aws:s3:::gdr-evidencelogbucket-6f5e4d3c2b1a",
    "SiemBucket.Arn": "arn:aws:s3:::gdr-siembucket-0a1b2c3d4e5f",
}


class Tagged:
    """A CloudFormation intrinsic, kept as written."""

    def __init__(self, tag, value):
        self.tag, self.value = tag, value


class Loader(yaml.SafeLoader):
    pass


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tagged(suffix, value)


Loader.add_multi_constructor("!", _tagged)


def _substitute(match):
    """One ${...} of a Fn::Sub: ${!x} stays the literal ${x} (an IAM policy
    variable), ${Resource.Attribute} is an attribute, anything else a sample."""
    name = match.group(1)
    if name.startswith("!"):
        return "${%s}" % name[1:]
    return str(ATTRIBUTES[name] if "." in name else SAMPLES[name])


def resolve(value):
    """The value with every intrinsic replaced by a sample of what it deploys as."""
    if isinstance(value, Tagged):
        if value.tag == "Sub":
            return re.sub(r"\$\{([^}]+)\}", _substitute, value.value)
        if value.tag == "Ref":
            return copy.deepcopy(SAMPLES[value.value])
        if value.tag == "GetAtt":
            return ATTRIBUTES[value.value]
        if value.tag == "If":
            return resolve(value.value[1])
        raise KeyError(f"!{value.tag}")
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [r for r in (resolve(v) for v in value) if r is not None]
    return value


def load(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def policies(template):
    """(role, policy name, resolved document) for every inline policy."""
    for logical, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            yield logical, policy["PolicyName"], resolve(policy["PolicyDocument"])


# Resources whose policy says who may use them, and where it is.
RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}


def resource_policies(template):
    """(resource, resolved document) for every resource policy."""
    for logical, resource in template["Resources"].items():
        field = RESOURCE_POLICIES.get(resource.get("Type"))
        if field and field in resource.get("Properties", {}):
            yield logical, resolve(resource["Properties"][field])


def findings(templates):
    found = []
    for name, template in templates.items():
        documents = [(f"{role}/{policy}", document) for role, policy, document in policies(template)]
        documents += list(resource_policies(template))
        for where, document in documents:
            analysis = analyze_policy_string(json.dumps(document))
            for f in analysis.findings:
                if f.issue in FAIL_ON:
                    found.append(f"{name} {where}: {f.issue} {f.detail}")
    return found


def check(directory):
    templates = {n: load(directory, n) for n in ("template.yaml", "member-role.yaml")}
    found = findings(templates)
    # The service control policy that keeps the exemption tag for administrators.
    with open(os.path.join(directory, "scp-protect-exemption-tag.json"), encoding="utf-8") as f:
        for finding in analyze_policy_string(f.read()).findings:
            if finding.issue in FAIL_ON:
                found.append(f"scp-protect-exemption-tag.json: {finding.issue} {finding.detail}")
    return found, templates


def plant(templates, kind):
    """A copy of the templates with one defect of `kind` in the quarantine role."""
    planted = copy.deepcopy(templates)
    statements = planted["template.yaml"]["Resources"]["QuarantineInstanceRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    if kind == "unknown action":
        statements.append({"Effect": "Allow", "Action": "ec2:CreateSnapshotz", "Resource": "*"})
    elif kind == "wrong resource":
        statements.append(
            {"Effect": "Allow", "Action": "ec2:CreateSnapshot", "Resource": "arn:aws:s3:::evidence-bucket/*"}
        )
    elif kind == "unsupported condition key":
        statements.append(
            {
                "Effect": "Allow",
                "Action": "iam:TagRole",
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/*",
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
            }
        )
    return planted


def main():
    directory = os.path.join(ROOT, "infra")
    found, templates = check(directory)
    if "--self-test" in sys.argv:
        results = []
        for kind in ("unknown action", "wrong resource", "unsupported condition key"):
            caught = [f for f in findings(plant(templates, kind)) if f not in found]
            results.append((kind, bool(caught)))
            print(f"{'ok  ' if caught else 'FAIL'} a planted {kind} is caught: {caught[:1]}")
        failed = [k for k, ok in results if not ok]
        print(f"policy check self-test: {len(results) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0
    for f in found:
        print("FAIL", f)
    count = sum(1 for t in templates.values() for _ in (*policies(t), *resource_policies(t)))
    print(f"policy check: {count} policies against the action reference, {len(found)} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
