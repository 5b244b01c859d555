#!/usr/bin/env bash
# make demo-lambda: the real Lambda path. The handler runs under
# `cargo lambda watch` (the Lambda runtime API, locally), and `cargo lambda
# invoke` sends it the scheduled event from events/, against the emulator:
# with auto_start, the tick starts a rollout of a newly published version; then
# status and rollback go through the same path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
PORT="${INVOKE_PORT:-9010}"
cleanup() {
    [ -n "${WATCH_PID:-}" ] && kill -- "-$WATCH_PID" 2>/dev/null || true
    [ -n "${STARTED:-}" ] && scripts/emulator.sh down || true
}
trap cleanup EXIT
if ! scripts/emulator.sh status >/dev/null 2>&1; then
    STARTED=1
    scripts/emulator.sh up
fi
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
TOOLS="$(scripts/tools.sh path)"
export PATH="$TOOLS:$PATH"
AWS=".tools/emulator-venv/bin/aws"

echo "== setting up: the demo's hello function (version 2 live, 3 rolled back)"
cargo run --quiet --example demo >/dev/null
echo "== publishing version 4 of hello"
work="$(mktemp -d)"
printf 'def lambda_handler(event, context):\n    return {"statusCode": 200, "body": "Hello From Version 4"}\n' >"$work/lambda_function.py"
(cd "$work" && "$ROOT/.tools/emulator-venv/bin/python" -m zipfile -c code.zip lambda_function.py)
"$AWS" lambda update-function-code --function-name hello --zip-file "fileb://$work/code.zip" >/dev/null
sleep 1
"$AWS" lambda publish-version --function-name hello --query Version --output text

env_file="$work/env"
{
    env | grep -E '^AWS_(ENDPOINT_URL|ACCESS_KEY_ID|SECRET_ACCESS_KEY|REGION|EC2_METADATA_DISABLED)='
    # dotenv format: the JSON value is single-quoted.
    echo "LAMBDA_ROLLOUT_TARGETS='[{\"function\":\"hello\",\"alias\":\"live\",\"policy\":{\"auto_start\":true,\"bake\":\"1m\"}}]'"
    echo 'RUST_LOG=info'
} >"$env_file"

echo "== cargo lambda watch on 127.0.0.1:$PORT"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --env-file "$env_file" \
    >"$work/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    if ! kill -0 "$WATCH_PID" 2>/dev/null; then
        echo "demo-lambda: cargo lambda watch exited:" >&2
        cat "$work/watch.log" >&2
        exit 1
    fi
    sleep 0.3
done

invoke() {
    echo "== cargo lambda invoke --data-file $1"
    cargo lambda invoke lambda-rollout --invoke-address 127.0.0.1 --invoke-port "$PORT" --data-file "$1" | tee "$work/out.json"
    echo
}
invoke events/scheduled.json
grep -q '"decision":"started"' "$work/out.json" || { echo "demo-lambda: the scheduled tick did not start version 4" >&2; exit 1; }
invoke events/status.json
invoke events/rollback.json
grep -q '"decision":"rolled_back"' "$work/out.json" || { echo "demo-lambda: rollback failed" >&2; exit 1; }
echo "== the handler's log lines (JSON in Lambda with AWS_LAMBDA_LOG_FORMAT=JSON):"
grep -E 'decision' "$work/watch.log" | tail -5 || true
echo "demo-lambda: the Lambda runtime path works: scheduled tick started version 4, rollback rolled it back."
