"""Prints each function's IAM policy from infra/template.yaml as JSON.

For the least-privilege end-to-end test: {function name: [actions]}, the
actions of every Allow statement of the function's role (inline policies;
the managed logging policy is the Lambda service's, not the code's). The
function name is the role's Description, which the template sets to it.

The emulator authorizes on actions only (it passes no resource and no
condition context), so resources and conditions are left out here; they
are checked by cfn-lint and checkov instead.

Usage: python tests/infra/policies.py [TEMPLATE]
"""

import json
import os
import sys

import yaml


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Sub, !Ref, !GetAtt...) as plain values."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


TemplateLoader.add_multi_constructor("!", _any_tag)


def policies(template_path):
    with open(template_path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=TemplateLoader)
    out = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        function = props.get("Description")
        actions = []
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                # A conditional statement (!If [condition, statement, NoValue])
                # counts as it is when its condition holds.
                if isinstance(statement, list) and len(statement) == 3:
                    statement = statement[1]
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                listed = statement["Action"]
                for action in [listed] if isinstance(listed, str) else listed:
                    if action not in actions:
                        actions.append(action)
        if function:
            out[function] = actions
    return out


def denies(template_path):
    """{function name: [its Deny statements]}, resolved with the sample
    values of policy_check.py (account 123456789012, the emulator's), for
    the test that runs a function under its Denies."""
    import policy_check

    template = policy_check.load(*os.path.split(template_path))
    roles = {k: r["Properties"].get("Description") for k, r in template["Resources"].items() if r.get("Type") == "AWS::IAM::Role"}
    out = {description: [] for description in roles.values()}
    for role, _, document in policy_check.policies(template):
        out[roles[role]] += [s for s in document["Statement"] if s.get("Effect") == "Deny"]
    return out


if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = [a for a in sys.argv[1:] if a != "--denies"]
    path = args[0] if args else os.path.join(root, "infra", "template.yaml")
    json.dump(denies(path) if "--denies" in sys.argv else policies(path), sys.stdout, indent=2)
    print()
