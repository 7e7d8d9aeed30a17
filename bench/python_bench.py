#!/usr/bin/env python3
"""Python module benchmark: tweets/s of `model.predict` on the TweetEval sentiment test texts (12,284
tweets) next to the CLI (`tern infer` on the same texts) and the Dask path (tern.dask.annotate on a
distributed.LocalCluster with 1 and 2 worker processes), in the same run.

Validates first (the Python rows, the Dask rows and the CLI rows must be identical), warms up, then
reports the median of 3 runs of each. Run from the repository root:

    PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [--model sentiment] [--out /tmp/python_bench.md]

What each figure covers:
  cli          `tern infer TEXTS.txt.gz OUT.jsonl -q`, wall time of the process: start, model load, reading,
               tokenising, encoder, writing (what a user waits for)
  predict      model.predict(texts): texts already in memory, model loaded; tokenising, encoder, rows (dicts)
  predict 1t   the same with tern.load(threads=1): one core, no OpenMP team (on a machine whose cores
               are taken by other processes, a 2-thread team waits at every barrier)
  predict_df   model.predict_df(DataFrame): as predict, plus building the DataFrame
  dask N       tern.dask.annotate(path).compute() on a running N-worker LocalCluster (1 thread per worker,
               tern threads = cores / N): the counting pass, reading, re-cut partitions, predicting, the
               result gathered to the client; the model is loaded once per worker during the warm-up
"""
import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import tern  # noqa: E402
import tern.dask  # noqa: E402




def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model file or shipped name (default: the shipped default)")
    ap.add_argument("--texts", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "tweeteval",
                                                     "sentiment", "test_text.txt.gz"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0,
                    help="the first N texts only (written to a temporary .txt.gz that every path reads)")
    ap.add_argument("--out", default=None, help="write the results as Markdown here (e.g. /tmp/python_bench.md; results are kept in docs/results.md)")
    args = ap.parse_args()
    tern_bin = tern.cli_path()
    model_name = args.model or tern.default_model_name()
    cores = os.cpu_count() or 1

    with gzip.open(args.texts, "rt", encoding="utf-8") as f:
        texts = [l[:-1] if l.endswith("\n") else l for l in f]
    tmp = tempfile.mkdtemp(prefix="tern-pybench-")
    if args.limit:
        texts = texts[:args.limit]
        args.texts = os.path.join(tmp, "texts.txt.gz")
        with gzip.open(args.texts, "wt", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in texts))
    n = len(texts)
    model = tern.load(model_name)
    print(f"model {model.info.name} ({model.info.path}), {n} tweets, {cores} cores, tern {tern_bin}", flush=True)

    out = os.path.join(tmp, "cli.jsonl")

    def cli():
        subprocess.run([tern_bin, "infer", args.texts, out, "--model", model_name, "-q"], check=True)

    # ---- validate: the Python rows and the CLI rows are identical ----
    cli()
    with open(out, encoding="utf-8") as f:
        cli_rows = [json.loads(l) for l in f]
    rows = model.predict(texts)
    assert rows == [{k: v for k, v in r.items() if k != "id"} for r in cli_rows], "predict differs from tern infer"
    print("validated: model.predict rows == tern infer rows", flush=True)

    # ---- Dask clusters (both up for the whole run), validated warm-up ----
    from distributed import Client, LocalCluster

    labels = model.info.labels
    clusters, clients = {}, {}
    for workers in (1, 2):
        clusters[workers] = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
        clients[workers] = Client(clusters[workers], set_as_default=False)

    def dask_run(workers):
        ddf = tern.dask.annotate(args.texts, model=model_name, threads=max(1, cores // workers))
        return ddf.compute(scheduler=clients[workers])

    for workers in (1, 2):
        got = dask_run(workers)  # each worker loads the model here
        # The single tern infer run with the same thread count per task (floats depend on it).
        t = max(1, cores // workers)
        out_t = os.path.join(tmp, f"cli-t{t}.jsonl")
        subprocess.run([tern_bin, "infer", args.texts, out_t, "--model", model_name, "-q", "--threads", str(t)],
                       check=True)
        with open(out_t, encoding="utf-8") as f:
            ref = [json.loads(l) for l in f]
        assert got["label"].tolist() == [r["label"] for r in ref], "dask labels differ from tern infer"
        for l in labels:
            assert np.array_equal(got["prob_" + l].to_numpy(),
                                  np.array([r["probs"][l] for r in ref], dtype=np.float32)), l
    print("validated: Dask rows (1 and 2 workers) == tern infer --threads (cores / workers) rows", flush=True)
    model.predict(texts[:256])  # warm-up
    df = pd.DataFrame({"text": texts})

    # ---- timed rounds: every path once per round, so load changes on the shared machine hit all alike ----
    model1 = tern.load(model_name, threads=1)
    model1.predict(texts[:256])
    paths = {"cli": cli, "predict": lambda: model.predict(texts), "predict 1t": lambda: model1.predict(texts),
             "predict_df": lambda: model.predict_df(df),
             "dask 1": lambda: dask_run(1), "dask 2": lambda: dask_run(2)}
    times = {k: [] for k in paths}
    load0 = os.getloadavg()[0]
    for r in range(args.runs):
        for k, fn in paths.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
            print(f"round {r + 1} {k:10s} {n / times[k][-1]:8.0f} tweets/s", flush=True)
    res = {k: (statistics.median(ts), ts) for k, ts in times.items()}
    for w in (1, 2):
        clients[w].close()
        clusters[w].close()

    base = n / res["cli"][0]
    lines = [
        "## Python module: `model.predict`, the CLI and Dask on the TweetEval sentiment test set",
        "",
        f"`bench/python_bench.py` ({time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {cores} cores, load "
        f"average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end): model `{model.info.name}` "
        f"({os.path.basename(model.info.path)}), {'the first ' if args.limit else ''}{n} tweets of `test_text.txt.gz`, median of {args.runs} rounds "
        "(each path once per round) after a validated warm-up (the Python rows and the Dask rows equal `tern infer`'s, bit for bit).",
        "",
        "| path | median s | tweets/s | vs CLI | runs (s) |",
        "|---|---|---|---|---|",
    ]
    desc = {"cli": "`tern infer` (process: load, read, tokenise, encode, write)",
            "predict": "`model.predict(texts)` (in memory, model loaded)",
            "predict 1t": "`model.predict(texts)`, `tern.load(threads=1)`",
            "predict_df": "`model.predict_df(df)`",
            "dask 1": "`tern.dask.annotate(path)`, LocalCluster 1 worker x 2 tern threads",
            "dask 2": "`tern.dask.annotate(path)`, LocalCluster 2 workers x 1 tern thread"}
    for k, (med, ts) in res.items():
        lines.append(f"| {desc[k]} | {med:.2f} | {n / med:.0f} | {n / med / base:.2f}x | "
                     f"{', '.join(f'{t:.2f}' for t in ts)} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
