#!/usr/bin/env bash
# make stackset-template: template.yaml as CloudFormation StackSets with
# service-managed permissions take it (README, Past one account). Those run
# no macros, the AWS::Serverless transform included, so the SAM template is
# expanded here, offline, by the SAM translator the sam CLI ships, into plain
# CloudFormation:
# - without the demo app (its resources, outputs, parameters and condition);
# - the orchestrator's code read from ${ArtifactBucketPrefix}-${AWS::Region},
#   key ${ArtifactKey}: Lambda takes code only from a bucket in the function's
#   own region, so a StackSet over several regions needs one bucket in each;
# - no function named by default (ManagedFunctionNames empty): in an
#   organization, teams onboard their functions by tag.
# Writes target/stackset/template.json (compact: StackSets take at most
# 51,200 bytes inline) and lints it with cfn-lint.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$(scripts/tools.sh path)"
OUT="$ROOT/target/stackset"
mkdir -p "$OUT"
# The translator wants a region to resolve pseudo parameters with; the
# template it writes keeps ${AWS::Region} (checked below).
AWS_DEFAULT_REGION=us-east-1 "$BIN/python" - "$ROOT/template.yaml" "$OUT/template.json" <<'PY'
import json
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

src, out = sys.argv[1], sys.argv[2]
t = yaml_parse(open(src).read())

demo = {k for k, r in t["Resources"].items() if r.get("Condition") == "WithDemo"}
for k in demo:
    del t["Resources"][k]
t["Outputs"] = {k: o for k, o in t.get("Outputs", {}).items() if o.get("Condition") != "WithDemo"}
for p in ("DeployDemo", "DemoFunctionName"):
    del t["Parameters"][p]


def unnamed(node):
    """The ready-to-paste commands name the demo function: FUNCTION instead."""
    if node == {"Ref": "DemoFunctionName"}:
        return "FUNCTION"
    if isinstance(node, dict):
        return {k: unnamed(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unnamed(v) for v in node]
    return node


t["Outputs"] = unnamed(t["Outputs"])
del t["Conditions"]["WithDemo"]
left = json.dumps(t)
for name in sorted(demo) + ["WithDemo", "DeployDemo", "DemoFunctionName"]:
    if f'"{name}"' in left or "${" + name in left:
        sys.exit(f"stackset-template: {name} is still referenced once the demo is removed")

t["Parameters"]["ManagedFunctionNames"]["Default"] = ""
t["Parameters"]["TargetsJson"]["Default"] = "[]"
t["Parameters"]["ArtifactBucketPrefix"] = {
    "Type": "String",
    "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$",
    "Description": "The orchestrator's zip is read from the bucket PREFIX-REGION "
    "of each region the StackSet deploys to.",
}
t["Parameters"]["ArtifactKey"] = {
    "Type": "String",
    "Default": "lambda-rollout/bootstrap.zip",
    "Description": "The zip's key in each region's bucket (make build's bootstrap.zip).",
}
fn = t["Resources"]["RolloutFunction"]
fn.pop("Metadata", None)
fn["Properties"]["CodeUri"] = {
    "Bucket": {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"},
    "Key": {"Ref": "ArtifactKey"},
}


class NoManagedPolicies:
    """The template names no managed policy by name: nothing to look up."""

    def load(self):
        return {}


cfn = transform(t, {}, NoManagedPolicies())
text = json.dumps(cfn, separators=(",", ":"), sort_keys=True)
if len(text) > 51200:
    sys.exit(f"stackset-template: {len(text)} bytes, over StackSets' 51,200 inline: use --template-url")
open(out, "w").write(text)
print(f"stackset-template: {out} ({len(text)} bytes)", file=sys.stderr)
PY
"$BIN/cfn-lint" -- "$OUT/template.json"
