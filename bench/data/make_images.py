"""Makes the benchmark's 500x375 JPEGs (ImageNet's most common size) from the
photos Debian's python3-skimage ships: each photo is center-cropped to 4:3,
resized with PIL's bicubic filter and saved at quality 90 with 4:2:0 chroma
(PIL's default, as most ImageNet files are). Usage: make_images.py OUT_DIR"""
import os
import sys

from PIL import Image

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
          "hubble_deep_field.jpg", "ihc.png", "retina.jpg"]
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"


def main(out):
    os.makedirs(out, exist_ok=True)
    made = 0
    for name in PHOTOS:
        path = os.path.join(SKIMAGE, name)
        if not os.path.exists(path):
            continue
        im = Image.open(path).convert("RGB")
        w, h = im.size
        # largest 4:3 window, centered
        cw, ch = (w, w * 3 // 4) if w * 3 // 4 <= h else (h * 4 // 3, h)
        left, top = (w - cw) // 2, (h - ch) // 2
        im = im.resize((500, 375), Image.BICUBIC, box=(left, top, left + cw, top + ch))
        im.save(os.path.join(out, os.path.splitext(name)[0] + ".jpg"), quality=90)
        made += 1
    if made == 0:
        sys.exit("no photos found under " + SKIMAGE + " (apt-get install python3-skimage)")
    print(f"{made} JPEGs of 500x375 in {out}")


if __name__ == "__main__":
    main(sys.argv[1])
