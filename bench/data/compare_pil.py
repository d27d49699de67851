"""Compares dump_views' output with PIL + torchvision on the same files: eval
(Resize(248) + CenterCrop(224)), the center view (the centred square resized,
as RandomResizedCrop with scale (1, 1), ratio (1, 1)) and two train crops
(resized_crop with the box and flip the pipeline drew), then ToTensor +
Normalize. Prints, per mode, the largest difference in 8-bit levels and how
many values differ. Usage: compare_pil.py JPEG_DIR DUMP_DIR"""
import glob
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as F

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def main():
    jpegs, dump = sys.argv[1], sys.argv[2]
    bicubic = T.InterpolationMode.BICUBIC
    norm = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    std = torch.tensor(STD).view(3, 1, 1)
    stats, flips = {}, 0
    for path in sorted(glob.glob(os.path.join(jpegs, "*.jpg"))):
        stem = os.path.join(dump, os.path.splitext(os.path.basename(path))[0])
        img = Image.open(path).convert("RGB")
        w, h = img.size
        side = min(w, h)
        want = {
            "eval": T.Compose([T.Resize(248, interpolation=bicubic), T.CenterCrop(224)])(img),
            "center": F.resized_crop(img, (h - side) // 2, (w - side) // 2, side, side, [224, 224], bicubic),
        }
        for k in (0, 1):
            x0, y0, x1, y1, flip = open(f"{stem}.train{k}.txt").read().split()
            x0, y0, x1, y1 = (int(float(v)) for v in (x0, y0, x1, y1))
            crop = F.resized_crop(img, y0, x0, y1 - y0, x1 - x0, [224, 224], bicubic)
            want[f"train{k}"] = F.hflip(crop) if flip == "1" else crop
            flips += flip == "1"
        for mode, pil in want.items():
            kind = mode.rstrip("01")
            ours = torch.from_numpy(np.fromfile(stem + "." + mode + ".f32", dtype=np.float32).reshape(3, 224, 224))
            levels = ((ours - norm(pil)) * std * 255).abs()
            worst, n = stats.get(kind, (0.0, 0))
            stats[kind] = (max(worst, levels.max().item()), n + int((levels > 0.01).sum()))
    for kind, (worst, n) in stats.items():
        print(f"{kind}: largest difference {worst:.3f} levels, {n} values differ by more than 0.01 level")
    print(f"({flips} of the train crops are flipped)")


if __name__ == "__main__":
    main()
