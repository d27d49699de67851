#!/usr/bin/env python3
"""Convert an OpenAI CLIP checkpoint (RN50.pt ... RN50x64.pt, ViT-B-16.pt) to
safetensors with OpenAI's own parameter names, for `mapet tokenize --tokenizer
kclip --weights OUT.safetensors`.

    python3 tools/convert_clip.py RN50x64.pt RN50x64.safetensors

The released files are TorchScript archives (torch.jit.load); plain
torch.save state dicts are read too. Only the image encoder (visual.*) is kept
unless --all; tensors keep their stored type (OpenAI's are float16; mapet
reads them as float32) unless --float32. Needs PyTorch, nothing else: the
safetensors file is written here (8-byte header length, JSON header, data).
"""
import argparse
import json
import struct
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
          torch.uint8: "U8"}


def load_state_dict(path):
    try:
        return torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:  # not TorchScript: a torch.save'd state dict (or a dict holding one)
        sd = torch.load(path, map_location="cpu")
        for key in ("state_dict", "model"):
            if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
                sd = sd[key]
        return sd


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in DTYPES:
            sys.exit(f"convert_clip: tensor '{name}' has type {t.dtype}, which safetensors here does not take")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)  # align the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="OpenAI CLIP .pt file")
    p.add_argument("out", help="output .safetensors")
    p.add_argument("--all", action="store_true", help="keep the text tower and logit scale too")
    p.add_argument("--float32", action="store_true", help="store float tensors as float32")
    a = p.parse_args()

    sd = load_state_dict(a.checkpoint)
    keep = {k: v for k, v in sd.items() if a.all or k.startswith("visual.")}
    if not any(k.startswith("visual.") for k in keep):
        sys.exit(f"convert_clip: '{a.checkpoint}' has no visual.* tensors; is it an OpenAI CLIP checkpoint?")
    if a.float32:
        keep = {k: (v.float() if v.is_floating_point() else v) for k, v in keep.items()}
    kind = "resnet" if "visual.layer1.0.conv1.weight" in keep else "vit"
    write_safetensors(a.out, keep, {"source": a.checkpoint, "format": "openai-clip", "visual": kind})
    print(f"{a.out}: {len(keep)} tensors ({kind} image encoder), "
          f"{sum(v.numel() for v in keep.values()) / 1e6:.1f}M values")


if __name__ == "__main__":
    main()
