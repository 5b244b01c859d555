#!/usr/bin/env bash
# What you would do with the AWS CLI, against the local stack of
# `make deploy-local` (no AWS CLI needed: the emulator's own boto3 does it).
#   scripts/local.sh invoke 'JSON'          the deployed orchestrator, one event
#   scripts/local.sh publish MESSAGE [FAIL] a new version of the demo function
#                                           (FAIL: its handler raises)
#   scripts/local.sh traffic N              N requests through the API (alias live)
#   scripts/local.sh alarm NAME STATE       create the alarm if missing, set its state
# EMULATOR_PORT (4566) and DEMO_FUNCTION (hello-blue-green) as for deploy-local.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${EMULATOR_PORT:-4566}"
ENV_FILE="$ROOT/.tools/emulator-$PORT/env"
[ -f "$ENV_FILE" ] || { echo "local.sh: no emulator on port $PORT: run make deploy-local first" >&2; exit 1; }
# shellcheck disable=SC1090
source "$ENV_FILE"
export DEMO_FUNCTION="${DEMO_FUNCTION:-hello-blue-green}"
export ORCHESTRATOR="$(cat "$ROOT/target/deploy-local/$PORT/orchestrator" 2>/dev/null || true)"
export API_URL="$(cat "$ROOT/target/deploy-local/$PORT/api-url" 2>/dev/null || true)"
export DEMO_APP="$ROOT/demo/hello/app.py"
exec "$ROOT/.tools/emulator-venv/bin/python" - "$@" <<'PY'
import io, json, os, sys, time, urllib.request, zipfile
import boto3

def client(name):
    return boto3.client(name, region_name=os.environ.get("AWS_REGION", "us-east-1"))

def usage():
    sys.exit("usage: scripts/local.sh invoke JSON | publish MESSAGE [FAIL] | traffic N | alarm NAME STATE")

args = sys.argv[1:]
if not args:
    usage()
cmd, rest = args[0], args[1:]
fn = os.environ["DEMO_FUNCTION"]
if cmd == "invoke" and len(rest) == 1:
    if not os.environ["ORCHESTRATOR"]:
        sys.exit("local.sh: no deployed orchestrator: run make deploy-local first")
    out = client("lambda").invoke(FunctionName=os.environ["ORCHESTRATOR"], Payload=rest[0].encode())
    body = out["Payload"].read().decode()
    print(json.dumps(json.loads(body), indent=1) if body else "")
    sys.exit(1 if out.get("FunctionError") else 0)
elif cmd == "publish" and len(rest) in (1, 2):
    app = open(os.environ["DEMO_APP"]).read().replace('"Hello From Blue Deployment"', json.dumps(rest[0]))
    if len(rest) == 2:
        app += '\n\ndef lambda_handler(event, context):\n    raise RuntimeError("this version is broken")\n'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", app)
    lam = client("lambda")
    lam.update_function_code(FunctionName=fn, ZipFile=buf.getvalue())
    lam.get_waiter("function_updated").wait(FunctionName=fn)
    print("published version", lam.publish_version(FunctionName=fn)["Version"], "of", fn)
elif cmd == "traffic" and len(rest) == 1:
    seen = {}
    for _ in range(int(rest[0])):
        try:
            body = urllib.request.urlopen(os.environ["API_URL"], timeout=10).read().decode()
        except Exception as e:
            body = f"error {e}"
        seen[body] = seen.get(body, 0) + 1
    for body, n in sorted(seen.items()):
        print(f"{n:5}  {body[:80]}")
elif cmd == "alarm" and len(rest) == 2:
    cw = client("cloudwatch")
    name, state = rest
    if not cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        cw.put_metric_alarm(AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors",
                            Dimensions=[{"Name": "FunctionName", "Value": fn}], Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=5,
                            ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by hand (local.sh)")
    print("alarm", name, "is", state)
else:
    usage()
PY
