#!/usr/bin/python3
"""Whole-run MaPeT pre-training throughput: our `mapet pretrain` against the
same run in PyTorch (bench/pretrain/torch_mapet_pretrain.py: dense-mask
two-stream attention), same model (mapet_small_patch16_224: ViT-S/16, dim 384,
depth 12, heads 6, 224 px, L = 50 of 197, 8192-way decoder by default), same
JPEGs, same visual tokens, same batch, same thread count, f32 and bf16 (our
--amp against torch.autocast('cpu', dtype=torch.bfloat16)).

Each round runs, per precision, both programs one after the other (who goes
first alternates), each a fresh process that trains WARMUP + STEPS optimizer
steps (one epoch of a dataset of exactly that many batches). From each run's
metrics.jsonl (the app's own, and the peer's in the same format) it skips the
WARMUP steps and takes, over the timed steps:
  images/s   batch x steps / the steps' summed wall time (data waits included)
  data wait  the share of that time the trainer was blocked on its loader
  CPU s/step process-tree CPU time (all threads, loader workers included)
             between the end of the last warm-up step and the end of the run's
             last step, read from /proc while the run goes
Then the medians over rounds, the ratio ours / PyTorch and MFU: training
FLOPs per image (3x the forward matmul FLOPs, counting both streams: 491 query
rows, 344 key rows, only the scores a row may see; see mapet_flops()) x images/s
over the machine's f32 GEMM peak, measured with bench/gemm_peak (best of the
rounds, 2048^3 f32) in the same run or given with --peak-gflops; and "MFU per
CPU s", the same with the step time replaced by CPU s/step / threads (what the
step would reach with its cores to itself: the figure a shared machine
disturbs least).

Setup (first run; kept under data_cache/pretrain_bench/, gitignored):
  bench/pretrain/make_dataset.py   BATCH x (WARMUP + STEPS) JPEGs of 500x375
  mapet tokenize --tokenizer pixel --train-centroids --kmeans-redo 1   token store at 224/16

  /usr/bin/python3 bench/pretrain/run.py [--build build-pre] [--rounds 3] [--steps 6] [--warmup 2]
      [--precisions f32,bf16] [--threads 2] [--workers 2] [--vocab 8192]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "bench", "pretrain")
CACHE = os.path.join(ROOT, "data_cache", "pretrain_bench")
CLK = os.sysconf("SC_CLK_TCK")


def mapet_flops(T=197, L=50, D=384, depth=12, mlp_ratio=4.0, vocab=8192, patch=16, chans=3):
    """Matmul FLOPs of one image's forward (2 per multiply-add), the formula of
    bench/mapet_step.cpp: rows R = T + 2M (content real, content mask, query),
    key rows K = T + M; per block q and proj 2 R D^2 each, kv 2 K 2D^2, MLP
    2 R 2 mlp_ratio D^2, attention 4 D x (keys each row may see, summed), the
    last block with only its M query rows (R = M); patch embedding 2 P C p^2 D;
    decoder 2 M D V. Also returns the FLOPs with every row of every block
    computed and every row seeing all K keys (what the dense-mask peer does)."""
    P, M = T - 1, T - L
    R, K = T + 2 * M, T + M
    visible = 0
    for r in range(T):  # content rows of real tokens, rank r
        visible += max(r + 1, L) + (M if r < L else T - 1 - r)
    visible += M * (L + M)  # content rows of mask tokens: the context and every mask token
    query_visible = M * T  # query row of rank L + q: L + q real keys, T - L - q mask keys
    visible += query_visible

    def linear(rows):
        return 2 * rows * D * D * 2 + 2 * K * 2 * D * D + 2 * rows * 2 * mlp_ratio * D * D

    # Our last block computes only the query stream (nothing reads the last content stream).
    blocks = (depth - 1) * (linear(R) + 4 * D * visible) + linear(M) + 4 * D * query_visible
    fwd = 2 * P * chans * patch * patch * D + blocks + 2 * M * D * vocab
    fwd_dense = 2 * P * chans * patch * patch * D + depth * (linear(R) + 4 * D * R * K) + 2 * M * D * vocab
    return fwd, fwd_dense


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def tree_cpu_s(pid):
    """utime + stime of pid and its descendants still alive, all threads."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if '"step"' in line)
    except FileNotFoundError:
        return 0


