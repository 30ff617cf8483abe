#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (default 3s): `go test -fuzz` takes one target
# at a time, so we list them first. Found crashers are written under the package's testdata/fuzz and fail
# the run.
#
# Go's fuzzer sometimes ends a run whose time is up with a bare "context deadline exceeded" and no
# failing input (the coordinator's deadline reaching a worker mid-input): that is not a finding, so such
# a run is tried once more; a run that wrote a failing input always fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0
while read -r pkg; do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for try in 1 2; do
      echo "fuzz $pkg $target ($fuzztime)"
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        break
      fi
      if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz $pkg $target: the fuzzer's own deadline, no finding; once more"
        continue
      fi
      cat "$log"
      exit 1
    done
    n=$((n+1))
  done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | xargs -r -n1 dirname | sort -u | sed 's|^\.|github.com/akciz/akciz|')
echo "fuzz: $n targets, $fuzztime each"
