#!/usr/bin/env bash
# template.yaml checks, offline: cfn-lint with the serverless rules, and
# `sam validate --lint`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$(scripts/tools.sh path)"
"$BIN/cfn-lint" --append-rules cfn_lint_serverless.rules -- template.yaml
# The region only names the schema set to validate against; nothing is called.
SAM_CLI_TELEMETRY=0 "$BIN/sam" validate --lint --region us-east-1 --template-file template.yaml
