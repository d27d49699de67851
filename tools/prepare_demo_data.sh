#!/usr/bin/env bash
# The data of `make demo` and `make study`, made once and kept in data_cache/:
#   DATA    Fashion-MNIST (Debian's dataset-fashion-mnist) as an ImageFolder of JPEGs (train/, val/)
#   TOKENS  a pixel k-means tokenizer (256 visual tokens of 4x4 patches) and every image's tokens
# Usage: tools/prepare_demo_data.sh MAPET DATA TOKENS
set -euo pipefail
mapet=$1 data=$2 tokens=$3
if [ ! -d "$data/val" ]; then
  echo "== preparing Fashion-MNIST as JPEG files in $data"
  "$mapet" prepare fashion-mnist --out "$data"
fi
if [ ! -f "$tokens/val.tokens" ]; then
  echo "== training the pixel k-means tokenizer and tokenizing every image into $tokens"
  "$mapet" tokenize "$data" --tokenizer pixel --num-tokens 256 --input-size 28 --patch-size 4 \
    --train-centroids --out "$tokens"
fi
