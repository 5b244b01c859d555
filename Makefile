# lambda-rollout. Quick start on a fresh machine: `make demo`, then `make test`.
.PHONY: demo test lint emulator-up emulator-down build clean

# The main job, locally: a rollout ticked to promotion against the emulator.
demo:
	scripts/demo.sh

# Everything: emulator venv if missing, emulator up, all tests, emulator down.
test:
	scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# For manual use: then `source .tools/emulator-4566/env` and use the CLI.
emulator-up:
	scripts/emulator.sh up

emulator-down:
	scripts/emulator.sh down

build:
	cargo build --release

clean:
	scripts/emulator.sh down
	cargo clean
