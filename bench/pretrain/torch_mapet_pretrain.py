#!/usr/bin/python3
"""The PyTorch peer of `mapet pretrain` for bench/pretrain/run.py: MaPeT
pre-training of a ViT-S/16 layout (dim 384, depth 12, heads 6, 224 px, layer
scale 0.1, drop path 0.1) as a straightforward PyTorch user writes it from the
paper (arXiv 2306.07346) and XLNet: a content stream and a query stream, two
attention calls per block that share the keys and values of the content
stream, and who-sees-whom as dense additive masks (0 / -inf) over the whole
sequence, built per sample from its permutation.

Streams, in natural token order (nothing re-ordered; DESIGN.md "MaPeT"):
  content h: T = 197 real tokens (CLS + 196 patches) then M = T - L mask tokens
             m_p = mask_positional_token + pos_embed[p], one per predicted patch;
  query   g: M rows, initialised to the same m_p.
With rank r(t) = position of token t in the sample's permutation (CLS first):
  content real i  sees real j with r(j) < max(r(i)+1, L) and m_p with r(p) > r(i);
  content mask    sees real j with r(j) < L and every mask token;
  query   i       sees real j with r(j) < r(i) and m_p with r(p) >= r(i).
Loss: cross-entropy of decoder(norm(g_i)) against the visual token of patch i,
over the M = 147 predicted patches (L = 50 of 197). AdamW (timm's decay groups),
cosine schedule with linear warm-up per step, clip_grad_norm_(3.0), f32 or
torch.autocast('cpu', dtype=torch.bfloat16).

Data: torchvision ImageFolder over the same JPEGs as `mapet pretrain`, the
pre-train view (RandomResizedCrop(224, scale (1,1), ratio (1,1), bicubic), no
flip, ColorJitter(0.4, 0.4, 0.4), ToTensor, ImageNet normalise), PIL decoding,
a DataLoader with --workers worker processes; targets from the same token store
(`mapet tokenize`, read here with numpy).

Writes OUTPUT/metrics.jsonl with one line per optimizer step, in the app's
format: {"step", "loss", "images_per_s", "data_wait"} where images_per_s is
batch / (wall time of the step, waiting for the batch included) and data_wait
the share of that time spent blocked on the DataLoader.

  /usr/bin/python3 bench/pretrain/torch_mapet_pretrain.py DATA --tokens STORE --output DIR
      [--amp] [--steps N] [-b 32] [--threads 2] [--workers 2]
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import transforms

CONFIGS = {
    "mapet_tiny_patch16_224": dict(embed_dim=192, num_heads=3),
    "mapet_small_patch16_224": dict(embed_dim=384, num_heads=6),
    "mapet_base_patch16_224": dict(embed_dim=768, num_heads=12),
}


# ---------------------------------------------------------------- model

def drop_path(x, p, training):
    if p == 0.0 or not training:
        return x
    keep = x.new_empty(x.shape[0], *([1] * (x.dim() - 1))).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TwoStreamAttention(nn.Module):
    """q / kv / proj as timm's ViT with MaPeT's split q and kv. The content and
    query streams each get their own attention call against the content stream's
    keys and values, with a dense additive mask [B, 1, rows, T + M]."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)  # k then v
        self.proj = nn.Linear(dim, dim)

    def _attend(self, x, k, v, mask):
        B, N, D = x.shape
        q = self.q(x).reshape(B, N, self.heads, D // self.heads).transpose(1, 2)
        attn = torch.softmax(q @ k.transpose(-2, -1) * self.scale + mask, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, D))

    def forward(self, h, g, content_mask, query_mask):
        B, S, D = h.shape
        k, v = self.kv(h).reshape(B, S, 2, self.heads, D // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        return self._attend(h, k, v, content_mask), self._attend(g, k, v, query_mask)


class Block(nn.Module):
    def __init__(self, dim, heads, drop_path_rate, init_values=0.1, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = TwoStreamAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
        self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        self.drop_path = drop_path_rate

    def forward(self, h, g, content_mask, query_mask):
        # One drop-path draw per sample, shared by its two streams (they are one sample).
        B = h.shape[0]
        if self.training and self.drop_path > 0:
            keep1 = h.new_empty(B, 1, 1).bernoulli_(1 - self.drop_path) / (1 - self.drop_path)
            keep2 = h.new_empty(B, 1, 1).bernoulli_(1 - self.drop_path) / (1 - self.drop_path)
        else:
            keep1 = keep2 = 1.0
        ah, ag = self.attn(self.norm1(h), self.norm1(g), content_mask, query_mask)
        h = h + keep1 * (self.gamma_1 * ah)
        g = g + keep1 * (self.gamma_1 * ag)
        h = h + keep2 * (self.gamma_2 * self.mlp(self.norm2(h)))
        g = g + keep2 * (self.gamma_2 * self.mlp(self.norm2(g)))
        return h, g


class MaPeT(nn.Module):
    def __init__(self, embed_dim=384, depth=12, num_heads=6, img_size=224, patch_size=16, vocab_size=8192,
                 least_number=50, drop_path_rate=0.1):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.num_patches = (img_size // patch_size) ** 2
        self.least_number = least_number
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, embed_dim))
        self.mask_positional_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        dpr = [drop_path_rate * i / (depth - 1) for i in range(depth)] if depth > 1 else [0.0]
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, dpr[i]) for i in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.decoder = nn.Linear(embed_dim, vocab_size)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.mask_positional_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def masks(self, perm):
        """perm [B, P]: patch indices in prediction order. Returns the additive
        content mask [B, 1, T+M, T+M], query mask [B, 1, M, T+M] and the predicted
        patches [B, M] in rank order."""
        B, P = perm.shape
        T, L = P + 1, self.least_number
        M = T - L
        rank = torch.empty(B, T, dtype=torch.long)
        rank[:, 0] = 0
        rank[:, 1:].scatter_(1, perm, torch.arange(1, T).expand(B, P))  # rank of patch p = 1 + position in perm
        pred = perm[:, L - 1:]  # the predicted patches (ranks L .. T-1), rank order
        key_rank = torch.cat([rank, torch.arange(L, T).expand(B, M)], 1)[:, None, :]  # [B, 1, T+M]
        is_real = torch.arange(T + M) < T
        real_row = rank[:, :, None]  # [B, T, 1]
        content_real = (is_real & (key_rank < torch.clamp(real_row + 1, min=L))) | (~is_real & (key_rank > real_row))
        content_mask_rows = ((is_real & (key_rank < L)) | ~is_real).expand(B, M, T + M)
        q_rank = torch.arange(L, T)[None, :, None]  # [1, M, 1]
        query = (is_real & (key_rank < q_rank)) | (~is_real & (key_rank >= q_rank))
        allowed_h = torch.cat([content_real, content_mask_rows], 1)
        to_additive = lambda a: torch.zeros(a.shape).masked_fill_(~a, float("-inf"))[:, None]
        return to_additive(allowed_h), to_additive(query), pred

    def forward(self, images, perm, tokens):
        B = images.shape[0]
        content_mask, query_mask, pred = self.masks(perm)
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], 1) + self.pos_embed
        pos = self.pos_embed.expand(B, -1, -1)
        m = self.mask_positional_token + torch.gather(pos, 1, (pred + 1)[:, :, None].expand(-1, -1, pos.shape[2]))
        h, g = torch.cat([x, m], 1), m
        for blk in self.blocks:
            h, g = blk(h, g, content_mask, query_mask)
        logits = self.decoder(self.norm(g))
        targets = torch.gather(tokens, 1, pred)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