def run_one(cmd, env, metrics, warmup, steps, batch, log):
    """Runs a training process; returns its timed-step figures."""
    t_start = time.perf_counter()
    with open(log, "w") as out:
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        cpu_mark, cpu_end, seen = None, None, 0
        while p.poll() is None:
            n = count_lines(metrics)
            if n != seen:
                seen = n
                if n >= warmup and cpu_mark is None:
                    cpu_mark = tree_cpu_s(p.pid)
                if n >= warmup + steps and cpu_end is None:
                    cpu_end = tree_cpu_s(p.pid)
            time.sleep(0.05)
    wall = time.perf_counter() - t_start
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}); see {log}:\n" + open(log).read()[-3000:])
    recs = [json.loads(l) for l in open(metrics) if '"step"' in l]
    timed = recs[warmup:warmup + steps]
    if len(timed) < steps:
        sys.exit(f"{metrics}: {len(recs)} steps, expected {warmup + steps}")
    secs = [batch / r["images_per_s"] for r in timed]
    return {"step_s": secs, "wait": [r["data_wait"] for r in timed],
            "cpu_per_step": (cpu_end - cpu_mark) / steps if cpu_mark is not None and cpu_end is not None else float("nan"),
            "wall_total": wall, "loss_first": recs[0]["loss"], "loss_last": recs[-1]["loss"]}


def summarise(r, batch):
    secs = r["step_s"]
    total = sum(secs)
    return {"images_per_s": batch * len(secs) / total,
            "data_wait": sum(w * s for w, s in zip(r["wait"], secs)) / total,
            "cpu_per_step": r["cpu_per_step"], "wall_total": r["wall_total"],
            "step_s_median": statistics.median(secs), "loss": (r["loss_first"], r["loss_last"])}


