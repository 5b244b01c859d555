#!/usr/bin/env bash
# The build and lint tools, from PyPI into the project's own venv (no global
# installs): cargo-lambda (with zig), the AWS SAM CLI, cfn-lint and its
# serverless rules, pinned in tools/requirements.lock.
# Usage: scripts/tools.sh install | path   (path prints the venv's bin dir)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/build-venv"
LOCK="$ROOT/tools/requirements.lock"

install() {
    local want
    want="$(sha256sum <"$LOCK" | cut -d' ' -f1)"
    if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$want" ]; then
        return 0
    fi
    local py="${PYTHON_TOOLS:-python3}"
    echo "tools: creating $VENV (cargo-lambda, sam, cfn-lint; about a minute, from PyPI)" >&2
    rm -rf "$VENV"
    mkdir -p "$ROOT/.tools"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$LOCK"
    echo "$want" >"$VENV/.stamp"
}

case "${1:-}" in
install) install ;;
path) install && echo "$VENV/bin" ;;
*) echo "usage: scripts/tools.sh install|path" >&2; exit 2 ;;
esac
