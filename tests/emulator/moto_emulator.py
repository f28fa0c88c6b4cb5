"""Runs moto's server for the project's tests and demo, with two fidelity patches.

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
