#!/usr/bin/env bash
# make build: the Lambda zip with cargo-lambda, for arm64 (what template.yaml
# deploys). arm64 needs Rust's standard library for aarch64; if rustup cannot
# fetch it, the build falls back to x86-64 and says what to change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="$(scripts/tools.sh path):$PATH"
export PATH
arch=arm64
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    if ! rustup target add aarch64-unknown-linux-gnu; then
        arch=x86-64
        echo "build: the aarch64 standard library could not be installed (rustup needs its" \
            "toolchain server); building for x86-64 instead. To deploy this zip, set" \
            "Architectures: [x86_64] on RolloutFunction in template.yaml." >&2
    fi
fi
cargo lambda build --release "--$arch" --output-format zip --bin lambda-rollout \
    --lambda-dir "target/lambda-$arch"
zip="target/lambda-$arch/lambda-rollout/bootstrap.zip"
echo "build: $zip ($(stat -c %s "$zip") bytes, $arch)"
