#!/bin/bash
# Runs every measurement of DESIGN.md in sequence; output in results/.
set -e
cd "$(dirname "$0")"
mkdir -p results
{ date -u; nproc; node -v; grep -m1 'model name' /proc/cpuinfo; free -g | head -2; df -h "${TMPDIR:-/tmp}" | tail -1; } > results/machine.txt
node bench-basic.mjs 1000000 > results/basic.txt 2>&1
node bench-nxt.mjs 1000000 > results/nxt.txt 2>&1
./run-prefetch.sh
node bench-checkpoint.mjs 1000000 > results/checkpoint.txt 2>&1
node bench-incremental.mjs > results/incremental.txt 2>&1
node bench-optimistic.mjs > results/optimistic.txt 2>&1
node probe-properties.mjs > results/properties.txt 2>&1
node bench-worker.mjs 1000000 > results/worker.txt 2>&1
date -u >> results/machine.txt
