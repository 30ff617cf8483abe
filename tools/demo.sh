#!/usr/bin/env bash
# The main job: `akciz demo` — the fuel-depot simulator, the ИКУНК's agent and the agency's server with its
# web console, in one process (docs/demo.md). Data and demo certificates stay in DEMO_DIR (./akciz-demo), so
# that a second run continues; the console listens on DEMO_HTTP (127.0.0.1:8080). Ctrl-C stops it.
# Extra arguments go to akciz demo (e.g. --lang en, --speed 30).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${AKCIZ:-bin/akciz}
exec "$bin" demo --dir "${DEMO_DIR:-akciz-demo}" --http "${DEMO_HTTP:-127.0.0.1:8080}" "$@"
