#!/usr/bin/env bash
# Runs every native fuzz target in the module for the given time each
# (default 10s), one after the other. Used by `make fuzz`.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${1:-10s}"

grep -rl --include='*_test.go' '^func Fuzz' . | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | awk '{print $2}'); do
		echo "== $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
done