def adamw(model, lr, weight_decay=0.05):
    """timm's decay groups (as engine/optim/adamw.cpp): none on 1-D parameters,
    pos_embed, cls_token, mask tokens and the layer-scale gammas."""
    skip = lambda n, p: p.ndim <= 1 or n in ("pos_embed", "cls_token", "mask_positional_token") or "gamma" in n
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not skip(n, p)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if skip(n, p)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


# ---------------------------------------------------------------- data

def read_token_store(path):
    """bench/../data/token_store.h: 64-byte header, then u16 [count][P]."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head[:8] != b"MAPETTOK":
        raise SystemExit(f"{path}: not a mapet token store")
    _version, P, count, vocab = struct.unpack_from("<IIQI", head, 8)
    tokens = np.fromfile(path, dtype="<u2", offset=64, count=count * P).reshape(count, P)
    return torch.from_numpy(tokens.astype(np.int64)), vocab


class Indexed(torch.utils.data.Dataset):
    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return self.base[i][0], i


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="image folder (DATA/train when it exists)")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--model", default="mapet_small_patch16_224", choices=sorted(CONFIGS))
    ap.add_argument("-b", "--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (0: one epoch)")
    ap.add_argument("--least-number", type=int, default=50)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--clip-grad", type=float, default=3.0)
    ap.add_argument("--amp", action="store_true", help="torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("MAPET_THREADS", 0)) or os.cpu_count())
    ap.add_argument("-j", "--workers", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    root = os.path.join(args.data, "train") if os.path.isdir(os.path.join(args.data, "train")) else args.data
    tf = transforms.Compose([
        transforms.RandomResizedCrop(224, scale=(1.0, 1.0), ratio=(1.0, 1.0),
                                     interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.ColorJitter(0.4, 0.4, 0.4),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    ds = Indexed(torchvision.datasets.ImageFolder(root, transform=tf))
    tokens, vocab = read_token_store(args.tokens)
    if tokens.shape[0] != len(ds):
        raise SystemExit(f"token store {args.tokens} holds {tokens.shape[0]} images, {root} has {len(ds)}")
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.workers, persistent_workers=args.workers > 0)
    cfg = CONFIGS[args.model]
    model = MaPeT(embed_dim=cfg["embed_dim"], num_heads=cfg["num_heads"], vocab_size=vocab,
                  least_number=args.least_number).train()
    opt = adamw(model, args.lr)
    steps = args.steps or len(loader)
    P = tokens.shape[1]
    print(f"PyTorch {torch.__version__}: {args.model} (MaPeT, dense masks), {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M "
          f"parameters, {vocab} visual tokens; {len(ds)} images, {steps} steps of {args.batch_size}; "
          f"{torch.get_num_threads()} threads, {args.workers} loader workers{', bf16 autocast' if args.amp else ''}",
          flush=True)

    os.makedirs(args.output, exist_ok=True)
    log = open(os.path.join(args.output, "metrics.jsonl"), "w")
    step, epoch = 0, 0
    it = iter(loader)
    while step < steps:
        t0 = time.perf_counter()
        try:
            images, idx = next(it)
        except StopIteration:
            epoch += 1
            it = iter(loader)
            images, idx = next(it)
        wait = time.perf_counter() - t0
        lr = args.lr * (step + 1) / args.warmup_steps if step < args.warmup_steps else \
            1e-5 + 0.5 * (args.lr - 1e-5) * (1 + math.cos(math.pi * (step - args.warmup_steps) / max(1, steps - args.warmup_steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        perm = torch.argsort(torch.rand(images.shape[0], P), dim=1)  # the patches in a random order (CLS goes first)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
            loss = model(images, perm, tokens[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        opt.step()
        step += 1
        secs = time.perf_counter() - t0
        log.write(json.dumps({"step": step, "epoch": epoch, "loss": round(loss.item(), 5), "lr": lr,
                              "images_per_s": args.batch_size / secs, "data_wait": wait / secs}) + "\n")
        log.flush()
    print(f"done: {step} steps, last loss {loss.item():.4f}", flush=True)


if __name__ == "__main__":
    main()
