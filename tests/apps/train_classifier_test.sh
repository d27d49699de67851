#!/usr/bin/env bash
# A short real training run on Fashion-MNIST must clearly beat chance (10%).
set -euo pipefail
mapet="$1"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$("$mapet" train-classifier --train-limit 6400 --val-limit 1000 --warmup-steps 10 --output "$out" 2>&1)
echo "$log" | tail -4
acc=$(echo "$log" | sed -n 's/.*validation accuracy \([0-9.]*\)%.*/\1/p' | tail -1)
[ -n "$acc" ] || { echo "no accuracy printed"; exit 1; }
[ -f "$out/model.safetensors" ] && [ -s "$out/metrics.jsonl" ] || { echo "run folder incomplete"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a > 35.0) }' || { echo "accuracy $acc% does not clearly beat chance"; exit 1; }
echo "accuracy $acc% (chance 10%)"
