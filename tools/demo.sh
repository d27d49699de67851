#!/usr/bin/env bash
# The README's `make demo`: MaPeT pre-training on real images, end to end, on the CPU.
#   1. Fashion-MNIST (Debian's dataset-fashion-mnist) -> an ImageFolder of JPEGs
#   2. pixel k-means tokenizer (256 visual tokens of 4x4 patches) -> token stores
#   3. MaPeT pre-training of a small ViT (dim 96, depth 6) for one epoch, with progress
# Steps 1-2 are kept in data_cache/ and reused; every run gets its own folder.
set -euo pipefail
mapet=${1:-build/apps/mapet}
data=data_cache/fashion-mnist
tokens=data_cache/fashion-mnist-tokens
run=runs/demo-mapet-$(date +%Y%m%d-%H%M%S)

echo "== 1-2/3 Fashion-MNIST as JPEGs in $data, pixel k-means tokens in $tokens (made once)"
bash "$(dirname "$0")/prepare_demo_data.sh" "$mapet" "$data" "$tokens"
echo "== 3/3 MaPeT pre-training (mapet_tiny layout at dim 96, depth 6; 28 px images, 4x4 patches) into $run"
echo "   (stopped before the end? \`$mapet pretrain --resume $run\` continues from its last checkpoint, written every minute)"
# Said again when the run stops early (Ctrl-C, kill, error), with what there is to resume from.
stopped() {
  echo
  if [ -f "$run/last.safetensors" ]; then
    echo "Stopped before the end. To continue from the last checkpoint: $mapet pretrain --resume $run"
  else
    echo "Stopped before the first checkpoint (after a minute of training); nothing to resume yet: run make demo again."
  fi
}
trap 'stopped; exit 130' INT TERM
"$mapet" pretrain "$data" --tokens "$tokens/train.tokens" --model mapet_tiny_patch16_224 \
  --img-size 28 --patch-size 4 --embed-dim 96 --depth 6 --num-heads 3 \
  -b 64 --total-batch 128 --epochs 1 --warmup-epochs 0 --lr 1e-3 --color-jitter 0 --amp \
  --recovery-minutes 1 --output "$run" || { status=$?; stopped; exit $status; }
trap - INT TERM
echo
echo "Done. The run folder $run holds:"
echo "  config.yaml        every setting used (mapet pretrain --config $run/config.yaml repeats it)"
echo "  metrics.jsonl      loss, token accuracy, lr, grad norm, images/s per step"
echo "  loss.png, loss.svg the curves"
echo "  model.safetensors  the pre-trained weights (timm / official MaPeT names)"
echo "  last.safetensors   the training checkpoint (mapet pretrain --resume $run)"
echo
echo "Next: fine-tune a classifier from these weights (validation top-1 every epoch), or run \`make study\`:"
echo "  $mapet finetune $data --pretrained $run/model.safetensors --model vit_standard_tiny_patch16_224 \\"
echo "      --img-size 28 --patch-size 4 --embed-dim 96 --depth 6 --num-heads 3 -b 64 --total-batch 128 \\"
echo "      --epochs 2 --warmup-epochs 1 --lr 1e-3 --mixup 0 --cutmix 0 --scale 0.5 1 --color-jitter 0 \\"
echo "      --output $run-finetune"
