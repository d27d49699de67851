#!/usr/bin/python3
"""Makes the whole-run pre-training benchmark's image folder: COUNT distinct
500x375 JPEGs (quality 90, 4:2:0, as bench/data/make_images.py makes them) cut
from the photos Debian's python3-skimage ships. Each image is a different 4:3
window (40-100% of the largest one, anywhere in the photo) of one photo,
mirrored at random, with a small brightness change, so no two files decode to
the same pixels. Layout: OUT/train/<photo>/<n>.jpg (an ImageFolder tree, which
both `mapet pretrain` and torchvision.datasets.ImageFolder read in the same
order). Deterministic (seed 0).

  /usr/bin/python3 bench/pretrain/make_dataset.py OUT [--count 256]
"""
import argparse
import os
import random
import sys

from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
from make_images import PHOTOS, SKIMAGE  # noqa: E402  (the data benchmark's photos)

# More of skimage's photos (the grey ones become RGB): more variety for the tokenizer.
EXTRA = ["motorcycle_right.png", "camera.png", "brick.png", "grass.png", "gravel.png", "coins.png", "moon.png"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=256)
    args = ap.parse_args()
    photos = []
    for name in PHOTOS + EXTRA:
        path = os.path.join(SKIMAGE, name)
        if os.path.exists(path):
            photos.append((os.path.splitext(name)[0], Image.open(path).convert("RGB")))
    if not photos:
        sys.exit("no photos found under " + SKIMAGE + " (apt-get install python3-skimage)")
    rng = random.Random(0)
    for i in range(args.count):
        name, im = photos[i % len(photos)]
        w, h = im.size
        cw, ch = (w, w * 3 // 4) if w * 3 // 4 <= h else (h * 4 // 3, h)  # largest 4:3 window
        s = rng.uniform(0.4, 1.0)
        cw, ch = max(64, int(cw * s)), max(48, int(ch * s))
        left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
        out = im.resize((500, 375), Image.BICUBIC, box=(left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            out = ImageOps.mirror(out)
        out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.85, 1.15))
        d = os.path.join(args.out, "train", name)
        os.makedirs(d, exist_ok=True)
        out.save(os.path.join(d, f"{i:04d}.jpg"), quality=90)
    print(f"{args.count} JPEGs of 500x375 from {len(photos)} photos in {args.out}/train")


if __name__ == "__main__":
    main()
