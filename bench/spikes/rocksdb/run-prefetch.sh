#!/bin/bash
# The prefetch simulation's table (part of run-all.sh).
set -e
cd "$(dirname "$0")"
: > results/prefetch.txt
for keys in 100 100000 1000000; do
  for dist in uniform zipf; do
    node bench-prefetch.mjs $keys $dist 2000000 65536 0 >> results/prefetch.txt 2>&1
  done
done
for args in "100000 uniform" "1000000 uniform" "1000000 zipf"; do
  node bench-prefetch.mjs $args 2000000 65536 1 >> results/prefetch.txt 2>&1
done
node bench-prefetch.mjs 100000 uniform 2000000 131072 0 >> results/prefetch.txt 2>&1
node bench-prefetch.mjs 1000000 zipf 2000000 262144 0 >> results/prefetch.txt 2>&1
