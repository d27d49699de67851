#!/usr/bin/python3
"""The PyTorch peer of bench/vit_step: one ViT-Small/16 training step (224 px,
batch 32, 1000 classes): forward, cross-entropy, backward, clip_grad_norm_(1.0),
AdamW step; f32 and bf16 autocast. Prints images/s and one "RESULT {json}" line
per precision (read by bench/compare_vit.py).

timm is not installed here, so VisionTransformer below is a plain copy of timm's
(patch conv, cls token, pos_embed, pre-norm blocks with separate q and kv
linears as in MaPeT, exact GELU, LayerNorm eps 1e-6, token pooling, head), with
timm's parameter names, so tools/compare_debug_step.py reuses it.

  /usr/bin/python3 bench/torch_vit_step.py [--amp | --f32] [--batch 32] [--iters 3] [--threads N]
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias=True):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)  # k then v
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        q = self.q(x).reshape(B, T, self.heads, D // self.heads).transpose(1, 2)
        k, v = self.kv(x).reshape(B, T, 2, self.heads, D // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=384, depth=12,
                 num_heads=6, global_pool="token"):
        super().__init__()
        self.global_pool = global_pool
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        n = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads) for _ in range(depth)])
        if global_pool == "avg":
            self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        else:
            self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        # timm's init: trunc_normal(.02) for linears and pos_embed, cls_token normal(1e-6).
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.blocks(x)
        if self.global_pool == "avg":
            return self.head(self.fc_norm(x[:, 1:].mean(dim=1)))
        return self.head(self.norm(x)[:, 0])


CONFIGS = {  # the vit_standard_*_patch16_224 names of models/vit.cpp
    "vit_standard_tiny_patch16_224": dict(embed_dim=192, num_heads=3),
    "vit_standard_small_patch16_224": dict(embed_dim=384, num_heads=6),
    "vit_standard_base_patch16_224": dict(embed_dim=768, num_heads=12),
}


def adamw(model, lr=1e-3, weight_decay=0.05):
    """AdamW with timm's (and engine/optim/adamw.cpp's) decay groups: no decay on
    1-D parameters, pos_embed, cls_token and *gamma."""
    skip = lambda n, p: p.ndim <= 1 or n in ("pos_embed", "cls_token", "mask_token", "mask_positional_token") \
        or n.endswith("gamma")
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not skip(n, p)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if skip(n, p)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def vit_forward_flops(img, patch, chans, dim, depth, mlp_ratio, classes):
    """Same formula as bench/bench_common.h (matmul FLOPs of one image's forward)."""
    P = (img // patch) ** 2
    T = P + 1
    block = 2 * T * dim * dim * (1 + 2 + 1 + 2 * mlp_ratio) + 4 * T * T * dim
    return 2 * P * chans * patch * patch * dim + depth * block + 2 * dim * classes


def run(precision, args):
    torch.manual_seed(0)
    model = VisionTransformer(**CONFIGS[args.model]).train()
    opt = adamw(model)
    images = torch.randn(args.batch, 3, 224, 224)
    labels = torch.randint(0, 1000, (args.batch,))
    amp = precision == "bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(images), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    times = []
    cpu0 = time.process_time()  # all threads of the process, as vit_step's cpu_s
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu_s = (time.process_time() - cpu0) / args.iters
    step_s = statistics.median(times)
    cfg = CONFIGS[args.model]
    flops = 3 * args.batch * vit_forward_flops(224, 16, 3, cfg["embed_dim"], 12, 4.0, 1000)
    print(f"PyTorch {torch.__version__} {precision}: {args.batch / step_s:.2f} images/s "
          f"(median step {step_s * 1e3:.0f} ms of {args.iters}, {torch.get_num_threads()} threads)")
    print("RESULT " + json.dumps({"impl": f"pytorch-{torch.__version__}", "precision": precision,
                                  "model": args.model, "batch": args.batch, "threads": torch.get_num_threads(),
                                  "step_s": round(step_s, 4), "cpu_s": round(cpu_s, 4), "images_per_s": round(args.batch / step_s, 3),
                                  "gflops": round(flops / step_s / 1e9, 1)}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vit_standard_small_patch16_224", choices=sorted(CONFIGS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iters", type=int, default=3, help="timed steps (after one warm-up step)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("MAPET_THREADS", 0)) or os.cpu_count())
    p.add_argument("--amp", action="store_true", help="bf16 autocast only")
    p.add_argument("--f32", action="store_true", help="f32 only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__} ({torch.__file__}), {torch.get_num_threads()} threads, "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}", flush=True)
    for precision in (["f32"] if not args.amp else []) + (["bf16"] if not args.f32 else []):
        run(precision, args)


if __name__ == "__main__":
    main()
