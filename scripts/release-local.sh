#!/usr/bin/env bash
# make release-local: a release pipeline on the local stack. Deploys it (make
# deploy-local, with a minute-scale policy: steps 25/50/100, a minute's bake,
# auto_start), publishes
# a new version of the demo function, and runs `lambda-rollout wait` on it,
# passing its exit code through (0 promoted, 3 rolled back: README, "Follow a
# rollout"). The emulator stores the stack's schedule but does not fire it, so
# this script stands in for it: a tick a minute, and requests through the API
# (a few a second) for the verdict to judge. About five minutes.
#
# Environment: RELEASE_FAIL=1 publishes a version whose handler raises (the
# rollout is rolled back, exit 3); EMULATOR_PORT as for deploy-local;
# RELEASE_SKIP_DEPLOY=1 uses the stack as it is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
log() { echo "release-local: $*" >&2; }

policy='{"steps":[25,50,100],"bake":"1m","metric_lag":"30s","min_invocations":20,"error_floor":5,"evidence_from":100,"max_error_rate":2,"max_latency_ratio":3,"auto_start":true}'
if [ "${RELEASE_SKIP_DEPLOY:-}" != 1 ]; then
    deploy_log="target/release-local-deploy.log"
    mkdir -p target
    log "deploying the local stack (make deploy-local; its log: $deploy_log)"
    if ! PARAMETERS="PolicyJson=$policy ${PARAMETERS:-}" scripts/deploy-local.sh >"$deploy_log" 2>&1; then
        tail -20 "$deploy_log" >&2
        log "deploy-local failed (the whole log: $deploy_log)"
        exit 1
    fi
fi
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
orchestrator="$(cat "target/deploy-local/$EMULATOR_PORT/orchestrator")"
function="${DEMO_FUNCTION:-hello-blue-green}"

message="Hello From Release $(date -u +%H:%M:%S)"
if [ "${RELEASE_FAIL:-}" = 1 ]; then
    published="$(scripts/local.sh publish "$message" FAIL)"
else
    published="$(scripts/local.sh publish "$message")"
fi
version="$(echo "$published" | awk '{print $3}')"
log "$published"

# The schedule's stand-in, in the background until wait ends.
(
    while true; do
        began=$SECONDS
        scripts/local.sh invoke '{"action":"tick"}' >/dev/null 2>&1 || true
        while ((SECONDS - began < 60)); do
            scripts/local.sh traffic 40 >/dev/null 2>&1 || true
        done
    done
) &
schedule=$!
trap 'kill "$schedule" 2>/dev/null || true; wait "$schedule" 2>/dev/null || true' EXIT

set +e
target/release/lambda-rollout wait --function "$function" --alias live --version "$version" \
    --orchestrator "$orchestrator" --timeout 15m --interval 5s
code=$?
set -e
log "wait exited $code"
exit "$code"
