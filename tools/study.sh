#!/usr/bin/env bash
# `make study`: the paper's claim at demo scale, on Fashion-MNIST, on the CPU, over several seeds.
#
#   1. Fashion-MNIST as JPEGs and its pixel k-means tokens (as `make demo`; reused from data_cache/).
#   2. Pre-train the same small ViT (dim 96, depth 6, heads 3; 28 px images, 4x4 patches) three times with
#      the same budget: MaPeT, PeT (permutation only, no mask tokens) and MIM (BEiT-style masking).
#   3. Evaluate each on a labelled subset (LABELLED images per class, the low-label regime where
#      pre-training shows) by two protocols with one budget for every arm: fine-tuning (the whole network)
#      and linear probing (frozen backbone, a linear head on average-pooled features). The same
#      architecture from scratch is the fourth arm (for the probe: a frozen random backbone).
#   4. Repeat 2-3 for SEEDS seeds (each changes the pre-training's initialisation, permutations and masks
#      and the evaluations' initialisation and data order; the labelled subset stays the same), then
#      `mapet study-report` writes mean +- std per arm and protocol: results.md, results.json, results.png.
#
# Budgets (environment): SEEDS (3), PRE_EPOCHS (1) pre-training epochs over the 60000 training images,
# FT_EPOCHS (6) fine-tuning and PROBE_EPOCHS (6) linear-probe epochs over the labelled subset, LABELLED (300)
# images per class, PRETRAIN_PER_CLASS (0: all) to pre-train on a subset, the model (EMBED_DIM 96, DEPTH 6,
# HEADS 3, IMG_SIZE 28, PATCH_SIZE 4), BATCH (64 per step, two steps per update), STUDY_OUT
# (runs/study-<time>), and DATA + TOKENS (an ImageFolder with train/ and val/, and its train split's token
# store; CENTROIDS for PRETRAIN_PER_CLASS) to study other data. Every run folder (config, metrics, curves,
# weights) stays in STUDY_OUT; an interrupted study continues where it stopped when run again with the same
# STUDY_OUT.
set -euo pipefail
mapet=${1:-build/apps/mapet}
SEEDS=${SEEDS:-3}
PRE_EPOCHS=${PRE_EPOCHS:-1}
FT_EPOCHS=${FT_EPOCHS:-6}
PROBE_EPOCHS=${PROBE_EPOCHS:-$FT_EPOCHS}
PROBE_LR=${PROBE_LR:-5e-3}
LABELLED=${LABELLED:-300}
PRETRAIN_PER_CLASS=${PRETRAIN_PER_CLASS:-0}
EMBED_DIM=${EMBED_DIM:-96} DEPTH=${DEPTH:-6} HEADS=${HEADS:-3} IMG_SIZE=${IMG_SIZE:-28} PATCH_SIZE=${PATCH_SIZE:-4}
BATCH=${BATCH:-64}
out=${STUDY_OUT:-runs/study-$(date +%Y%m%d-%H%M%S)}
arch=(--img-size "$IMG_SIZE" --patch-size "$PATCH_SIZE" --embed-dim "$EMBED_DIM" --depth "$DEPTH" --num-heads "$HEADS")
started=$(date +%s)

if [ -n "${DATA:-}" ]; then
  data=$DATA
  train_tokens=${TOKENS:?TOKENS: the token store of DATA/train}
  centroids=${CENTROIDS:-}
else
  data=data_cache/fashion-mnist
  tokens=data_cache/fashion-mnist-tokens
  train_tokens=$tokens/train.tokens
  centroids=$tokens/centroids.npy
  bash "$(dirname "$0")/prepare_demo_data.sh" "$mapet" "$data" "$tokens"
fi
mkdir -p "$out"

