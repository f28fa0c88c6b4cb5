"""Runs moto's server for the project's tests and demo, with eighteen fidelity patches.

moto reports the security groups of an ENI attached to an instance as the
ENI's own groups united with the groups the instance was launched with, so
after ModifyNetworkInterfaceAttribute a describe still lists the old groups.
EC2 itself reports exactly the ENI's groups; the patch makes moto do the same.

moto answers ModifyInstanceAttribute with InstanceInitiatedShutdownBehavior
as a success but ignores the value; the second patch applies it, as EC2 does.

With IAM enforcement on (the least-privilege tests), moto also re-computes
each request's SigV4 signature, over the form body as it re-encodes it: a
body with a space (a security group's description) then fails with
AuthFailure although the SDK signed it correctly. The third patch skips that
comparison only; the access key is still looked up and every request is
still authorized against its caller's policies. Nothing else is changed.

moto's AssumeRole succeeds for any role ARN, in any account, with any
external id: a test could never show that the responder assumes the right
role with the right secret. The fourth patch makes it answer as STS does for
what the tests rely on: the role must exist in its account, and when its
trust policy requires an `sts:ExternalId` (StringEquals), the request must
carry that value; otherwise AccessDenied. The trust policy's principals are
not evaluated (the emulator's callers are not the functions' roles). One
role is let through without existing, `OrganizationAccountAccessRole`, which
AWS Organizations creates in every account it creates: it is how the tests
get into a fresh member account to seed it.

With IAM enforcement on, moto writes its AccessDenied answer in one XML
shape for every service (`ErrorResponse/Errors/Error`), which the SDK cannot
read for query services (IAM, SNS, STS, Auto Scaling: `ErrorResponse/Error`)
or JSON ones (CloudTrail): the error then has no code, and a test cannot
tell a refused permission from any other failure. The fifth patch writes
that answer in each service's own protocol, through moto's own serializer,
as AWS does; who is denied what is unchanged.

moto has no GuardDuty findings API, and the functions confirm every finding
with GetFindings before they change anything. The sixth patch adds it: a
test (or the demo) registers a finding by posting its EventBridge event to
`/moto-api/static/guardduty/findings`; it is kept for the receiving account
(the envelope's `account`) and region, in a detector made for it if that
account has none there, and `GetFindings` on that detector returns it, as
GuardDuty returns the finding an event was made from. An event with
`"detail": {"id": ..., "deleted": true}` forgets the finding. The API
types the timestamps of an attack sequence (signals, actor sessions), of
S3 bucket details and of Lambda details as timestamps, which GetFindings sends as epoch seconds where the event has
ISO 8601 text: they are converted on the way out, as GuardDuty serializes
them.

With IAM enforcement on, moto authorizes a bucket's Public Access Block
calls under the names of other actions: GetPublicAccessBlock as
`s3:ListBucket`, PutPublicAccessBlock as `s3:CreateBucket`,
DeletePublicAccessBlock as `s3:DeleteBucket`. A policy that grants the
functions what AWS requires would then be refused, and one that grants those
other actions would pass where AWS refuses. The seventh patch checks them
under the names IAM uses: `s3:GetBucketPublicAccessBlock` for the get,
`s3:PutBucketPublicAccessBlock` for the put and for the delete. Only the name
checked changes; the request is then answered as before. (Bucket tagging is
already checked as IAM does: `s3:GetBucketTagging`, and `s3:PutBucketTagging`
for the put and for the delete.) The account's block (S3 Control) is
checked as `s3:GetPublicAccessBlock`, `s3:PutPublicAccessBlock` and
`s3:DeletePublicAccessBlock`; the patch checks it as IAM does,
`s3:GetAccountPublicAccessBlock`, and `s3:PutAccountPublicAccessBlock` for
the put and for the delete.

moto has no GuardDuty malware scans. The eighth patch adds StartMalwareScan
and DescribeMalwareScans for EC2 instances, as the API answers them: the
caller needs a detector in its region (else BadRequestException, the message
GuardDuty gives for a detector the caller does not own), and the ARN must name
an instance, in any state but terminated, that exists in the ARN's account
and region (else BadRequestException saying which). Each scan started is kept
for the caller's account and region, RUNNING, ON_DEMAND, with its start time
in epoch seconds, and DescribeMalwareScans on the caller's detector lists
them, whatever account the instances are in; a filter criterion's
`equalsValue` is applied, other conditions are refused as unsupported. A
repeated client token returns the scan it started. No scan ever completes.

moto copies a snapshot only from the caller's own account: a snapshot
another account has shared (its `createVolumePermission` names the caller,
or the group `all`) is not found, so evidence can never be copied into a
forensics account. The ninth patch lets CopySnapshot find it, as EC2 does;
the copy belongs to the caller and records the KmsKeyId asked for (which
makes it encrypted), and TagSpecifications tag it, as moto already does for
a copy within one account. A snapshot of another account that is not shared
with the caller stays InvalidSnapshot.NotFound.

moto's ModifySnapshotAttribute reads the permission to change only from
`OperationType` with `UserId`/`UserGroup`; the other form the API offers,
`CreateVolumePermission` with `Add`/`Remove` lists of `UserId` or `Group`,
is answered with success and ignored. The tenth patch applies it as well, as
EC2 does (the AMI call, ModifyImageAttribute, already reads both forms).

moto answers DeregisterTargets with InvalidTarget when a target is not
registered in the group, and takes an instance out whatever port the request
names. The load balancer API returns success for a target that is not
registered, and a target is its id with its port (the group's port when none
is given), so a deregistration naming another port changes nothing. The
eleventh patch does the same; a registered target is taken out as before.

moto asks every PUT into a bucket with a default Object Lock retention for
a Content-MD5 or checksum header, CopyObject included. S3 asks it of the
requests that carry the object's bytes (PutObject, UploadPart); a copy has
no body to check, and S3 copies into such a bucket without it. The twelfth
patch lets a CopyObject (a PUT with `x-amz-copy-source` that is not a part
upload) through that check; the copy itself is made by moto as before, and
the bucket's default retention still locks it.

With IAM enforcement on, moto authorizes the object calls that name a
version under the names of the calls that do not: a HEAD or GET of a
version as `s3:GetObject`, its tags as `s3:GetObjectVersion` (reading)
and `s3:PutObjectTagging` (writing). IAM authorizes them as `s3:GetObjectVersion`,
`s3:GetObjectVersionTagging` and `s3:PutObjectVersionTagging`. The
thirteenth patch checks those names for requests on an object with a
`versionId`; the request is then answered as before.

moto has no Security Hub BatchUpdateFindings. The fourteenth patch adds it,
as Security Hub answers it, for the findings moto holds for the caller's
account and region (those BatchImportFindings imported): each identifier (Id
with ProductArn) found is updated and listed in ProcessedFindings, any other
is listed in UnprocessedFindings as FindingNotFound. A Note becomes the
finding's note, stamped with its UpdatedAt; Workflow sets the finding's
workflow status; UserDefinedFields and Severity are merged into the
finding's key by key; VerificationState, Confidence, Criticality, Types and
RelatedFindings replace the finding's. The finding's own UpdatedAt is left
as it is, as Security Hub leaves it. A Note without Text or UpdatedBy, or
with either longer than 512 characters, and a workflow status other than
NEW, NOTIFIED, RESOLVED and SUPPRESSED are refused with
InvalidInputException, and nothing is changed. With IAM enforcement on, moto
already checks it as `securityhub:BatchUpdateFindings`.

moto has no GuardDuty UpdateFindingsFeedback, ArchiveFindings or
UnarchiveFindings. The fifteenth patch adds them for the findings of the
sixth patch, on the caller's detector (another is refused as GetFindings
refuses it): feedback, USEFUL or NOT_USEFUL, sets the finding's
`service.userFeedback`; archiving sets `service.archived` to true,
unarchiving to false; GetFindings then shows it, as GuardDuty does. A
finding id the caller's account and region do not have, or any other
feedback, is refused with BadRequestException, and nothing is changed.

moto has no Security Hub custom actions. The sixteenth patch adds
CreateActionTarget, which keeps the target for the caller's account and
region under the ARN Security Hub gives it
(`arn:aws:securityhub:REGION:ACCOUNT:action/custom/ID`), and
DescribeActionTargets, which lists them, or those of the ARNs asked for. An
Id that is not 1 to 20 letters and digits, a Name that is not 1 to 20
characters or no Description is refused with InvalidInputException, an Id
already used with ResourceConflictException. Results are not paginated.

EventBridge matches a pattern through arrays of objects: a pattern on
`detail.findings.ProductName` matches an event whose `findings` is a list
of objects when any element's `ProductName` matches (a Security Hub event
carries its findings so). moto flattens the event through objects only, so
such a pattern never matches. The seventeenth patch flattens through arrays
of objects too, each path holding the values of every element; moto's own
matching then applies, as it already does to an array of values.

ECS tasks, in four ways. moto's RunTask fails for every `awsvpc` task
(Fargate's among them) when it reads the private DNS name of the network
interface it made, which moto's interfaces only have in VPCs with DNS
hostnames on: the interface gets the name EC2 gives it
(`ip-A-B-C-D.ec2.internal`). The interface ECS makes for a task is ECS's:
EC2 describes it as requester-managed, and refuses to change its security
groups (UnauthorizedOperation, the error reported for it); moto made it
an ordinary interface any caller could move. ECS reports the digest of the
image each container runs (`imageDigest`); moto reports none: the patch
reports `sha256:` and the SHA-256 of the image reference, so two tasks of
one image share a digest and tasks of other images do not; and it writes
a container's `cpu` and `memory` as the strings the API defines, where
moto wrote numbers the SDK refuses to read. And container
instances take tags (TagResource, UntagResource, ListTagsForResource, and
DescribeContainerInstances with `include=TAGS`), where moto raised an
internal error for their ARNs. moto also moves a running task a step
towards STOPPED each time it is described, where ECS leaves it running
until it is stopped: the patch leaves it running too. Nothing else about
ECS is changed.

The server also exits when the process that started it goes away, so a test
run that is killed never leaves an emulator behind.

Usage: python moto_emulator.py PORT
"""

