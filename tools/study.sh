#!/usr/bin/env bash
# `make study`: the paper's claim at demo scale, on Fashion-MNIST, on the CPU.
#
#   1. Fashion-MNIST as JPEGs and its pixel k-means tokens (as `make demo`; reused from data_cache/).
#   2. Pre-train the same small ViT (dim 96, depth 6, heads 3; 28 px images, 4x4 patches) three times with
#      the same budget: MaPeT, PeT (permutation only, no mask tokens) and MIM (BEiT-style masking).
#   3. Fine-tune each on a labelled subset (LABELLED images per class, the low-label regime where
#      pre-training shows), and train the same architecture from scratch with the same fine-tuning budget.
#   4. Write the top-1 table to the study folder (results.md, results.json).
#
# Budgets (environment): PRE_EPOCHS (2) pre-training epochs over the 60000 training images,
# FT_EPOCHS (8) fine-tuning epochs over the labelled subset, LABELLED (600) images per class,
# PRETRAIN_PER_CLASS (0: all) to pre-train on a subset (quick checks of this script), SEED (0),
# STUDY_OUT (runs/study-<time>). Every run folder (config, metrics, curves, weights) stays in STUDY_OUT.
set -euo pipefail
mapet=${1:-build/apps/mapet}
PRE_EPOCHS=${PRE_EPOCHS:-2}
FT_EPOCHS=${FT_EPOCHS:-8}
LABELLED=${LABELLED:-600}
PRETRAIN_PER_CLASS=${PRETRAIN_PER_CLASS:-0}
SEED=${SEED:-0}
data=data_cache/fashion-mnist
tokens=data_cache/fashion-mnist-tokens
out=${STUDY_OUT:-runs/study-$(date +%Y%m%d-%H%M%S)}
arch=(--img-size 28 --patch-size 4 --embed-dim 96 --depth 6 --num-heads 3)

bash "$(dirname "$0")/prepare_demo_data.sh" "$mapet" "$data" "$tokens"
mkdir -p "$out"

# An ImageFolder of the first N images of each class (symbolic links), with the full validation set.
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
pre_tokens=$tokens/train.tokens
if [ "$PRETRAIN_PER_CLASS" -gt 0 ]; then
  echo "== pre-training subset: $PRETRAIN_PER_CLASS images per class"
  subset "$data/train" "$PRETRAIN_PER_CLASS" "$out/pretrain-data/train"
  "$mapet" tokenize "$out/pretrain-data/train" --tokenizer pixel --num-tokens 256 --input-size 28 --patch-size 4 \
    --centroids "$tokens/centroids.npy" --out "$out/pretrain-tokens" > "$out/pretrain-tokens.log"
  pre_data=$out/pretrain-data
  pre_tokens=$(ls "$out"/pretrain-tokens/*.tokens)
fi
echo "== labelled subset: $LABELLED images per class, validation: all of $data/val"
subset "$data/train" "$LABELLED" "$out/labelled/train"
ln -sfn "$(realpath "$data/val")" "$out/labelled/val"

for objective in mapet pet mim; do
  run=$out/pretrain-$objective
  if [ -f "$run/model.safetensors" ]; then echo "== $objective pre-training: done ($run)"; continue; fi
  echo "== $objective pre-training, $PRE_EPOCHS epochs -> $run"
  "$mapet" pretrain "$pre_data" --tokens "$pre_tokens" --model mapet_tiny_patch16_224 "${arch[@]}" \
    --objective "$objective" -b 64 --total-batch 128 --epochs "$PRE_EPOCHS" --warmup-epochs 0 --lr 1e-3 \
    --color-jitter 0 --amp --seed "$SEED" --output "$run" --log-interval 100 \
    $( [ -f "$run/last.safetensors" ] && echo --resume "$run" )
done

# One fine-tuning recipe for all four; from scratch without layer decay (it would only slow the random stem).
finetune() {  # finetune NAME [flags]
  local name=$1
  shift
  local run=$out/finetune-$name
  if [ -f "$run/results.json" ]; then echo "== fine-tuning $name: done ($run)"; return; fi
  echo "== fine-tuning $name, $FT_EPOCHS epochs on $((LABELLED * 10)) labelled images -> $run"
  "$mapet" finetune "$out/labelled" --model vit_standard_tiny_patch16_224 "${arch[@]}" \
    -b 64 --total-batch 128 --epochs "$FT_EPOCHS" --warmup-epochs 1 --lr 1e-3 --layer-decay 0.75 \
    --drop-path 0.1 --smoothing 0.1 --mixup 0 --cutmix 0 --scale 0.5 1 --color-jitter 0 --amp --seed "$SEED" \
    --output "$run" --log-interval 100 "$@" $( [ -f "$run/last.safetensors" ] && echo --resume "$run" )
}
for objective in mapet pet mim; do
  finetune "$objective" --pretrained "$out/pretrain-$objective/model.safetensors"
done
finetune scratch --layer-decay 1 --layer-scale-init-value 0.1

pre_images=$(find -L "$pre_data/train" -name '*.jpg' | wc -l)
python3 - "$out" "$PRE_EPOCHS" "$FT_EPOCHS" "$LABELLED" "$pre_images" <<'EOF'
import json, sys
out, pre, ft, labelled, pre_images = sys.argv[1:6]
rows = []
for name, label in [("mapet", "MaPeT"), ("pet", "PeT"), ("mim", "MIM (BEiT-style)"), ("scratch", "from scratch")]:
    r = json.load(open(f"{out}/finetune-{name}/results.json"))
    rows.append({"init": label, "best_top1": round(r["best_top1"], 2), "final_top1": round(r["final_top1"], 2),
                 "final_top5": round(r["final_top5"], 2)})
json.dump({"pretrain_epochs": int(pre), "pretrain_images": int(pre_images), "finetune_epochs": int(ft),
           "labelled_per_class": int(labelled),
           "rows": rows}, open(f"{out}/results.json", "w"), indent=2)
lines = [f"Fashion-MNIST, ViT dim 96 / depth 6 / heads 3, 28 px, 4x4 patches. Pre-training: {pre} epochs on the "
         f"{pre_images} training images (no labels); fine-tuning: {ft} epochs on {labelled} labelled images per class; "
         "validation: the 10000 test images.", "",
         "| initialisation | top-1 (best epoch) | top-1 (last epoch) | top-5 (last epoch) |", "| --- | --- | --- | --- |"]
lines += [f"| {r['init']} | {r['best_top1']:.2f} | {r['final_top1']:.2f} | {r['final_top5']:.2f} |" for r in rows]
open(f"{out}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo
echo "Study folder: $out (results.md, results.json; one run folder per pre-training and fine-tuning)"