def ensure_data(args, mapet):
    count = args.batch * (args.warmup + args.steps)
    data = os.path.join(CACHE, f"images_{count}")
    if not os.path.isdir(os.path.join(data, "train")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_dataset.py"), data, "--count", str(count)], check=True)
    tokdir = os.path.join(CACHE, f"tokens_{count}_v{args.vocab}")
    store = os.path.join(tokdir, "train.tokens")
    if not os.path.exists(store):
        cmd = [mapet, "tokenize", data, "--out", tokdir, "--tokenizer", "pixel", "--train-centroids",
               "--num-tokens", str(args.vocab), "--kmeans-redo", "1"] + args.tokenize_args.split()
        print("tokenizing:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, MAPET_THREADS=str(args.threads)))
    return data, store


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-pre")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6, help="timed optimizer steps per run")
    ap.add_argument("--warmup", type=int, default=2, help="steps skipped at the start of each run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--precisions", default="f32,bf16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="loader threads (ours) / DataLoader workers (PyTorch)")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--tokenize-args", default="", help="extra flags for `mapet tokenize`")
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="keep this environment's OPENBLAS_CORETYPE for PyTorch (default: unset, OpenBLAS picks)")
    ap.add_argument("--peak-gflops", type=float, default=0,
                    help="f32 GEMM peak for MFU (default: the best bench/gemm_peak measurement of this run)")
    ap.add_argument("--json", help="also write every figure here")
    args = ap.parse_args()

    mapet = os.path.join(ROOT, args.build, "apps", "mapet")
    gemm_peak = os.path.join(ROOT, args.build, "bench", "gemm_peak")
    data, store = ensure_data(args, mapet)
    env = dict(os.environ, MAPET_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    torch_env = dict(env)
    if not args.keep_openblas_coretype:
        torch_env.pop("OPENBLAS_CORETYPE", None)
    runs = os.path.join(CACHE, "runs")
    os.makedirs(runs, exist_ok=True)
    precisions = args.precisions.split(",")
    fwd, fwd_dense = mapet_flops(vocab=args.vocab)
    print(f"mapet_small_patch16_224 MaPeT pre-training, batch {args.batch}, {args.threads} threads, "
          f"{args.workers} loader workers, {args.rounds} rounds x ({args.warmup} warm-up + {args.steps} timed steps); "
          f"training FLOPs per image {3 * fwd / 1e9:.1f} G (dense-mask attention would be {3 * fwd_dense / 1e9:.1f} G); "
          f"load average {loadavg()}", flush=True)

    res = {(impl, p): [] for impl in ("ours", "torch") for p in precisions}
    peaks, loads = [], [loadavg()]
    t0 = time.time()
    for rnd in range(args.rounds):
        out = subprocess.run([gemm_peak, "--benchmark_filter=square/f32/2048"], env=env, capture_output=True,
                             text=True, cwd=ROOT).stdout
        peak = [float(l.split()[-2]) for l in out.splitlines() if l.startswith("f32 GEMM peak")]
        peaks += peak
        print(f"round {rnd + 1}: f32 GEMM peak {peak[0] if peak else float('nan'):.0f} GFLOP/s, "
              f"load average {loadavg()}", flush=True)
        for p in precisions:
            for impl in ("ours", "torch") if (rnd + precisions.index(p)) % 2 == 0 else ("torch", "ours"):
                tag = f"{impl}_{p}_r{rnd}_{int(time.time())}"
                outdir = os.path.join(runs, tag)
                if impl == "ours":
                    cmd = [mapet, "pretrain", data, "--tokens", store, "--model", "mapet_small_patch16_224",
                           "--objective", "mapet", "-b", str(args.batch), "--total-batch", str(args.batch),
                           "--epochs", "1", "--warmup-epochs", "0", "--checkpoint-epochs", "0", "-j",
                           str(args.workers), "--quiet", "--output", outdir] + (["--amp"] if p == "bf16" else [])
                    e = env
                else:
                    cmd = [sys.executable, os.path.join(HERE, "torch_mapet_pretrain.py"), data, "--tokens", store,
                           "--output", outdir, "-b", str(args.batch), "--steps", str(args.warmup + args.steps),
                           "--threads", str(args.threads), "--workers", str(args.workers)] + \
                          (["--amp"] if p == "bf16" else [])
                    e = torch_env
                r = summarise(run_one(cmd, e, os.path.join(outdir, "metrics.jsonl"), args.warmup, args.steps,
                                      args.batch, outdir + ".log"), args.batch)
                res[(impl, p)].append(r)
                print(f"  {p:4s} {impl:5s} {r['images_per_s']:6.2f} img/s, data wait {100 * r['data_wait']:4.1f}%, "
                      f"{r['cpu_per_step']:6.2f} CPU s/step, median step {r['step_s_median']:.2f} s, "
                      f"whole process {r['wall_total']:.0f} s, loss {r['loss'][0]:.3f} -> {r['loss'][1]:.3f}, "
                      f"load {loadavg()}", flush=True)
        loads.append(loadavg())

    peak = args.peak_gflops or (max(peaks) if peaks else float("nan"))
    print(f"\nf32 GEMM peak (best of {len(peaks)}): {peak:.0f} GFLOP/s; {3 * fwd / 1e9:.1f} GFLOP per image per step; "
          f"{(time.time() - t0) / 60:.1f} min; load averages {' | '.join(loads)}")
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    print("| precision | ours img/s (runs) | PyTorch img/s (runs) | ours / PyTorch (medians) | CPU s/step ours | "
          "CPU s/step PyTorch | PyTorch / ours CPU | MFU ours | MFU PyTorch | MFU per CPU s ours | MFU per CPU s PyTorch | "
          "data wait ours | data wait PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    table = {}
    for p in precisions:
        o, t = res[("ours", p)], res[("torch", p)]
        oi, ti = med([r["images_per_s"] for r in o]), med([r["images_per_s"] for r in t])
        oc, tc = med([r["cpu_per_step"] for r in o]), med([r["cpu_per_step"] for r in t])
        mfu = lambda ips: 3 * fwd * ips / 1e9 / peak
        # The same per CPU second: as if the step had had its `threads` cores to itself.
        mfu_cpu = lambda cpu_s: 3 * fwd * args.batch / (cpu_s / args.threads) / 1e9 / peak
        row = {"ours_images_per_s": oi, "torch_images_per_s": ti, "ratio": oi / ti, "ours_cpu_s": oc,
               "torch_cpu_s": tc, "mfu_ours": mfu(oi), "mfu_torch": mfu(ti),
               "mfu_cpu_ours": mfu_cpu(oc), "mfu_cpu_torch": mfu_cpu(tc),
               "wait_ours": med([r["data_wait"] for r in o]), "wait_torch": med([r["data_wait"] for r in t])}
        table[p] = row
        fmt = lambda rs: ", ".join(f"{r['images_per_s']:.2f}" for r in rs)
        print(f"| {p} | {fmt(o)} | {fmt(t)} | **{row['ratio']:.2f}x** | {oc:.2f} | {tc:.2f} | {tc / oc:.2f}x | "
              f"{100 * row['mfu_ours']:.0f}% | {100 * row['mfu_torch']:.0f}% | {100 * row['mfu_cpu_ours']:.0f}% | "
              f"{100 * row['mfu_cpu_torch']:.0f}% | {100 * row['wait_ours']:.1f}% | "
              f"{100 * row['wait_torch']:.1f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": peak, "peaks": peaks, "flops_per_image_step": 3 * fwd, "loads": loads,
                       "table": table, "runs": {f"{i}/{p}": v for (i, p), v in res.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