import os
import sys
import threading
import time

from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ec2.responses.instances import InstanceResponse


def _eni_groups(self):
    return self._group_set


NetworkInterface.group_set = property(_eni_groups)

_dot_value_handler = InstanceResponse._dot_value_instance_attribute_handler


def _dot_value_with_shutdown_behavior(self):
    value = self._get_param("InstanceInitiatedShutdownBehavior.Value")
    if value is not None:
        self.ec2_backend.modify_instance_attribute(
            self._get_param("InstanceId"), "instance_initiated_shutdown_behavior", value
        )
        return True
    return _dot_value_handler(self)


InstanceResponse._dot_value_instance_attribute_handler = _dot_value_with_shutdown_behavior

from moto.iam.access_control import IAMRequestBase  # noqa: E402


def _signature_not_recomputed(self):
    return None


IAMRequestBase.check_signature = _signature_not_recomputed


import json  # noqa: E402

from moto.core.exceptions import ServiceException  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.sts.models import STSBackend  # noqa: E402

_assume_role = STSBackend.assume_role
ORGANIZATION_ROLE = "OrganizationAccountAccessRole"


class _AccessDenied(ServiceException):
    code = "AccessDenied"


def _trust_allows(document, external_id):
    """Whether an Allow statement for sts:AssumeRole admits this external id."""
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is None or external_id in (wanted if isinstance(wanted, list) else [wanted]):
            return True
    return False


