"""Each function binary's size, zip size and cold init, side by side.

Each binary links only its own playbook family's SDKs; this shows what that
costs per function. For every function it reports the release binary, the
size of the Lambda zip holding it as `bootstrap` (deflated, as cargo-lambda
packs it), and the cold init measured through `lambda_probe.py` (spawn to
the first poll for an event: settings, clients, the STS identity call and
the GuardDuty detector look-up against the emulator), median of --runs, with
the peak RSS.

Usage: python bench/function_sizes.py --bin-dir DIR [--runs N] FUNCTION...
"""

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from lambda_probe import run_function  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# An event every function skips without a call of its own (a Medium port probe
# is below the remediation threshold; notify-finding alerts on it).
EVENT = os.path.join(ROOT, "events", "ec2-recon-port-probe-medium.json")


def zipped(binary):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    return out.tell()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("functions", nargs="+")
    args = parser.parse_args()

    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "emulator", "moto_emulator.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("the emulator did not start")
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "NOTIFY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
            # As the template sets them (preserve-evidence needs the key to start).
            "EVIDENCE_BUCKET": "bench-evidence",
            "EVIDENCE_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        }
        event = open(EVENT, "rb").read()
        print("| function | binary | zip | cold init (median) | peak RSS |")
        print("|---|---|---|---|---|")
        for function in args.functions:
            binary = os.path.join(args.bin_dir, function)
            inits, rss = [], []
            for _ in range(args.runs):
                out = run_function(binary, [event], env=env)
                inits.append((out["first_poll"] - out["spawn"]) * 1000)
                rss.append(out["rss_kb"] or 0)
            print(
                f"| {function} | {os.path.getsize(binary) / 1e6:.2f} MB | {zipped(binary) / 1e6:.2f} MB "
                f"| {statistics.median(inits):.1f} ms | {max(rss) / 1024:.1f} MB |"
            )
    finally:
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    main()
