# lambda-rollout. Quick start on a fresh machine: `make demo`, then `make test`.
.PHONY: demo demo-live demo-lambda release-local test lint build deploy deploy-local stackset-template bench bench-profiles bench-judgment faults emulator-up emulator-down clean

# The main job, locally: rollouts ticked against the emulator, no AWS account.
demo:
	scripts/demo.sh

# The seed's scenario in real time on the local stack (make deploy-local):
# requests through API Gateway, the orchestrator a Lambda ticked every minute;
# about seven minutes. Leaves the emulator running.
demo-live:
	scripts/demo-live.sh

# The real Lambda path: the handler under `cargo lambda watch`, invoked with a
# scheduled event against the emulator.
demo-lambda:
	scripts/demo-lambda.sh

# A release on the local stack: publish a new version of the demo function and
# `wait` for its verdict, exit code passed through (RELEASE_FAIL=1: a failing
# version, exit 3). About five minutes; leaves the emulator running.
release-local:
	scripts/release-local.sh

# Everything: emulator venv if missing, emulator up, all tests, emulator down.
test:
	scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	scripts/lint-template.sh

# The arm64 Lambda zip: target/lambda-arm64/lambda-rollout/bootstrap.zip
build:
	scripts/build.sh

# template.yaml into the local emulator's CloudFormation, with this machine's
# build of the orchestrator; leaves the emulator running (make emulator-down).
deploy-local:
	scripts/deploy-local.sh

# template.yaml as StackSets with service-managed permissions take it (no
# transform, code from a bucket per region): target/stackset/template.json.
# README, Past one account.
stackset-template:
	scripts/stackset-template.sh

# Needs AWS credentials: `sam build` then a guided `sam deploy`.
deploy:
	PATH="$$(scripts/tools.sh path):$$PATH" sam build
	PATH="$$(scripts/tools.sh path):$$PATH" sam deploy --guided

# Tick over 1-500 targets, control-plane calls and metric data points of a
# 500-target fleet, cold start, peak RSS, zip size: BENCHMARKS.md.
bench:
	scripts/bench.sh

# The release profile and SDK features, measured: seven variants, each built
# natively and for arm64 (about an hour on 2 cores); a table in BENCHMARKS.md.
bench-profiles:
	scripts/bench_profiles.sh

# The fault-injection suites at full size (1,000 scenarios each, 8 lanes, each
# suite on a fresh emulator; times in BENCHMARKS.md, about 30 to 55 min each);
# writes their figures into BENCHMARKS.md.
faults:
	scripts/faults.sh

# How well the default policy judges, against two baselines, on seeded
# scenarios (a few minutes): writes the table into BENCHMARKS.md.
bench-judgment:
	cargo run --release --example bench_judgment -- --seed 2026 --reps 10 --write BENCHMARKS.md

# For manual use: then `source .tools/emulator-4566/env` and use the CLI.
emulator-up:
	scripts/emulator.sh up

emulator-down:
	scripts/emulator.sh down

clean:
	scripts/emulator.sh down
	cargo clean
