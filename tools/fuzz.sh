#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (default 3s): `go test -fuzz` takes one target
# at a time, so we list them first. Found crashers are written under the package's testdata/fuzz and fail
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
n=0
while read -r pkg; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/akciz-fuzz.$$ 2>&1 || { cat /tmp/akciz-fuzz.$$; rm -f /tmp/akciz-fuzz.$$; exit 1; }
    n=$((n+1))
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | xargs -r -n1 dirname | sort -u | sed 's|^\.|github.com/akciz/akciz|')
rm -f /tmp/akciz-fuzz.$$
echo "fuzz: $n targets, $fuzztime each"
