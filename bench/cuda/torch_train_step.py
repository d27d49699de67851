#!/usr/bin/env python3
"""The PyTorch peer of bench/cuda/train_step on a GPU: the same MaPeT-Small/16
pre-training step (both streams, dense masks, token cross-entropy, backward,
clip 3.0, AdamW) as bench/pretrain/torch_mapet_pretrain.py's model, on random
images, tokens and permutations, timed with CUDA events (median of --iters
after 2 warm-up steps). Attention two ways:
  eager  softmax(q k^T * scale + additive mask) v, as the script writes it
  sdpa   F.scaled_dot_product_attention(q, k, v, attn_mask=bool mask) (what a
         modern user writes; PyTorch picks its memory-efficient kernel for masks)
The masks are built once for the fixed batch, outside the timed steps (this
favours PyTorch: our step builds its interval bounds each time).

  python3 bench/cuda/torch_train_step.py [--batch 64,256] [--iters 10] [--attention eager,sdpa]
      [--precision f32,bf16] [--device cuda] [--peak-tflops 989]
Prints one line per run and a RESULT {json} line, as cuda_train_step does.
"""
import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pretrain"))
import torch_mapet_pretrain as ref  # noqa: E402  (the model, as the CPU comparison uses it)


def use_sdpa(model):
    """Swap each block's attention for scaled_dot_product_attention with a boolean mask."""
    def attend(self, x, k, v, mask):
        B, N, D = x.shape
        q = self.q(x).reshape(B, N, self.heads, D // self.heads).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(o.transpose(1, 2).reshape(B, N, D))
    for blk in model.blocks:
        blk.attn._attend = attend.__get__(blk.attn)


def run(args, batch, attention, precision, device):
    torch.manual_seed(0)
    cfg = ref.CONFIGS[args.model]
    model = ref.MaPeT(embed_dim=cfg["embed_dim"], num_heads=cfg["num_heads"]).to(device)
    if attention == "sdpa":
        use_sdpa(model)
    opt = ref.adamw(model, 1.5e-3)
    P = model.num_patches
    images = torch.randn(batch, 3, 224, 224, device=device)
    tokens = torch.randint(0, 8192, (batch, P), device=device)
    perm = torch.stack([torch.randperm(P) for _ in range(batch)])
    content_mask, query_mask, pred = model.masks(perm)
    if attention == "sdpa":  # boolean: True = may attend
        content_mask, query_mask = content_mask == 0, query_mask == 0
    content_mask, query_mask, pred = content_mask.to(device), query_mask.to(device), pred.to(device)
    model.masks = lambda _perm: (content_mask, query_mask, pred)
    perm = perm.to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(images, perm, tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()

    step(), step()
    times = []
    for _ in range(args.iters):
        if device.type == "cuda":
            t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0.record()
            step()
            t1.record()
            t1.synchronize()
            times.append(t0.elapsed_time(t1))
        else:
            import time
            s = time.perf_counter()
            step()
            times.append((time.perf_counter() - s) * 1e3)
    ms = statistics.median(times)
    print(f"torch {attention:5s} {precision:4s} batch {batch:4d}: {ms:8.2f} ms/step (min {min(times):.2f}, "
          f"max {max(times):.2f})  {batch / ms * 1e3:9.1f} images/s")
    print("RESULT " + json.dumps({"impl": f"torch-{attention}", "model": args.model, "precision": precision,
                                  "batch": batch, "step_ms": round(ms, 3), "images_per_s": round(batch / ms * 1e3, 1),
                                  "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mapet_small_patch16_224", choices=sorted(ref.CONFIGS))
    ap.add_argument("--batch", default="64,256")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--attention", default="eager,sdpa")
    ap.add_argument("--precision", default="f32,bf16")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no GPU: torch_train_step not run")
        return 77
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    print(f"PyTorch {torch.__version__} MaPeT step on {name}: {args.model}")
    for batch in map(int, args.batch.split(",")):
        for attention in args.attention.split(","):
            for precision in args.precision.split(","):
                try:
                    run(args, batch, attention, precision, device)
                except torch.cuda.OutOfMemoryError:
                    print(f"torch {attention} {precision} batch {batch}: out of GPU memory")
                    torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
