#!/usr/bin/python3
"""Writes the PyTorch checkpoint fixtures of tests/fixtures/torch/ (a few KB each).

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tools/make_torch_fixtures.py
Every .pth here is written by torch.save itself; each has a safetensors twin
(written below from the format's definition: the safetensors package is not
needed) holding the same tensors, contiguous, that the C++ tests compare with.

  tensors.pth            f32, f16, bf16, i64, i32, bool, a 0-dim and an empty
                         tensor, and non-contiguous views: a transpose, a strided
                         slice with a storage offset (sharing its parent's
                         storage), an expand (stride 0)
  tensors_proto4.pth     the same, pickle protocol 4 (FRAME, SHORT_BINUNICODE,
                         STACK_GLOBAL, MEMOIZE)
  tensors_zip64.pth      the same archive rewritten with ZIP64 sizes and offsets
                         in the central directory, as for a file over 4 GiB
                         (torch.load reads it too; checked below)
  tensors.safetensors    the twin of the three above
  nested.pth             a training checkpoint: {"model": state dict with
                         "module." names, "model_ema", "optimizer", "epoch",
                         "args" (argparse.Namespace), "metric" (a numpy float)}
  bad_view.pth           hand-made in torch.save's layout: a tensor of 10
                         elements over a storage of 4 (must be refused)
  vit_tiny.pth           a tiny vit_standard_tiny-shaped classifier (img 32,
                         patch 8, dim 24, depth 2, 3 heads, layer scale, global
                         pool avg, 10 classes) as a DDP training checkpoint
                         {"model": {"module.<name>": ...}, ...}, with the
                         pre-training head (decoder.*, mask_positional_token)
                         still in it
  vit_tiny.safetensors   its weights under our names (no extras)
  vit_tiny_io.safetensors  "images" [3, 3, 32, 32] and the "logits" PyTorch
                         computes for them with the model above
"""
import argparse
import collections
import io
import json
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "torch")

# safetensors dtype names and how to get each dtype's raw bytes.
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
            torch.int32: "I32", torch.bool: "BOOL"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy().tobytes()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors):
    """8-byte little-endian header length, JSON header, data (names sorted)."""
    header, blobs, at = {}, [], 0
    for name in sorted(tensors):
        b = raw_bytes(tensors[name])
        header[name] = {"dtype": ST_DTYPE[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def sample_tensors():
    g = torch.Generator().manual_seed(0)
    parent = torch.randn(5, 8, generator=g)
    base = torch.randn(4, 6, generator=g)
    t = collections.OrderedDict()
    t["f32"] = torch.randn(3, 5, generator=g)
    t["f16"] = torch.randn(4, 3, generator=g).half()
    t["bf16"] = torch.randn(2, 3, 2, generator=g).bfloat16()
    t["i64"] = torch.tensor([-3, 0, 7, 2**40, -(2**50)], dtype=torch.int64)
    t["i32"] = torch.tensor([[1, -2], [3, 4]], dtype=torch.int32)
    t["bool"] = torch.tensor([True, False, True])
    t["scalar"] = torch.tensor(3.5)
    t["empty"] = torch.zeros(0, 4)
    t["transposed"] = base.t()                    # strides (1, 6)
    t["parent"] = parent
    t["strided_slice"] = parent[1:4, 2:7:2]       # offset 10, strides (8, 2), same storage as parent
    t["expanded"] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride 0
    assert not t["transposed"].is_contiguous() and not t["strided_slice"].is_contiguous()
    assert t["strided_slice"].storage_offset() == 10
    return t


def rewrite_as_zip64(src, dst):
    """Copies a stored ZIP, giving every central-directory entry 0xFFFFFFFF sizes
    and offset plus a ZIP64 extra field (tag 1) with the real values."""
    zin = zipfile.ZipFile(src)
    out, central = bytearray(), bytearray()
    for info in zin.infolist():
        payload = zin.read(info.filename)
        name = info.filename.encode()
        offset = len(out)
        crc = zlib.crc32(payload)
        # Local header with ZIP64 sizes too (its extra field holds them).
        local_extra = struct.pack("<HHQQ", 1, 16, len(payload), len(payload))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                           len(local_extra)) + name + local_extra + payload
        extra = struct.pack("<HHQQQ", 1, 24, len(payload), len(payload), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + extra
    cd_offset, n = len(out), len(zin.infolist())
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(dst, "wb").write(bytes(out))


def save_bad_view(path):
    """torch.save's layout, written by hand: tensor 'w' is a view of 10 elements
    over a storage of 4 floats, which a reader must refuse."""
    class Storage:
        pass

    storage = Storage()

    class View:
        def __reduce__(self):
            return torch._utils._rebuild_tensor_v2, (storage, 0, (10,), (1,), False, collections.OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 4) if obj is storage else None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(collections.OrderedDict(w=View()))
    name = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for entry, data in (("data.pkl", buf.getvalue()), ("data/0", struct.pack("<4f", 1, 2, 3, 4)),
                            ("version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name + "/" + entry, date_time=(2023, 6, 13, 0, 0, 0)), data)  # reproducible
    try:
        torch.load(path)
    except RuntimeError:
        return  # PyTorch refuses it as well
    raise AssertionError("torch.load accepted bad_view.pth")


# ---- the ViT: parameter for parameter models/vit.{h,cpp} (timm's names, q / kv split) ----

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)  # k then v
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        h, d = self.heads, D // self.heads
        q = self.q(x).reshape(B, T, h, d).transpose(1, 2)
        k, v = self.kv(x).reshape(B, T, 2, h, d).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) * d ** -0.5).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, D))


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.empty(dim))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn, self.ls1 = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads), LayerScale(dim)
        self.norm2, self.mlp, self.ls2 = nn.LayerNorm(dim, eps=1e-6), Mlp(dim), LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)


