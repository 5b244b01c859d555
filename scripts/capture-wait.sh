#!/usr/bin/env bash
# The README's pictures of `wait` on a real terminal: `make release-local` run
# in a tmux pane, the pane captured with its colours (tmux capture-pane -e)
# mid-rollout and at the end, and drawn as SVG (scripts/terminal-svg.py) into
# docs/wait-terminal.svg and docs/wait-terminal-end.svg. About six minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
session=lambda-rollout-capture
tmux kill-session -t "$session" 2>/dev/null || true
raw="$ROOT/target/capture"
mkdir -p "$raw"
tmux new-session -d -s "$session" -x 150 -y 18 \
    "make --no-print-directory release-local; echo \"[make release-local exited \$?]\"; sleep 900"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
mid=""
for _ in $(seq 1 240); do
    sleep 5
    screen="$(tmux capture-pane -p -e -t "$session")"
    # The last frame whose live line (the last one written) holds at step 2:
    # the most history above a rollout still going.
    live="$(sed 's/\x1b\[[0-9;]*m//g' <<<"$screen" | grep -v '^[[:space:]]*$' | tail -1)"
    if grep -q "step 2/3  next tick: held" <<<"$live"; then
        mid="$screen"
    fi
    if grep -q "make release-local exited" <<<"$screen"; then
        break
    fi
done
[ -n "$mid" ] || { echo "capture-wait: the rollout never reached step 2" >&2; exit 1; }
# The panes as captured are kept (target/capture/) to redraw without a rerun.
printf '%s\n' "$mid" >"$raw/mid.ansi"
tmux capture-pane -p -e -t "$session" >"$raw/end.ansi"
python3 scripts/terminal-svg.py "lambda-rollout wait (make release-local), mid-rollout" <"$raw/mid.ansi" >docs/wait-terminal.svg
python3 scripts/terminal-svg.py "lambda-rollout wait (make release-local), the end" <"$raw/end.ansi" >docs/wait-terminal-end.svg
echo "capture-wait: docs/wait-terminal.svg, docs/wait-terminal-end.svg"
