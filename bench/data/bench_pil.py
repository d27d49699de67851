"""The peer of bench_transforms.cpp: PIL + torchvision doing the same work on
ONE core (torch.set_num_threads(1)): open + decode, RandomResizedCrop(224,
bicubic) + RandomHorizontalFlip + ToTensor + Normalize (timm's train
transform without jitter), and Resize(248, bicubic) + CenterCrop(224) +
ToTensor + Normalize (timm's eval transform, crop_pct 0.9), and the MaPeT
pre-train view (RandomResizedCrop with scale (1, 1), ratio (1, 1): the centred
square) without and with ColorJitter(0.4, 0.4, 0.4).
Usage: bench_pil.py DIR [seconds]"""
import glob
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms as T

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def rate(files, tf, seconds):
    # CPU time of this process (one thread): images per CPU-second = per core.
    n, start = 0, time.process_time()
    while True:
        for f in files:
            with open(f, "rb") as fh:
                img = Image.open(fh).convert("RGB")
            tf(img)
            n += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return n / elapsed


def main():
    torch.set_num_threads(1)
    d, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    files = sorted(glob.glob(os.path.join(d, "*.jpg")))
    bicubic = T.InterpolationMode.BICUBIC
    train = T.Compose([T.RandomResizedCrop(224, interpolation=bicubic), T.RandomHorizontalFlip(),
                       T.ToTensor(), T.Normalize(MEAN, STD)])
    evalt = T.Compose([T.Resize(248, interpolation=bicubic), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)])
    square = T.RandomResizedCrop(224, scale=(1, 1), ratio=(1, 1), interpolation=bicubic)
    center = T.Compose([square, T.ToTensor(), T.Normalize(MEAN, STD)])
    # timm's order: crop, (flip), ColorJitter on the PIL image, ToTensor, Normalize
    jitter = T.Compose([square, T.ColorJitter(0.4, 0.4, 0.4), T.ToTensor(), T.Normalize(MEAN, STD)])
    rate(files, train, 0.3)
    print(f"PIL+torchvision train: {rate(files, train, seconds):.0f} images/s/core")
    print(f"PIL+torchvision eval:  {rate(files, evalt, seconds):.0f} images/s/core")
    print(f"PIL+torchvision MaPeT pre-train view: {rate(files, center, seconds):.0f} images/s/core")
    print(f"PIL+torchvision MaPeT pre-train view + ColorJitter(0.4, 0.4, 0.4): {rate(files, jitter, seconds):.0f} images/s/core")


if __name__ == "__main__":
    main()
