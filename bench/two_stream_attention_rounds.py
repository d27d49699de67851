#!/usr/bin/env python3
"""Interleaved rounds of the MaPeT two-stream attention (fwd + bwd, B32 H6 d64
T197 L50) against its PyTorch peers, for a shared machine where only ratios
measured in the same window mean anything.

Each round runs, one process each and in this order: ours
(bench/interval_attention, fused/fwd_bwd, Google Benchmark's mean over >= 2 s),
then every PyTorch variant (bench/torch_two_stream_attention.py, median of
--iters steps after 2 warm-up steps; newest PyTorch from pip in bench/.venv,
installed on first use). Optional extra binaries of ours (--ours
NAME=PATH, e.g. the build before a change) join each round. Prints every
round's wall seconds with the load average, then per variant the median,
min and max, and the median of the per-round ratios to ours.

  python3 bench/two_stream_attention_rounds.py --bench build/bench/interval_attention --rounds 4
  python3 bench/two_stream_attention_rounds.py --ours before=/tmp/old_interval_attention --variants sdpa
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def cpu_model():
    flags, model = set(), platform.processor()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    isa = "avx512f" if "avx512f" in flags else ("avx2+fma" if {"avx2", "fma"} <= flags else "pre-avx2")
    return f"{model}, {isa}, {os.cpu_count()} CPUs"


def run_ours(path, threads, filt):
    env = dict(os.environ, MAPET_THREADS=str(threads))
    out = subprocess.run([path, f"--benchmark_filter={filt}", "--benchmark_format=json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    unit = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
    return b["real_time"] * unit, b.get("process_cpu_ms", float("nan")) * 1e-3, b.get("label", "")


def run_torch(variant, threads, iters):
    cmd = [sys.executable, os.path.join(HERE, "torch_two_stream_attention.py"), "--variant", variant,
           "--threads", str(threads), "--iters", str(iters)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            if not r.get("available", True):
                return None, None, r.get("torch", "")
            return r["median_s"], r["median_process_cpu_s"], f"torch {r['torch']} ({r.get('cpu_capability', '')})"
    raise RuntimeError(f"no RESULT from {cmd}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", default="build/bench/interval_attention", help="ours")
    p.add_argument("--ours", action="append", default=[], help="NAME=PATH: another build of ours in each round")
    p.add_argument("--filter", default="fused/fwd_bwd", help="our benchmark (fused/fwd for the forward)")
    p.add_argument("--variants", default="sdpa,baddbmm", help="PyTorch variants, comma-separated")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=4)
    args = p.parse_args()

    ours = [("ours", args.bench)] + [tuple(o.split("=", 1)) for o in args.ours]
    variants = [v for v in args.variants.split(",") if v]
    print(f"CPU: {cpu_model()}; threads {args.threads}; MAPET_MAX_CPU_ISA={os.environ.get('MAPET_MAX_CPU_ISA', '')}")
    wall = {name: [] for name, _ in ours}
    wall.update({v: [] for v in variants})
    cpu, labels, loads = {k: [] for k in wall}, {}, []
    for rnd in range(args.rounds):
        loads.append(load())
        line = [f"round {rnd + 1} (load {loads[-1]}):"]
        for name, path in ours:
            w, c, labels[name] = run_ours(path, args.threads, args.filter)
            wall[name].append(w), cpu[name].append(c)
            line.append(f"{name} {w:.3f}s")
        for v in variants:
            w, c, labels[v] = run_torch(v, args.threads, args.iters)
            if w is None:
                continue
            wall[v].append(w), cpu[v].append(c)
            line.append(f"{v} {w:.3f}s")
        print(" ".join(line), flush=True)
    print(f"load average (1/5/15 min) at the start of each round: {'; '.join(loads)}")
    print("| variant | what | wall s median (min-max) | CPU s median | median of per-round ratio wall / ours |")
    print("| --- | --- | --- | --- | --- |")
    for k, ws in wall.items():
        if not ws:
            print(f"| {k} | {labels.get(k, '')} | unavailable | | |")
            continue
        ratios = [w / o for w, o in zip(ws, wall["ours"])]
        print(f"| {k} | {labels.get(k, '')} | {statistics.median(ws):.3f} ({min(ws):.3f}-{max(ws):.3f}) | "
              f"{statistics.median(cpu[k]):.3f} | {statistics.median(ratios):.2f} |")


if __name__ == "__main__":
    main()
