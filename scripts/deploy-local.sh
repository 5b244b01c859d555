#!/usr/bin/env bash
# make deploy-local: template.yaml deployed into the local emulator's
# CloudFormation (with the SAM transform it ships), no AWS account. The
# orchestrator is this machine's release build (a bootstrap the emulator's
# host executor can run), the Architecture parameter this machine's.
# Leaves the emulator running (make emulator-down stops it); prints the
# stack's outputs and the demo API's local URL, and leaves that URL and the
# orchestrator's name in target/deploy-local/$EMULATOR_PORT/api-url and
# .../orchestrator.
#
# Environment: EMULATOR_PORT (default 4566), STACK_NAME (default
# lambda-rollout-local), PARAMETERS (extra Key=Value overrides),
# ORCHESTRATOR_BIN (deploy this binary, built for this machine, instead of
# making a release build), STACKSET=1
# (deploy instead what `make stackset-template` writes for StackSets: plain
# CloudFormation, no transform, the code from a bucket of the region's own;
# outputs in target/deploy-local/$EMULATOR_PORT/stackset).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
STACK="${STACK_NAME:-lambda-rollout-local}"
# Per emulator port: the test suite deploys its own stack on its own port
# while a manual one may run, and neither must read the other's outputs.
OUT="$ROOT/target/deploy-local/$EMULATOR_PORT"
[ "${STACKSET:-0}" = 1 ] && OUT="$OUT/stackset"
log() { echo "deploy-local: $*" >&2; }

scripts/emulator.sh up
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
AWS="$ROOT/.tools/emulator-venv/bin/aws"
PY="$ROOT/.tools/emulator-venv/bin/python"

case "$(uname -m)" in
x86_64) arch=x86_64 ;;
aarch64 | arm64) arch=arm64 ;;
*) log "no Lambda architecture for $(uname -m)"; exit 1 ;;
esac

mkdir -p "$OUT"
if [ -n "${ORCHESTRATOR_BIN:-}" ]; then
    # A build of this machine's already made (the test suite passes the one
    # cargo built for its own tests): stripped, as the release profile strips,
    # since a dev build's debug info would make a zip of hundreds of MB.
    log "deploying the orchestrator $ORCHESTRATOR_BIN ($arch, stripped)"
    strip -o "$OUT/bootstrap" "$ORCHESTRATOR_BIN"
else
    log "building the orchestrator for this machine ($arch, release)"
    cargo build --quiet --release --bin lambda-rollout
    cp target/release/lambda-rollout "$OUT/bootstrap"
fi
# The bootstrap zip, and a copy of the template whose CodeUris point at what
# was built here (template.yaml itself stays what `sam build` reads).
"$PY" - "$ROOT" "$OUT" <<'PY'
import stat, sys, zipfile
from pathlib import Path
root, out = Path(sys.argv[1]), Path(sys.argv[2])
info = zipfile.ZipInfo("bootstrap")
info.external_attr = (stat.S_IFREG | 0o755) << 16
with zipfile.ZipFile(out / "rollout.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr(info, (out / "bootstrap").read_bytes())
text = (root / "template.yaml").read_text()
orchestrator = "      CodeUri: .\n"
demo = "      CodeUri: demo/hello/\n"
if text.count(orchestrator) != 1 or text.count(demo) != 1:
    sys.exit("deploy-local: template.yaml's CodeUri lines changed; update scripts/deploy-local.sh")
text = text.replace(orchestrator, f"      CodeUri: {out / 'rollout.zip'}\n")
text = text.replace(demo, f"      CodeUri: {root / 'demo/hello'}/\n")
(out / "template.yaml").write_text(text)
PY

# Overrides are separated by spaces (JSON values are written without any).
read -ra overrides <<<"${PARAMETERS:-}"

if [ "${STACKSET:-0}" = 1 ]; then
    # What each StackSet instance deploys: the zip from the bucket
    # PREFIX-REGION, the template already expanded.
    scripts/stackset-template.sh
    prefix="lambda-rollout-stackset-local"
    bucket="$prefix-${AWS_REGION:-us-east-1}"
    "$AWS" s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || "$AWS" s3 mb "s3://$bucket" >/dev/null
    "$AWS" s3 cp --quiet "$OUT/rollout.zip" "s3://$bucket/lambda-rollout/bootstrap.zip"
    log "deploying stack $STACK (the StackSet template)"
    "$AWS" cloudformation deploy --template-file "$ROOT/target/stackset/template.json" \
        --stack-name "$STACK" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
        --parameter-overrides "Architecture=$arch" "ArtifactBucketPrefix=$prefix" "${overrides[@]}"
    "$AWS" cloudformation describe-stacks --stack-name "$STACK" \
        --query "Stacks[0].Outputs[?OutputKey=='OrchestratorName'].OutputValue" \
        --output text >"$OUT/orchestrator"
    log "orchestrator: $(cat "$OUT/orchestrator") (in $OUT/orchestrator)"
    exit 0
fi

bucket="lambda-rollout-local-artifacts"
"$AWS" s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || "$AWS" s3 mb "s3://$bucket" >/dev/null
"$AWS" cloudformation package --template-file "$OUT/template.yaml" --s3-bucket "$bucket" \
    --output-template-file "$OUT/packaged.yaml" >/dev/null
log "deploying stack $STACK"
"$AWS" cloudformation deploy --template-file "$OUT/packaged.yaml" --stack-name "$STACK" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
    --parameter-overrides "Architecture=$arch" "${overrides[@]}"
"$AWS" cloudformation describe-stacks --stack-name "$STACK" \
    --query 'Stacks[0].[StackStatus, Outputs]' --output json
api="$("$AWS" cloudformation describe-stack-resource --stack-name "$STACK" \
    --logical-resource-id HelloApi --query 'StackResourceDetail.PhysicalResourceId' \
    --output text 2>/dev/null || true)"
if [ -n "$api" ] && [ "$api" != "None" ]; then
    # ApiUrl names AWS's host; locally the same stage answers under the emulator.
    echo "$AWS_ENDPOINT_URL/restapis/$api/prod/_user_request_/" >"$OUT/api-url"
    echo "local ApiUrl: $(cat "$OUT/api-url") (also in target/deploy-local/$EMULATOR_PORT/api-url)"
fi
"$AWS" cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='OrchestratorName'].OutputValue" \
    --output text >"$OUT/orchestrator"