def _assume_role_as_sts_does(self, region_name, role_session_name, role_arn, policy, duration, external_id):
    try:
        _, partition, _, _, account, resource = role_arn.split(":", 5)
    except ValueError:
        raise _AccessDenied(f"{role_arn} is not a role ARN")
    if resource.rsplit("/", 1)[-1] != ORGANIZATION_ROLE:
        denied = f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        try:
            role = iam_backends[account][partition].get_role_by_arn(role_arn)
        except Exception:
            raise _AccessDenied(denied)
        document = role.assume_role_policy_document
        document = json.loads(document) if isinstance(document, str) else document
        if not _trust_allows(document, external_id):
            raise _AccessDenied(denied)
    return _assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id)


STSBackend.assume_role = _assume_role_as_sts_does


from moto.core.exceptions import AccessDeniedError  # noqa: E402
from moto.core.responses import ActionResult, BaseResponse  # noqa: E402
from werkzeug.exceptions import HTTPException  # noqa: E402

_authorize = BaseResponse._authenticate_and_authorize_normal_action


class _DeniedInProtocolShape(HTTPException):
    """An AccessDenied whose body is the service's own error shape."""

    def __init__(self, status, body):
        super().__init__()
        self.code = status
        self.description = body


def _authorize_answering_in_protocol_shape(self, *args, **kwargs):
    try:
        return _authorize(self, *args, **kwargs)
    except AccessDeniedError as denied:
        error = _AccessDenied(denied.message)
        _, _, body = self.serialized(ActionResult(error))
        raise _DeniedInProtocolShape(403, body)


BaseResponse._authenticate_and_authorize_normal_action = _authorize_answering_in_protocol_shape


