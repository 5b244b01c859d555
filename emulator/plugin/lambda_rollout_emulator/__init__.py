"""LocalStack plugins used by lambda-rollout's tests and demo.

Each fix is named for the upstream defect it works around and has a test in
tests/emulator_fixes.rs that fails if the fix is removed.
"""
