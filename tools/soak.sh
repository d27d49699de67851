#!/usr/bin/env bash
# Crash soak (not in CI): KILLS random kill -9 during `mapet pretrain`, each followed by
# --resume (which may itself be killed), then the run must end bit-identical to an
# uninterrupted one: the same loss, lr and gradient norm at every step and the same
# final weights. Prints the count of kills and the verdict; exit status 1 on any difference.
# A kill before the first checkpoint leaves nothing to resume: that run starts afresh (counted).
# Usage: tools/soak.sh [MAPET] [KILLS]   (env: AMP=1 adds --amp, EPOCHS, WORK, SEED, KILL_MAX_S:
# each kill comes at a random moment in [0, KILL_MAX_S) seconds after a start, default 3; raise
# it on a slow or loaded machine where one step takes seconds)
# Data: 510 Fashion-MNIST images (51 per class, from the JPEGs of data_cache/fashion-mnist that
# `mapet prepare fashion-mnist` makes) and a pixel k-means tokenizer trained on them.
set -euo pipefail
mapet=$(realpath "${1:-build/apps/mapet}")
kills=${2:-20}
epochs=${EPOCHS:-60}
kill_max_ms=$(( ${KILL_MAX_S:-3} * 1000 ))
work=${WORK:-$(mktemp -d /tmp/mapet-soak.XXXXXX)}
RANDOM=${SEED:-$$}
amp=()
[ "${AMP:-0}" = 1 ] && amp=(--amp)

[ -d data_cache/fashion-mnist/val ] || "$mapet" prepare fashion-mnist --out data_cache/fashion-mnist > /dev/null
mkdir -p "$work/data/train"
for class in data_cache/fashion-mnist/train/*/; do
  name=$(basename "$class")
  mkdir -p "$work/data/train/$name"
  files=("$class"*)  # sorted; the first 51 (no `ls | head`: with pipefail its SIGPIPE ends the script)
  for f in "${files[@]:0:51}"; do ln -sf "$(realpath "$f")" "$work/data/train/$name/$(basename "$f")"; done
done
[ -f "$work/tokens/train.tokens" ] || "$mapet" tokenize "$work/data" --tokenizer pixel --num-tokens 64 --input-size 28 \
  --patch-size 4 --train-centroids --out "$work/tokens" > "$work/tokenize.log"

args=(pretrain "$work/data" --tokens "$work/tokens/train.tokens" --model mapet_tiny_patch16_224 --img-size 28
      --patch-size 4 --embed-dim 64 --depth 2 --num-heads 2 -b 32 --total-batch 64 --epochs "$epochs"
      --warmup-epochs 1 --lr 1e-3 --recovery-interval 1 --quiet "${amp[@]}")
echo "soak: reference run (uninterrupted) in $work/ref"
if [ -f "$work/ref/model.safetensors" ] && cmp -s <(echo "${args[*]}") "$work/ref.args"; then
  echo "soak: (kept from an earlier soak in $work with the same settings)"
else
  rm -rf "$work/ref"
  "$mapet" "${args[@]}" --output "$work/ref" > "$work/ref.log"
  echo "${args[*]}" > "$work/ref.args"
fi

echo "soak: $kills random kill -9, each followed by --resume, in $work/run"
rm -rf "$work/run" "$work/run.log"
done_kills=0 starts=0 fresh=0
while true; do
  if [ $starts -eq 0 ] || [ ! -f "$work/run/last.safetensors" ]; then
    [ $starts -gt 0 ] && fresh=$((fresh + 1))
    rm -rf "$work/run"
    "$mapet" "${args[@]}" --output "$work/run" >> "$work/run.log" 2>&1 &
  else
    "$mapet" pretrain --resume "$work/run" >> "$work/run.log" 2>&1 &
  fi
  pid=$! starts=$((starts + 1))
  if [ $done_kills -ge "$kills" ]; then
    wait $pid || { echo "soak: the final resume failed (see $work/run.log)"; exit 1; }
    break
  fi
  ms=$(( (RANDOM * 32768 + RANDOM) % kill_max_ms ))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  if kill -9 $pid 2> /dev/null; then
    wait $pid 2> /dev/null || true
    done_kills=$((done_kills + 1))
  else
    wait $pid || { echo "soak: a resume failed (see $work/run.log)"; exit 1; }
    echo "soak: the run ended after $done_kills kills; use more EPOCHS"
    exit 1
  fi
done

steps() { grep '"step"' "$1" | sed -E 's/.*("step":[0-9]+).*("loss":[^,]*).*("lr":[^,]*).*("grad_norm":[^,]*).*/\1 \2 \3 \4/'; }
same_steps=no same_weights=no
cmp -s <(steps "$work/ref/metrics.jsonl") <(steps "$work/run/metrics.jsonl") && same_steps=yes
cmp -s "$work/ref/model.safetensors" "$work/run/model.safetensors" && same_weights=yes
echo "soak: $done_kills kills, $((starts - 1 - fresh)) resumes, $fresh fresh starts (killed before a checkpoint), $(steps "$work/ref/metrics.jsonl" | wc -l) steps;" \
  "every step's loss/lr/grad norm identical: $same_steps; final weights bit-identical: $same_weights"
[ $same_steps = yes ] && [ $same_weights = yes ]