class ViT(nn.Module):
    """global_pool 'avg': mean of the patch tokens, then fc_norm (no final norm)."""

    def __init__(self, img=32, patch=8, dim=24, depth=2, heads=3, classes=10):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.empty(1, (img // patch) ** 2 + 1, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return self.head(self.fc_norm(x[:, 1:].mean(1)))


def make_vit():
    torch.manual_seed(1)
    m = ViT()
    with torch.no_grad():  # every parameter random and O(1), so every one matters to the logits
        for name, p in m.named_parameters():
            if name.endswith("gamma"):
                p.uniform_(0.5, 1.5)
            elif "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p) if name.endswith("weight") else 0.1 * torch.randn_like(p))
            else:
                p.normal_(0, 1 / math.sqrt(p[0].numel()) if p.dim() > 1 else 0.1)  # fan-in scaling
    return m.eval()


def main():
    os.makedirs(OUT, exist_ok=True)
    path = lambda n: os.path.join(OUT, n)

    t = sample_tensors()
    torch.save(t, path("tensors.pth"))
    torch.save(t, path("tensors_proto4.pth"), pickle_protocol=4)
    rewrite_as_zip64(path("tensors.pth"), path("tensors_zip64.pth"))
    save_safetensors(path("tensors.safetensors"), t)
    for name in ("tensors.pth", "tensors_proto4.pth", "tensors_zip64.pth"):  # PyTorch reads them back
        back = torch.load(path(name))
        assert list(back) == list(t) and all(torch.equal(back[k], t[k]) for k in t), name

    save_bad_view(path("bad_view.pth"))

    model = collections.OrderedDict(("module." + k, t[k]) for k in ("f32", "f16", "bf16", "transposed"))
    ema = collections.OrderedDict(("module." + k, -t[k]) for k in ("f32", "f16", "bf16", "transposed"))
    args = argparse.Namespace(model="vit_standard_tiny_patch16_224", lr=1e-3, amp=True, resume=None,
                              betas=[0.9, 0.999], seed=2**70)
    torch.save({"model": model, "model_ema": ema, "epoch": 7, "args": args, "metric": np.float64(81.5),
                "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(3, 5)}},
                              "param_groups": [{"lr": 0.1, "params": [0]}]}},
               path("nested.pth"))

    vit = make_vit()
    sd = vit.state_dict()
    save_safetensors(path("vit_tiny.safetensors"), dict(sd))
    g = torch.Generator().manual_seed(2)
    extras = {"decoder.weight": torch.randn(16, 24, generator=g), "decoder.bias": torch.zeros(16),
              "mask_positional_token": torch.randn(1, 1, 24, generator=g)}
    ckpt_model = collections.OrderedDict([("module." + k, v) for k, v in sd.items()] +
                                         [("module." + k, v) for k, v in extras.items()])
    torch.save({"model": ckpt_model, "epoch": 99, "args": args}, path("vit_tiny.pth"))
    images = torch.randn(3, 3, 32, 32, generator=g)
    with torch.no_grad():
        logits = vit(images)
    save_safetensors(path("vit_tiny_io.safetensors"), {"images": images, "logits": logits})

    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(f)):8d}  tests/fixtures/torch/{f}")


if __name__ == "__main__":
    main()