from moto.guardduty import urls as guardduty_urls  # noqa: E402
from moto.guardduty.models import guardduty_backends  # noqa: E402
from moto.guardduty.responses import GuardDutyResponse  # noqa: E402
from moto.moto_api._internal import urls as moto_api_urls  # noqa: E402

# (account, region) -> finding id -> the finding as EventBridge delivers it
_FINDINGS = {}


def _register_finding(request, full_url, headers):
    event = json.loads(request.get_data(parse_form_data=False) or b"{}")
    detail = event.get("detail") or {}
    account = event.get("account") or "123456789012"
    region = event.get("region") or detail.get("region") or "us-east-1"
    findings = _FINDINGS.setdefault((account, region), {})
    if detail.get("deleted"):
        findings.pop(detail.get("id"), None)
        return 200, {}, "{}"
    backend = guardduty_backends[account][region]
    if not backend.list_detectors():
        backend.create_detector(True, "FIFTEEN_MINUTES", {}, {}, [])
    findings[detail["id"]] = detail
    return 200, {}, json.dumps({"detectorId": backend.list_detectors()[0]})


# Members the API model types as timestamps (attack sequences, S3 buckets, Lambda functions).
_SEQUENCE_TIMESTAMPS = {"createdAt", "updatedAt", "firstSeenAt", "lastSeenAt", "createdTime", "lastModifiedAt"}


def _epoch_timestamps(value):
    from datetime import datetime

    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _SEQUENCE_TIMESTAMPS and isinstance(v, str):
                v = datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            out[k] = _epoch_timestamps(v)
        return out
    if isinstance(value, list):
        return [_epoch_timestamps(v) for v in value]
    return value


def _as_guardduty_serves(finding):
    finding = json.loads(json.dumps(finding))
    service = finding.get("service") or {}
    if "detection" in service:
        service["detection"] = _epoch_timestamps(service["detection"])
    resource = finding.get("resource") or {}
    # S3 and Lambda resource details carry API-model timestamps too.
    for key in ("s3BucketDetails", "lambdaDetails"):
        if key in resource:
            resource[key] = _epoch_timestamps(resource[key])
    return finding


def _get_findings(self):
    detector_id = self.path.split("/")[-3]
    self.guardduty_backend.get_detector(detector_id)
    wanted = json.loads(self.body or "{}").get("findingIds", [])
    known = _FINDINGS.get((self.current_account, self.region), {})
    return json.dumps({"findings": [_as_guardduty_serves(known[i]) for i in wanted if i in known]})


moto_api_urls.url_paths["{0}/moto-api/static/guardduty/findings"] = _register_finding
guardduty_urls.url_paths["{0}/detector/(?P<detector_id>[^/]+)/findings/get$"] = GuardDutyResponse.dispatch
GuardDutyResponse.get_findings = _get_findings


from urllib.parse import parse_qs, urlsplit  # noqa: E402

from moto.iam.access_control import IAMRequestBase  # noqa: E402

_check_action = IAMRequestBase.check_action_permitted

# moto's name for a bucket's Public Access Block call -> the name IAM uses
_BUCKET_PUBLIC_ACCESS_BLOCK_ACTIONS = {
    "s3:ListBucket": "s3:GetBucketPublicAccessBlock",
    "s3:CreateBucket": "s3:PutBucketPublicAccessBlock",
    "s3:DeleteBucket": "s3:PutBucketPublicAccessBlock",
}

# moto's name for the account's Public Access Block call (S3 Control) -> IAM's
_ACCOUNT_PUBLIC_ACCESS_BLOCK_ACTIONS = {
    "s3:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
}


# moto's name for a call on one version of an object -> the name IAM uses
_OBJECT_VERSION_ACTIONS = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
}


def _check_action_under_iam_name(self, resource):
    url = urlsplit(self._path)
    query = parse_qs(url.query, keep_blank_values=True)
    if url.path.rstrip("/").endswith("/v20180820/configuration/publicAccessBlock"):
        self._action = _ACCOUNT_PUBLIC_ACCESS_BLOCK_ACTIONS.get(self._action, self._action)
    elif "publicAccessBlock" in query:
        self._action = _BUCKET_PUBLIC_ACCESS_BLOCK_ACTIONS.get(self._action, self._action)
    elif "versionId" in query and len(url.path.strip("/").split("/", 1)) == 2:
        if "tagging" in query and self._action in ("s3:GetObjectVersion", "s3:GetObjectTagging"):
            # moto takes the version over the tags here.
            self._action = "s3:GetObjectVersionTagging"
        self._action = _OBJECT_VERSION_ACTIONS.get(self._action, self._action)
    return _check_action(self, resource)