# An ImageFolder of the first N images of each class (symbolic links).
subset() {  # subset SRC_SPLIT N DEST
  local src=$1 n=$2 dest=$3
  rm -rf "$dest"
  mkdir -p "$dest"
  for class_dir in "$src"/*/; do
    local class
    class=$(basename "$class_dir")
    mkdir -p "$dest/$class"
    local files
    mapfile -t files < <(find "$(realpath "$class_dir")" -maxdepth 1 -name '*.jpg' | sort)
    ln -s "${files[@]:0:$n}" "$dest/$class/"
  done
}

pre_data=$data
pre_tokens=$train_tokens
if [ "$PRETRAIN_PER_CLASS" -gt 0 ]; then
  [ -n "$centroids" ] || { echo "study: PRETRAIN_PER_CLASS needs CENTROIDS (the tokenizer of TOKENS)" >&2; exit 2; }
  echo "== pre-training subset: $PRETRAIN_PER_CLASS images per class"
  subset "$data/train" "$PRETRAIN_PER_CLASS" "$out/pretrain-data/train"
  "$mapet" tokenize "$out/pretrain-data/train" --tokenizer pixel --num-tokens 256 --input-size "$IMG_SIZE" \
    --patch-size "$PATCH_SIZE" --centroids "$centroids" --out "$out/pretrain-tokens" > "$out/pretrain-tokens.log"
  pre_data=$out/pretrain-data
  pre_tokens=$(ls "$out"/pretrain-tokens/*.tokens)
fi
echo "== labelled subset: $LABELLED images per class, validation: all of $data/val"
subset "$data/train" "$LABELLED" "$out/labelled/train"
ln -sfn "$(realpath "$data/val")" "$out/labelled/val"
classes=$(find "$out/labelled/train" -mindepth 1 -maxdepth 1 -type d | wc -l)

# One recipe per protocol for all four arms. From scratch without layer decay (it would only slow the random
# stem). The probe trains a linear head alone: a larger lr, no weight decay, smoothing or warm-up.
finetune() {  # finetune SEED_DIR NAME [flags]
  local dir=$1 name=$2
  shift 2
  local run=$dir/finetune-$name
  if [ -f "$run/results.json" ]; then echo "== fine-tuning $name: done ($run)"; return; fi
  echo "== seed $seed, fine-tuning $name, $FT_EPOCHS epochs on $((LABELLED * classes)) labelled images -> $run"
  "$mapet" finetune "$out/labelled" --model vit_standard_tiny_patch16_224 "${arch[@]}" \
    -b "$BATCH" --total-batch $((2 * BATCH)) --epochs "$FT_EPOCHS" --warmup-epochs 1 --lr 1e-3 --layer-decay 0.75 \
    --drop-path 0.1 --smoothing 0.1 --mixup 0 --cutmix 0 --scale 0.5 1 --color-jitter 0 --amp --seed "$seed" \
    --output "$run" --log-interval 100 "$@" $( [ -f "$run/last.safetensors" ] && echo --resume "$run" )
}
probe() {  # probe SEED_DIR NAME [flags]
  local dir=$1 name=$2
  shift 2
  local run=$dir/probe-$name
  if [ -f "$run/results.json" ]; then echo "== linear probe $name: done ($run)"; return; fi
  echo "== seed $seed, linear probe $name, $PROBE_EPOCHS epochs on $((LABELLED * classes)) labelled images -> $run"
  "$mapet" finetune "$out/labelled" --model vit_standard_tiny_patch16_224 "${arch[@]}" --linear-probe \
    -b "$BATCH" --total-batch $((2 * BATCH)) --epochs "$PROBE_EPOCHS" --warmup-epochs 0 --lr "$PROBE_LR" \
    --weight-decay 0 --layer-decay 1 --smoothing 0 --mixup 0 --cutmix 0 --scale 0.5 1 --color-jitter 0 --amp \
    --seed "$seed" --output "$run" --log-interval 100 "$@" $( [ -f "$run/last.safetensors" ] && echo --resume "$run" )
}

for seed in $(seq 0 $((SEEDS - 1))); do
  dir=$out/seed-$seed
  mkdir -p "$dir"
  for objective in mapet pet mim; do
    run=$dir/pretrain-$objective
    if [ -f "$run/model.safetensors" ]; then echo "== seed $seed, $objective pre-training: done ($run)"; continue; fi
    echo "== seed $seed, $objective pre-training, $PRE_EPOCHS epoch(s) -> $run"
    "$mapet" pretrain "$pre_data" --tokens "$pre_tokens" --model mapet_tiny_patch16_224 "${arch[@]}" \
      --objective "$objective" -b "$BATCH" --total-batch $((2 * BATCH)) --epochs "$PRE_EPOCHS" --warmup-epochs 0 \
      --lr 1e-3 --color-jitter 0 --amp --seed "$seed" --output "$run" --log-interval 100 \
      $( [ -f "$run/last.safetensors" ] && echo --resume "$run" )
  done
  for objective in mapet pet mim; do
    finetune "$dir" "$objective" --pretrained "$dir/pretrain-$objective/model.safetensors"
    probe "$dir" "$objective" --pretrained "$dir/pretrain-$objective/model.safetensors"
  done
  finetune "$dir" scratch --layer-decay 1 --layer-scale-init-value 0.1
  probe "$dir" scratch --layer-scale-init-value 0.1
done

# The settings beside the table (study.json), then the table itself.
pre_images=$(find -L "$pre_data/train" -name '*.jpg' | wc -l)
val_images=$(find -L "$data/val" -name '*.jpg' | wc -l)
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
compute=$("$mapet" --version | tail -n 1)
minutes=$(( ($(date +%s) - started + 30) / 60 ))
cat > "$out/study.json" <<JSON
{"description": "ViT dim $EMBED_DIM / depth $DEPTH / heads $HEADS, $IMG_SIZE px, ${PATCH_SIZE}x$PATCH_SIZE patches, data $data. Pre-training: $PRE_EPOCHS epoch(s) on the $pre_images training images (no labels); fine-tuning: $FT_EPOCHS epochs, linear probing: $PROBE_EPOCHS epochs, on $LABELLED labelled images per class; validation: the $val_images images of $data/val. This run of the study: $minutes minutes on $(nproc) cores of $cpu ($compute).",
 "seeds": $SEEDS, "pretrain_epochs": $PRE_EPOCHS, "pretrain_images": $pre_images, "finetune_epochs": $FT_EPOCHS,
 "probe_epochs": $PROBE_EPOCHS, "probe_lr": "$PROBE_LR", "labelled_per_class": $LABELLED, "embed_dim": $EMBED_DIM,
 "depth": $DEPTH, "heads": $HEADS, "img_size": $IMG_SIZE, "patch_size": $PATCH_SIZE, "batch": $BATCH,
 "wall_minutes": $minutes, "cpu": "$cpu", "compute": "$compute"}
JSON
"$mapet" study-report "$out"
echo
echo "Study folder: $out (results.md, results.json, results.png; per seed, a run folder per pre-training and evaluation)"
