#!/usr/bin/python3
"""Data-parallel scaling of `mapet pretrain` on one machine: MaPeT-Small
(mapet_small_patch16_224, f32, 224 px, 8192 visual tokens) at the same global
batch as one process of T threads, and as `mpirun -np R` ranks of T / R
threads each (--batch-size = global / R per rank).

Each run trains WARMUP + STEPS optimizer steps (a run during which any of its
processes is seen stopped, as happens on a shared machine, is done again);
from its metrics.jsonl (rank 0's) it skips the warm-up and takes, over the
timed steps:
  images/s    global batch x steps / the steps' summed wall time
  comm wait   the share of the step spent in GradSync::finish(): the gradient
              all-reduce the backward pass did not hide (plus the copy back)
  CPU s/step  user + system time of all processes (ranks, threads, loader
              workers) per timed step: what load from others disturbs least
The data-parallel configuration also runs once with the overlap off
(MAPET_GRAD_OVERLAP=0: every bucket starts after the backward), whose comm
wait is the whole communication time; hidden = 1 - wait(on) / wait(off).

Data (made on first use, kept under data_cache/): Fashion-MNIST as JPEGs
(`mapet prepare`, as `make demo`), the first GLOBAL BATCH x (WARMUP + STEPS)
training images in an ImageFolder of links, upscaled to 224 px by the
pre-training view, with random visual tokens (196 per image, imported with
`mapet tokenize --import`): neither changes the step time.

  /usr/bin/python3 bench/distributed/run.py [--build build] [--rounds 2] [--threads 2] [--ranks 2]
      [--batch 32] [--steps 4] [--warmup 2]
"""
import argparse
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "data_cache", "dist_bench")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ensure_data(args, mapet):
    fm = os.path.join(ROOT, "data_cache", "fashion-mnist")
    if not os.path.isdir(os.path.join(fm, "val")):
        subprocess.run([mapet, "prepare", "fashion-mnist", "--out", fm], check=True, cwd=ROOT)
    count = args.batch * (args.warmup + args.steps)
    data = os.path.join(CACHE, f"images_{count}")
    if not os.path.isdir(os.path.join(data, "train")):
        classes = sorted(os.listdir(os.path.join(fm, "train")))
        files = {c: sorted(os.listdir(os.path.join(fm, "train", c))) for c in classes}
        for i in range(count):
            c = classes[i % len(classes)]
            os.makedirs(os.path.join(data, "train", c), exist_ok=True)
            name = files[c][i // len(classes)]
            os.symlink(os.path.join(fm, "train", c, name), os.path.join(data, "train", c, name))
    # Random token ids, imported: k-means of 8192 centroids would take hours on 2 loaded cores, and what the
    # tokens are does not change the step time.
    tokdir = os.path.join(CACHE, f"tokens_{count}_v{args.vocab}")
    store = os.path.join(tokdir, "train.tokens")
    if not os.path.exists(store):
        os.makedirs(tokdir, exist_ok=True)
        ids = os.path.join(tokdir, "ids.npy")
        write_npy_i64(ids, count, 196, random.Random(0), args.vocab)
        cmd = [mapet, "tokenize", data, "--out", tokdir, "--import", "train=" + ids, "--num-tokens", str(args.vocab)]
        print("tokens:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
    return data, store


def write_npy_i64(path, rows, cols, rng, bound):
    """An int64 [rows, cols] .npy of ids in [0, bound) (no numpy needed)."""
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dq" % (rows * cols), *(rng.randrange(bound) for _ in range(rows * cols))))


def tree(pid):
    """pid and its descendants (from /proc/*/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def stopped(pids):
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "T":
                    return True
        except OSError:
            pass
    return False


def cpu_seconds(pids):
    """User + system CPU time of these processes (all their threads)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK


def steps_logged(out):
    try:
        with open(os.path.join(out, "metrics.jsonl")) as f:
            return sum(1 for line in f if '"step"' in line)
    except FileNotFoundError:
        return 0


def train(cmd, env, out, warmup, steps, batch, log):
    """One run; None when a process of it was seen stopped (SIGSTOP by someone sharing the machine)."""
    seen_stopped, cpu = False, {}
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        while p.poll() is None:
            pids = tree(p.pid)
            seen_stopped = seen_stopped or stopped(pids)
            n = steps_logged(out)
            if n in (warmup, warmup + steps) and n not in cpu:
                cpu[n] = cpu_seconds(pids)  # the ranks' CPU time when rank 0 logged step n
            time.sleep(0.05)
        rc = p.returncode
    if seen_stopped:
        return None
    if rc != 0:
        sys.exit(f"{' '.join(cmd)} failed ({rc}); see {log}:\n" + open(log).read()[-3000:])
    recs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if '"step"' in l]
    timed = recs[warmup:warmup + steps]
    if len(timed) < steps:
        sys.exit(f"{out}: {len(recs)} steps, expected {warmup + steps}")
    secs = [batch / r["images_per_s"] for r in timed]
    wait = sum(r.get("comm_wait", 0.0) * s for r, s in zip(timed, secs))
    cpu_step = (cpu[warmup + steps] - cpu[warmup]) / steps if len(cpu) == 2 else float("nan")
    return {"images_per_s": batch * len(secs) / sum(secs), "comm_wait": wait / sum(secs),
            "comm_s_per_step": wait / len(secs), "step_s": statistics.median(secs), "cpu_s_per_step": cpu_step}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads of the one process; ranks share them")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="global batch")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--tries", type=int, default=4, help="runs of a configuration when someone stops its processes")
    ap.add_argument("--json", help="also write every figure here")
    args = ap.parse_args()
    if args.threads % args.ranks or args.batch % args.ranks:
        sys.exit("--threads and --batch must be multiples of --ranks")

    mapet = os.path.join(ROOT, args.build, "apps", "mapet")
    data, store = ensure_data(args, mapet)
    runs = os.path.join(CACHE, "dist_runs")
    os.makedirs(runs, exist_ok=True)
    per_rank = args.threads // args.ranks
    base = ["pretrain", data, "--tokens", store, "--model", "mapet_small_patch16_224", "--objective", "mapet",
            "--epochs", "1", "--warmup-epochs", "0", "--workers", "1", "--quiet",
            "--total-batch", str(args.batch), "--seed", "0"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    configs = {
        f"1 x {args.threads}": ([mapet] + base + ["-b", str(args.batch)], dict(env, MAPET_THREADS=str(args.threads))),
        f"{args.ranks} x {per_rank}": ([args.mpirun, "-np", str(args.ranks), "--bind-to", "core", mapet] + base +
                                       ["-b", str(args.batch // args.ranks)], dict(env, MAPET_THREADS=str(per_rank))),
    }
    dp = f"{args.ranks} x {per_rank}"
    configs[dp + " overlap off"] = (configs[dp][0], dict(configs[dp][1], MAPET_GRAD_OVERLAP="0"))
    print(f"mapet_small_patch16_224 f32, global batch {args.batch}, {args.rounds} rounds x ({args.warmup} warm-up + "
          f"{args.steps} timed steps); configurations: ranks x threads; load average {loadavg()}", flush=True)
    res = {k: [] for k in configs}
    t0 = time.time()
    for rnd in range(args.rounds):
        order = list(configs) if rnd % 2 == 0 else list(reversed(configs))
        for name in order:
            cmd, e = configs[name]
            out = os.path.join(runs, name.replace(" ", "_"))
            for attempt in range(args.tries):
                subprocess.run(["rm", "-rf", out], check=True)
                r = train(cmd + ["--output", out], e, out, args.warmup, args.steps, args.batch, out + ".log")
                if r is not None:
                    break
                print(f"  round {rnd + 1} {name}: a process was stopped (SIGSTOP) during the run; again", flush=True)
            if r is None:
                sys.exit(f"{name}: stopped in each of {args.tries} tries; the machine is not ours to measure now")
            res[name].append(r)
            print(f"  round {rnd + 1} {name:>18}: {r['images_per_s']:.2f} img/s, step {r['step_s']:.2f} s, "
                  f"comm wait {100 * r['comm_wait']:.1f}% ({r['comm_s_per_step'] * 1e3:.0f} ms/step), "
                  f"CPU {r['cpu_s_per_step']:.1f} s/step; "
                  f"load {loadavg()}", flush=True)
    one = statistics.median(r["images_per_s"] for r in res[f"1 x {args.threads}"])
    two = statistics.median(r["images_per_s"] for r in res[dp])
    on = statistics.median(r["comm_s_per_step"] for r in res[dp])
    off = statistics.median(r["comm_s_per_step"] for r in res[dp + " overlap off"])
    cpu1 = statistics.median(r["cpu_s_per_step"] for r in res[f"1 x {args.threads}"])
    cpu2 = statistics.median(r["cpu_s_per_step"] for r in res[dp])
    print(f"CPU time per step (all threads, all ranks): 1 x {args.threads} {cpu1:.1f} s, {dp} {cpu2:.1f} s: "
          f"on a machine of its own {dp} would run at ~{100 * cpu1 / (cpu2 + args.threads * on):.0f}% of one "
          f"process (CPU time / {args.threads} cores + the comm wait)", flush=True)
    print(f"medians: 1 x {args.threads} {one:.2f} img/s; {dp} {two:.2f} img/s = {100 * two / one:.0f}% of one "
          f"process; comm not hidden {on * 1e3:.0f} ms/step of {off * 1e3:.0f} ms with the overlap off: "
          f"{100 * (1 - on / off) if off > 0 else float('nan'):.0f}% hidden ({time.time() - t0:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": res}, f, indent=1)


if __name__ == "__main__":
    main()
