"""Cloud Custodian's guard-duty Lambda, run the way Lambda runs it, for the benchmark.

Runs under an interpreter that holds c7n and its requirements only.

  peer_lambda.py package POLICY_JSON OUT_DIR
      Builds each policy's Lambda archive with c7n's own packager
      (c7n.mu.PolicyLambda(policy).get_archive()), writes OUT_DIR/<name>.zip,
      unzips it to OUT_DIR/<name>/ and prints {name: zip bytes}. It also writes
      OUT_DIR/<name>-fixed/ for the iam-user policy: the same archive with the
      one-line fix of the guard-duty mode's access-key annotation (a dict where
      the remove-keys action reads a list), so both the shipped behaviour and
      the timing of a working policy can be shown.

  peer_lambda.py invoke ARCHIVE_DIR EVENT_FILE [EVENT_FILE ...]
      Is one fresh Lambda sandbox: imports the handler module from the archive
      (Lambda's init), then calls custodian_policy.run(event, context) once per
      event file. Prints one JSON line with CLOCK_MONOTONIC instants (comparable
      with the parent's), each invocation's result or exception, and the peak
      RSS of the process.
"""

import json
import os
import resource
import sys
import time

# The access-key annotation in c7n's guard-duty mode, and the same line fixed.
SHIPPED = "resources[0]['c7n:AccessKeys'] = {\n                'AccessKeyId': event['detail']['resource']['accessKeyDetails']['accessKeyId']}"
FIXED = "resources[0]['c7n:AccessKeys'] = [{\n                'AccessKeyId': event['detail']['resource']['accessKeyDetails']['accessKeyId']}]"


class Context:
    """The attributes of a Lambda context object that handlers read."""

    def __init__(self, n):
        self.function_name = "custodian-guard-duty"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:custodian-guard-duty"
        self.memory_limit_in_mb = 512
        self.aws_request_id = f"req-{n}"
        self.log_group_name = "/aws/lambda/custodian-guard-duty"
        self.log_stream_name = "bench"
        self._deadline = time.time() + 60

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.time()) * 1000)


def package(policy_file, out_dir):
    import zipfile

    from c7n.config import Config
    from c7n.mu import PolicyLambda
    from c7n.policy import PolicyCollection
    from c7n.resources import load_resources
    from c7n.structure import StructureParser

    data = json.load(open(policy_file))
    load_resources(StructureParser().get_resource_types(data))
    config = Config.empty(region="us-east-1", account_id="123456789012")
    sizes = {}
    for policy in PolicyCollection.from_data(data, config):
        policy.validate()
        archive = PolicyLambda(policy).get_archive()
        zip_path = os.path.join(out_dir, f"{policy.name}.zip")
        with open(zip_path, "wb") as out:
            out.write(archive.get_bytes())
        sizes[policy.name] = os.path.getsize(zip_path)
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(os.path.join(out_dir, policy.name))
        if policy.resource_type == "iam-user":
            fixed = os.path.join(out_dir, f"{policy.name}-fixed")
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(fixed)
            mode = os.path.join(fixed, "c7n", "policy.py")
            source = open(mode).read()
            if SHIPPED not in source:
                raise SystemExit("the guard-duty access-key annotation was not found: c7n changed")
            open(mode, "w").write(source.replace(SHIPPED, FIXED))
    print(json.dumps(sizes))


def invoke(archive_dir, event_files):
    events = [json.load(open(path)) for path in event_files]
    os.chdir(archive_dir)
    sys.path.insert(0, archive_dir)
    import logging

    # Lambda's Python runtime has a handler on the root logger before init:
    # the handler's log lines are written (to stderr here), as there.
    logging.basicConfig(stream=sys.stderr)
    marks = {"import_start": time.monotonic()}
    import custodian_policy  # noqa: E402  (Lambda's init phase)

    marks["ready"] = time.monotonic()
    results = []
    for n, event in enumerate(events):
        started = time.monotonic()
        try:
            custodian_policy.run(event, Context(n))
            error = None
        except Exception as exc:  # the Lambda runtime reports it as a failed invocation
            error = f"{type(exc).__name__}: {exc}"
        results.append({"start": started, "end": time.monotonic(), "error": error})
    print(
        json.dumps(
            {
                "marks": marks,
                "invocations": results,
                "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["package"] and len(sys.argv) == 4:
        package(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["invoke"] and len(sys.argv) >= 4:
        invoke(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(__doc__)
