#!/usr/bin/env python3
"""The PyTorch peer of bench/interval_attention: MaPeT two-stream attention,
forward + backward, with a dense float mask (0 = may attend, -inf = blocked).

Shapes as in pre-training ViT-Small: B = 32, 6 heads, head dim 64, T = 197
real tokens, L = 50 context tokens, M = T - L = 147; queries are
[content real (T) | content mask (M) | query stream (M)] = 491 rows, keys and
values the content stream (T + M = 344 rows). The mask follows DESIGN.md's
"who sees whom" in permutation order, the same two intervals per row as
kernels/common/interval_mask.h (rebuilt here from the rules, not copied).

Variants (one per process, so each one's peak RSS is its own):
  manual   softmax(Q K^T * scale + mask) V with autograd
  baddbmm  the same with the scale and the mask folded into one batched GEMM
           (torch.baddbmm(mask, Q, K^T, alpha=scale)), one pass fewer over the scores
  sdpa     torch.nn.functional.scaled_dot_product_attention with the boolean
           mask (PyTorch >= 2.0; reported as unavailable on older versions
           such as Debian's 1.13)
  sdpa_fwd, flex_fwd  forward only (no autograd): SDPA as above, and
           FlexAttention (torch.nn.attention.flex_attention, eager) with the
           same mask as a mask_mod; FlexAttention has no CPU backward

The newest PyTorch is what a user installs today, so by default the script
runs itself in a venv of its own, bench/.venv (gitignored; override with
MAPET_TORCH_VENV), which it creates and fills with `pip install torch` when
it is missing. --system-python runs it with whatever python started it (e.g.
Debian's python3-torch 1.13). `make test` never needs any of this.

  python3 bench/torch_two_stream_attention.py [--threads 2] [--iters 10]
  python3 bench/torch_two_stream_attention.py --variant sdpa   (one variant, one process)
  python3 bench/two_stream_attention_rounds.py   (interleaved rounds against bench/interval_attention)

Prints one "RESULT {json}" line per variant: best and median seconds of one
forward + backward (wall clock; and the CPU time of all threads, the figure a
shared machine disturbs least with one thread), and peak RSS (ru_maxrss) with the RSS before the timed
work, so their difference is the memory the attention itself needed.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.environ.get("MAPET_TORCH_VENV", os.path.join(HERE, ".venv"))


def ensure_venv():
    """Re-runs this script with the venv's python, creating the venv first if needed."""
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(py) or subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0:
        print(f"installing the newest PyTorch into {VENV} (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "torch"], check=True)
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


if __name__ == "__main__" and "--system-python" not in sys.argv:
    ensure_venv()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


VARIANTS = ("manual", "baddbmm", "sdpa", "sdpa_fwd", "flex_fwd")


def rss_now_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def mapet_allowed(T, L):
    """Dense [Tq, Tk] boolean mask in permutation order (rank r = position): True = may attend."""
    M = T - L
    Tq, Tk = T + 2 * M, T + M
    j = torch.arange(T)[None, :]  # real key of rank j
    m = torch.arange(M)[None, :]  # mask key of the patch with rank L + m
    r = torch.arange(T)[:, None]  # content row, real token of rank r
    q = torch.arange(M)[:, None]  # query row predicting rank L + q
    real_rows = torch.cat([j < torch.clamp(r + 1, min=L), L + m > r], 1)  # rank < max(r+1, L); mask ranks > r
    mask_rows = torch.cat([(j < L).expand(M, T), torch.ones(M, M, dtype=torch.bool)], 1)  # context, every mask
    query_rows = torch.cat([j < L + q, m >= q], 1)  # ranks < L + q; mask ranks >= L + q
    allowed = torch.cat([real_rows, mask_rows, query_rows], 0)
    assert allowed.shape == (Tq, Tk)
    return allowed


def mapet_mask(T, L):
    """The same as a float mask: 0 = may attend, -inf = blocked."""
    allowed = mapet_allowed(T, L)
    mask = torch.zeros(allowed.shape)
    mask.masked_fill_(~allowed, float("-inf"))
    return mask


def run_variant(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B, H, d, T, L = args.batch, args.heads, args.head_dim, args.tokens, args.least_number
    M = T - L
    Tq, Tk = T + 2 * M, T + M
    scale = d**-0.5
    mask = mapet_mask(T, L)
    grad = not args.variant.endswith("_fwd")  # (FlexAttention refuses inputs that require grad on the CPU)
    q = torch.randn(B, H, Tq, d, requires_grad=grad)
    k = torch.randn(B, H, Tk, d, requires_grad=grad)
    v = torch.randn(B, H, Tk, d, requires_grad=grad)
    dout = torch.randn(B, H, Tq, d)

    if args.variant == "manual":

        def step():
            attn = torch.softmax(q @ k.transpose(-2, -1) * scale + mask, dim=-1)
            (attn @ v).backward(dout)

    elif args.variant == "baddbmm":
        mask_bh = mask.expand(B * H, Tq, Tk)

        def step():
            scores = torch.baddbmm(mask_bh, q.reshape(B * H, Tq, d), k.reshape(B * H, Tk, d).transpose(1, 2), alpha=scale)
            attn = torch.softmax(scores, dim=-1)
            torch.bmm(attn, v.reshape(B * H, Tk, d)).reshape(B, H, Tq, d).backward(dout)

    elif args.variant in ("sdpa", "sdpa_fwd"):
        if not hasattr(F, "scaled_dot_product_attention"):
            print("RESULT " + json.dumps({"variant": args.variant, "available": False, "torch": torch.__version__}))
            return
        allowed = mapet_allowed(T, L)  # boolean: what a user of SDPA passes

        if args.variant == "sdpa":

            def step():
                F.scaled_dot_product_attention(q, k, v, attn_mask=allowed).backward(dout)  # default scale 1/sqrt(d)

        else:

            def step():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)

    else:  # flex_fwd
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        except ImportError:
            print("RESULT " + json.dumps({"variant": args.variant, "available": False, "torch": torch.__version__}))
            return
        allowed = mapet_allowed(T, L)

        def mask_mod(b, h, qi, ki):
            return allowed[qi, ki]

        block_mask = create_block_mask(mask_mod, None, None, Tq, Tk, device="cpu")

        def step():
            with torch.no_grad():
                flex_attention(q, k, v, block_mask=block_mask)

    rss_before = rss_now_mib()
    times, cpu_times = [], []
    for i in range(args.warmup + args.iters):
        q.grad = k.grad = v.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
    print(
        "RESULT "
        + json.dumps(
            {
                "variant": args.variant,
                "available": True,
                "torch": torch.__version__,
                "cpu_capability": torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "",
                "threads": torch.get_num_threads(),
                "shape": {"B": B, "H": H, "d": d, "Tq": Tq, "Tk": Tk},
                "best_s": min(times),
                "median_s": statistics.median(times),
                "median_process_cpu_s": statistics.median(cpu_times),
                "rss_before_mib": round(rss_before, 1),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
            }
        ),
        flush=True,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=VARIANTS, help="run one variant in this process")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--tokens", type=int, default=197)
    p.add_argument("--least-number", type=int, default=50)
    p.add_argument("--system-python", action="store_true", help="no venv: use the python that runs the script")
    args = p.parse_args()
    if args.variant:
        run_variant(args)
        return
    rest = [a for a in sys.argv[1:]]
    for variant in ("manual", "baddbmm", "sdpa"):
        subprocess.run([sys.executable, os.path.abspath(__file__), "--variant", variant] + rest, check=True)


if __name__ == "__main__":
    main()
