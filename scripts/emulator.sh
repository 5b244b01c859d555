#!/usr/bin/env bash
# The local AWS emulator (LocalStack, host mode, no Docker) for lambda-rollout's
# tests and demo. Usage: scripts/emulator.sh install|up|down|status|env
#
#   install  create the emulator's Python venv (pinned, from PyPI) if missing
#   up       install, start the emulator, wait until it answers, write the env file
#   down     stop the emulator this script started (by its recorded PID only)
#   env      print the AWS environment that points the SDK at it
#
# EMULATOR_PORT (default 4566) and EMULATOR_STATE (default .tools/emulator-<port>)
# let tests run their own emulator beside one started by hand.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/emulator-venv"
PORT="${EMULATOR_PORT:-4566}"
STATE="${EMULATOR_STATE:-$TOOLS/emulator-$PORT}"
LOCK="$ROOT/emulator/requirements.lock"
PLUGIN="$ROOT/emulator/plugin"

log() { echo "emulator: $*" >&2; }

find_python() {
    # LocalStack 2026.3.0 imports warnings.deprecated (Python 3.13) although its
    # metadata says 3.10.
    local c
    for c in "${PYTHON:-}" python3.13 python3.12 python3; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    # pyenv installs versions that its shims only expose when selected.
    local root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for c in "$root"/versions/3.1[3-9]*/bin/python3; do
        if [ -x "$c" ] && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)'; then
            echo "$c"
            return 0
        fi
    done
    log "Python 3.13 or newer is needed for LocalStack; install one (e.g. pyenv install 3.13) or set PYTHON=/path/to/python3.13"
    return 1
}

stamp() {
    cat "$LOCK" "$PLUGIN/pyproject.toml" "$PLUGIN"/lambda_rollout_emulator/*.py | sha256sum | cut -d' ' -f1
}

install() {
    local want
    want="$(stamp)"
    if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$want" ]; then
        return 0
    fi
    if [ -x "$VENV/bin/python" ] && [ -f "$VENV/.locked" ] && [ "$(cat "$VENV/.locked")" = "$(sha256sum <"$LOCK")" ]; then
        log "reinstalling the emulator plugin (emulator/plugin changed)"
        # setuptools keeps a build/ copy that would carry deleted modules along.
        rm -rf "$PLUGIN/build"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$PLUGIN"
        echo "$want" >"$VENV/.stamp"
        return 0
    fi
    local py
    py="$(find_python)"
    log "creating $VENV with $py (about a minute, from PyPI)"
    rm -rf "$VENV"
    mkdir -p "$TOOLS"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$LOCK"
    sha256sum <"$LOCK" >"$VENV/.locked"
    # Not editable: plux's setuptools hook breaks editable builds. The stamp covers
    # the plugin's files, so a change to them reinstalls.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps "$PLUGIN"
    echo "$want" >"$VENV/.stamp"
}

env_lines() {
    cat <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
ENV
}

running() {
    [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null
}

healthy() {
    # The venv's Python, not curl: one tool fewer that a fresh machine must have.
    "$VENV/bin/python" - "$PORT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_localstack/health", timeout=2).read()
PY
}

up() {
    install
    mkdir -p "$STATE"
    if running && healthy; then
        log "already running on 127.0.0.1:$PORT (pid $(cat "$STATE/pid"))"
    else
        if healthy; then
            log "port $PORT already answers but not for an emulator of ours; stop it or set EMULATOR_PORT"
            return 1
        fi
        stop_functions
        rm -rf "$STATE/fs" "$STATE/volume"
        mkdir -p "$STATE/fs" "$STATE/volume"
        (
            cd "$STATE"
            exec env \
                GATEWAY_LISTEN="127.0.0.1:$PORT" \
                GATEWAY_SERVER=hypercorn \
                OVERRIDE_IN_DOCKER=0 \
                FILESYSTEM_ROOT="$STATE/fs" \
                LOCALSTACK_VOLUME_DIR="$STATE/volume" \
                SERVICES=lambda,cloudwatch,iam,events,sns,sqs,logs,sts,s3,cloudformation,apigateway,scheduler,ssm,resourcegroupstaggingapi \
                LAMBDA_RUNTIME_EXECUTOR=lambda-rollout-host \
                LAMBDA_ROLLOUT_PID_DIR="$STATE/functions" \
                DISABLE_EVENTS=1 \
                SKIP_SSL_CERT_DOWNLOAD=1 \
                DNS_ADDRESS=0 \
                "$VENV/bin/python" -m localstack.runtime.main
        ) >"$STATE/localstack.log" 2>&1 &
        echo $! >"$STATE/pid"
        local i
        for i in $(seq 1 120); do
            if healthy; then break; fi
            if ! running; then
                log "it exited during start-up; last lines of $STATE/localstack.log:"
                tail -20 "$STATE/localstack.log" >&2
                return 1
            fi
            sleep 0.5
        done
        if ! healthy; then
            log "no answer on 127.0.0.1:$PORT after 60 s; see $STATE/localstack.log"
            down
            return 1
        fi
        log "up on 127.0.0.1:$PORT (pid $(cat "$STATE/pid")), log in $STATE/localstack.log"
    fi
    env_lines >"$STATE/env"
    log "environment for the AWS SDK / CLI: source $STATE/env"
}

down() {
    if ! [ -f "$STATE/pid" ]; then
        log "not running (no $STATE/pid)"
        return 0
    fi
    local pid i
    pid="$(cat "$STATE/pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "still running after 15 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$STATE/pid"
    stop_functions
    log "stopped"
}

# The functions' processes (host executor): LocalStack stops them when it
# stops; any it left behind (it was killed) are stopped here, each by the PID
# it recorded, with its whole process group.
stop_functions() {
    local f pid
    [ -d "$STATE/functions" ] || return 0
    for f in "$STATE/functions"/*; do
        [ -e "$f" ] || continue
        pid="$(basename "$f")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    done
}

case "${1:-}" in
install) install ;;
up) up ;;
down) down ;;
status) if running && healthy; then echo "up on 127.0.0.1:$PORT"; else echo "down"; exit 1; fi ;;
env) env_lines ;;
*)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