# Both kinds of request (the bucket API's and every other service's) check
# through the base class.
IAMRequestBase.check_action_permitted = _check_action_under_iam_name



import uuid  # noqa: E402

from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402


class _GuardDutyBadRequest(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("BadRequestException", message)


# (account, region) of the caller -> the malware scans it started, oldest first
_MALWARE_SCANS = {}

_SCAN_CRITERIA = {
    "EC2_INSTANCE_ARN": lambda scan: scan["resourceDetails"]["instanceArn"],
    "SCAN_ID": lambda scan: scan["scanId"],
    "ACCOUNT_ID": lambda scan: scan["accountId"],
    "SCAN_STATUS": lambda scan: scan["scanStatus"],
    "SCAN_TYPE": lambda scan: scan["scanType"],
    "GUARDDUTY_FINDING_ID": lambda scan: scan["triggerDetails"].get("guardDutyFindingId"),
}


def _callers_detector(response):
    detectors = response.guardduty_backend.list_detectors()
    if not detectors:
        raise _GuardDutyBadRequest(
            "The request is rejected because the input detectorId is not owned by the current account."
        )
    return detectors[0]


def _scanned_instance(arn):
    """The account of the EC2 instance an ARN names, if that instance exists and is not terminated."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ec2" or not parts[5].startswith("instance/"):
        raise _GuardDutyBadRequest(f"The request is rejected because the resourceArn is not an EC2 instance ARN: {arn}")
    _, _, _, region, account, resource = parts
    instance_id = resource.split("/", 1)[1]
    instance = None
    if region in ec2_backends[account]:
        instance = next((i for i in ec2_backends[account][region].all_instances() if i.id == instance_id), None)
    if instance is None or instance.state == "terminated":
        raise _GuardDutyBadRequest(
            f"The request is rejected because the instance {instance_id} does not exist in account {account}, region {region}."
        )
    return account


def _start_malware_scan(self):
    detector_id = _callers_detector(self)
    request = json.loads(self.body or "{}")
    arn = request.get("resourceArn")
    account = _scanned_instance(arn)
    scans = _MALWARE_SCANS.setdefault((self.current_account, self.region), [])
    token = request.get("clientToken")
    for scan in scans:
        if token and scan["_clientToken"] == token and scan["resourceDetails"]["instanceArn"] == arn:
            return json.dumps({"scanId": scan["scanId"]})
    scan_id = uuid.uuid4().hex
    scans.append(
        {
            "detectorId": detector_id,
            "adminDetectorId": detector_id,
            "scanId": scan_id,
            "scanStatus": "RUNNING",
            "scanStartTime": int(time.time()),
            "scanType": "ON_DEMAND",
            "accountId": account,
            "resourceDetails": {"instanceArn": arn},
            "triggerDetails": {"description": "On-demand malware scan started with StartMalwareScan"},
            "_clientToken": token,
        }
    )
    return json.dumps({"scanId": scan_id})


def _describe_malware_scans(self):
    detector_id = self.path.split("/")[-2]
    self.guardduty_backend.get_detector(detector_id)
    criteria = (json.loads(self.body or "{}").get("filterCriteria") or {}).get("filterCriterion") or []
    scans = _MALWARE_SCANS.get((self.current_account, self.region), [])
    for criterion in criteria:
        key = criterion.get("criterionKey")
        condition = criterion.get("filterCondition") or {}
        if key not in _SCAN_CRITERIA or set(condition) != {"equalsValue"}:
            raise _GuardDutyBadRequest(f"The emulator does not support this filter criterion: {json.dumps(criterion)}")
        scans = [scan for scan in scans if _SCAN_CRITERIA[key](scan) == condition["equalsValue"]]
    shown = [{k: v for k, v in scan.items() if not k.startswith("_")} for scan in scans]
    return json.dumps({"scans": shown})


guardduty_urls.url_paths["{0}/malware-scan/start$"] = GuardDutyResponse.dispatch
guardduty_urls.url_paths["{0}/detector/(?P<detector_id>[^/]+)/malware-scans$"] = GuardDutyResponse.dispatch
GuardDutyResponse.start_malware_scan = _start_malware_scan
GuardDutyResponse.describe_malware_scans = _describe_malware_scans


from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot  # noqa: E402
from moto.ec2.utils import random_snapshot_id  # noqa: E402

_copy_snapshot = EBSBackend.copy_snapshot


def _copy_snapshot_shared_with_caller(self, source_snapshot_id, source_region, description, kms_key_id):
    if source_snapshot_id in ec2_backends[self.account_id][source_region].snapshots:
        return _copy_snapshot(self, source_snapshot_id, source_region, description, kms_key_id)
    for _, region, backend in ec2_backends.iter_backends():
        source = backend.snapshots.get(source_snapshot_id) if region == source_region else None
        if source is not None and (
            self.account_id in source.create_volume_permission_userids
            or "all" in source.create_volume_permission_groups
        ):
            snapshot = Snapshot(
                self,
                random_snapshot_id(),
                volume=source.volume,
                description=description,
                encrypted=source.encrypted,
                kms_key_id=kms_key_id,
            )
            self.snapshots[snapshot.id] = snapshot
            return snapshot
    # Not the caller's, and not shared with it: moto's own answer, InvalidSnapshot.NotFound.
    return _copy_snapshot(self, source_snapshot_id, source_region, description, kms_key_id)


EBSBackend.copy_snapshot = _copy_snapshot_shared_with_caller


from moto.ec2.responses.elastic_block_store import ElasticBlockStore  # noqa: E402

_modify_snapshot_attribute = ElasticBlockStore.modify_snapshot_attribute


def _modify_snapshot_attribute_both_forms(self):
    changes = self._get_param("CreateVolumePermission") or {}
    if changes and not self._get_param("OperationType"):
        self.error_on_dryrun()
        snapshot_id = self._get_param("SnapshotId")
        for operation, apply in (
            ("Add", self.ec2_backend.add_create_volume_permission),
            ("Remove", self.ec2_backend.remove_create_volume_permission),
        ):
            permissions = changes.get(operation) or []
            user_ids = [p["UserId"] for p in permissions if p.get("UserId")]
            groups = [p["Group"] for p in permissions if p.get("Group")]
            if user_ids or groups:
                apply(snapshot_id, user_ids=user_ids, groups=groups)
    return _modify_snapshot_attribute(self)


ElasticBlockStore.modify_snapshot_attribute = _modify_snapshot_attribute_both_forms


from moto.elbv2.models import FakeTargetGroup  # noqa: E402


def _deregister_as_elb_does(self, targets):
    for target in targets:
        registered = self.targets.get(target["Id"])
        if registered is not None and str(registered["Port"]) == str(target.get("Port", self.port)):
            self.deregistered_targets[target["Id"]] = self.targets.pop(target["Id"])


FakeTargetGroup.deregister = _deregister_as_elb_does

from moto.s3.responses import S3Response  # noqa: E402

_key_response_put = S3Response._key_response_put


def _copy_without_body_checksum(self, query, key_name):
    is_copy = "x-amz-copy-source" in self.headers and not query.get("uploadId")
    if not is_copy:
        return _key_response_put(self, query, key_name)
    self._set_action("KEY", "PUT", query)
    self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name, key_name=key_name)
    return self.copy_object()


S3Response._key_response_put = _copy_without_body_checksum


from datetime import datetime, timezone  # noqa: E402

from moto.securityhub import urls as securityhub_urls  # noqa: E402
from moto.securityhub.responses import SecurityHubResponse  # noqa: E402

_WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
# Members BatchUpdateFindings sets whole; Note, Workflow, UserDefinedFields and Severity are apart.
_REPLACED_FINDING_MEMBERS = ("VerificationState", "Confidence", "Criticality", "Types", "RelatedFindings")


class _SecurityHubInvalidInput(ServiceException):
    code = "InvalidInputException"


def _checked_finding_update(request):
    note = request.get("Note")
    if note is not None:
        for member in ("Text", "UpdatedBy"):
            value = (note or {}).get(member)
            if not isinstance(value, str) or not value:
                raise _SecurityHubInvalidInput(f"Invalid parameter 'Note.{member}': it is required with Note.")
            if len(value) > 512:
                raise _SecurityHubInvalidInput(f"Invalid parameter 'Note.{member}': longer than 512 characters.")
    status = (request.get("Workflow") or {}).get("Status")
    if status is not None and status not in _WORKFLOW_STATUSES:
        raise _SecurityHubInvalidInput(
            f"Invalid parameter 'Workflow.Status': {status} is not one of {', '.join(_WORKFLOW_STATUSES)}."
        )
    return note, status


def _update_finding(finding, request, note, status):
    if note is not None:
        updated_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        finding["Note"] = {"Text": note["Text"], "UpdatedBy": note["UpdatedBy"], "UpdatedAt": updated_at}
    if status is not None:
        finding["Workflow"] = {"Status": status}
    for member in ("UserDefinedFields", "Severity"):
        if request.get(member):
            finding[member] = {**(finding.get(member) or {}), **request[member]}
    for member in _REPLACED_FINDING_MEMBERS:
        if member in request:
            finding[member] = request[member]


def _batch_update_findings(self):
    request = json.loads(self.body or "{}")
    note, status = _checked_finding_update(request)
    findings = self.securityhub_backend.findings
    processed, unprocessed = [], []
    for identifier in request.get("FindingIdentifiers") or []:
        identifier = {"Id": identifier.get("Id"), "ProductArn": identifier.get("ProductArn")}
        key = (identifier["Id"], identifier["ProductArn"])
        found = [f.data for f in findings if (f.id, f.data.get("ProductArn")) == key]
        if not found:
            unprocessed.append(
                {"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}
            )
            continue
        for finding in found:
            _update_finding(finding, request, note, status)
        processed.append(identifier)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


securityhub_urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
SecurityHubResponse.batch_update_findings = _batch_update_findings


_FEEDBACK_VALUES = ("USEFUL", "NOT_USEFUL")
_GUARDDUTY_INVALID_INPUT = (
    "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
)


def _callers_findings(response):
    """The caller's registered findings the request names, once its detector is the caller's."""
    response.guardduty_backend.get_detector(response.path.split("/")[-3])
    request = json.loads(response.body or "{}")
    known = _FINDINGS.get((response.current_account, response.region), {})
    wanted = request.get("findingIds") or []
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise _GuardDutyBadRequest(f"{_GUARDDUTY_INVALID_INPUT} Unknown findingIds: {', '.join(unknown)}")
    return request, [known[i] for i in wanted]


def _set_on_findings(findings, member, value):
    for finding in findings:
        finding.setdefault("service", {})[member] = value
    return "{}"


def _update_findings_feedback(self):
    request, findings = _callers_findings(self)
    if request.get("feedback") not in _FEEDBACK_VALUES:
        raise _GuardDutyBadRequest(f"{_GUARDDUTY_INVALID_INPUT} feedback: {request.get('feedback')}")
    return _set_on_findings(findings, "userFeedback", request["feedback"])


def _archive_findings(self):
    return _set_on_findings(_callers_findings(self)[1], "archived", True)


def _unarchive_findings(self):
    return _set_on_findings(_callers_findings(self)[1], "archived", False)


guardduty_urls.url_paths["{0}/detector/(?P<detector_id>[^/]+)/findings/feedback$"] = GuardDutyResponse.dispatch
guardduty_urls.url_paths["{0}/detector/(?P<detector_id>[^/]+)/findings/archive$"] = GuardDutyResponse.dispatch
guardduty_urls.url_paths["{0}/detector/(?P<detector_id>[^/]+)/findings/unarchive$"] = GuardDutyResponse.dispatch
GuardDutyResponse.update_findings_feedback = _update_findings_feedback
GuardDutyResponse.archive_findings = _archive_findings
GuardDutyResponse.unarchive_findings = _unarchive_findings


# (account, region) of the caller -> action target ARN -> the target as DescribeActionTargets lists it
_ACTION_TARGETS = {}


class _SecurityHubConflict(ServiceException):
    code = "ResourceConflictException"


def _create_action_target(self):
    request = json.loads(self.body or "{}")
    target_id = request.get("Id") or ""
    if not (target_id.isalnum() and len(target_id) <= 20 and 0 < len(request.get("Name") or "") <= 20):
        raise _SecurityHubInvalidInput("Invalid parameter: Id and Name must be 1 to 20 characters, Id alphanumeric.")
    if not request.get("Description"):
        raise _SecurityHubInvalidInput("Invalid parameter 'Description': it is required.")
    arn = f"arn:aws:securityhub:{self.region}:{self.current_account}:action/custom/{target_id}"
    targets = _ACTION_TARGETS.setdefault((self.current_account, self.region), {})
    if arn in targets:
        raise _SecurityHubConflict(f"The action target {arn} already exists.")
    targets[arn] = {"ActionTargetArn": arn, "Name": request["Name"], "Description": request["Description"]}
    return json.dumps({"ActionTargetArn": arn})


def _describe_action_targets(self):
    wanted = json.loads(self.body or "{}").get("ActionTargetArns")
    targets = _ACTION_TARGETS.get((self.current_account, self.region), {})
    return json.dumps({"ActionTargets": [t for arn, t in targets.items() if wanted is None or arn in wanted]})


securityhub_urls.url_paths["{0}/actionTargets$"] = SecurityHubResponse.dispatch
securityhub_urls.url_paths["{0}/actionTargets/get$"] = SecurityHubResponse.dispatch
SecurityHubResponse.create_action_target = _create_action_target
SecurityHubResponse.describe_action_targets = _describe_action_targets


from moto.events.models import EventPattern  # noqa: E402


def _flatten_through_arrays(node, prefix="", result=None):
    if result is None:
        result = {}
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict) and v:
                _flatten_through_arrays(v, key, result)
            elif isinstance(v, list) and any(isinstance(e, dict) for e in v):
                for element in v:
                    if not isinstance(element, dict):
                        result.setdefault(key, []).append(element)
                        continue
                    for path, value in _flatten_through_arrays(element, key, {}).items():
                        values = result.setdefault(path, [])
                        values.extend(value if isinstance(value, list) else [value])
            else:
                result[key] = v
    return result


EventPattern._flatten_dict = staticmethod(_flatten_through_arrays)


def _patch_ecs():
    import hashlib

    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ecs import models as ecs_models

    def private_dns_name(self):
        return "ip-" + str(self.private_ip_address).replace(".", "-") + ".ec2.internal"

    if not hasattr(NetworkInterface, "private_dns_name"):
        NetworkInterface.private_dns_name = property(private_dns_name)

    original_task_init = ecs_models.Task.__init__

    def task_init(self, *args, **kwargs):
        original_task_init(self, *args, **kwargs)
        ec2 = ec2_backends[self._account_id][self.region_name]
        for attachment in self.attachments:
            for detail in attachment.get("details", []):
                if detail.get("name") == "networkInterfaceId":
                    eni = ec2.get_network_interface(detail["value"])
                    eni.requester_managed = True
                    eni.description = (
                        f"arn:aws:ecs:{self.region_name}:{self._account_id}:attachment/{attachment['id']}"
                    )

    ecs_models.Task.__init__ = task_init

    original_modify = NetworkInterfaceBackend.modify_network_interface_attribute

    def modify(self, eni_id, group_ids, *args, **kwargs):
        if group_ids and getattr(self.get_network_interface(eni_id), "requester_managed", False):
            raise EC2ClientError("UnauthorizedOperation", "You are not authorized to perform this operation.")
        return original_modify(self, eni_id, group_ids, *args, **kwargs)

    NetworkInterfaceBackend.modify_network_interface_attribute = modify

    def image_digest(self):
        return "sha256:" + hashlib.sha256(str(self.image).encode()).hexdigest()

    original_container_init = ecs_models.Container.__init__

    def container_init(self, *args, **kwargs):
        original_container_init(self, *args, **kwargs)
        # The API's Container has cpu and memory as strings.
        for field in ("cpu", "memory"):
            if getattr(self, field, None) is not None:
                setattr(self, field, str(getattr(self, field)))

    ecs_models.Container.__init__ = container_init

    ecs_models.Container.image_digest = property(image_digest)
    ecs_models.ContainerInstance.tags = []

    original_get_resource = ecs_models.EC2ContainerServiceBackend._get_resource

    def get_resource(self, resource_arn, parsed_arn):
        if parsed_arn["service"] == "container-instance":
            instance_id = parsed_arn["id"].split("/")[-1]
            for instances in self.container_instances.values():
                if instance_id in instances:
                    found = instances[instance_id]
                    if "tags" not in found.__dict__:
                        found.tags = []
                    return found
            raise ecs_models.EcsClientException("Container instance not found.")
        return original_get_resource(self, resource_arn, parsed_arn)

    ecs_models.EC2ContainerServiceBackend._get_resource = get_resource

    # moto walks a task a step towards STOPPED each time it is described; a
    # task ECS runs keeps running until it is stopped.
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})


_patch_ecs()


def _exit_with_parent(parent):
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)


def main():
    port = sys.argv[1]
    parent = int(os.environ.get("EMULATOR_PARENT_PID", os.getppid()))
    # The process whose life bounds the emulator's (the test binary).
    if parent > 1:
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    main()
