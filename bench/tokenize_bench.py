#!/usr/bin/python3
"""Tokenizer benchmark, end to end: `tern tokenize` (input file -> JSONL output file, as a user runs it)
against Hugging Face tokenizers' `encodeBatch` (Rust, npm `tokenizers@0.23.2`, bench/hf_tokenizers_peer.js in
serve mode) on the TweetEval sentiment test texts (12,284 tweets), in the same run, interleaved.

- tern: `tern tokenize (--model M.h5 | --tokenizer DIR) --input TEXTS.txt --output OUT.jsonl --threads N`,
  timed from outside (wall clock of the whole process: start, tokenizer load, reading, tokenising, writing
  the JSONL file). The texts are the gunzipped test_text.txt.gz, written once to a temporary file.
- Hugging Face: one `await tok.encodeBatch(texts)` over all texts in memory (its rayon pool, RAYON_NUM_THREADS=N),
  timed inside Node; loading the tokenizer and the texts is not timed. Truncation and padding are off in both
  (the tokenizer.json files of ../shared/models say max_length 64: `--max-length 64` sets it in both).
- Before timing, the ids of every tweet are compared (tern's JSONL vs the peer's encodeBatch); any
  difference stops the benchmark.
- Then `--rounds` rounds, the order of tern and HF alternating; medians, the ratio of the medians
  (HF seconds / tern seconds = tern's tweets/s over HF's) and the median of the per-round ratios. The load
  average is printed at the start and at the end: the machine is shared, so only same-run ratios mean much.

Tokenizers (`--tok`, default both):
  bert     the shipped default model's tokenizer (WordPiece, bert-base-uncased vocab): tern --model
           weights/models/sentiment.h5, HF ../shared/models/tweet-bert-mini/tokenizer.json
  roberta  byte-level BPE (roberta-base vocab): tern --tokenizer ../shared/models/tweet-roberta-mini, HF its
           tokenizer.json

  /usr/bin/python3 bench/tokenize_bench.py [--tern build/cli/tern] [--rounds 7] [--threads 2] [--tok bert]
                                           [--baseline OTHER/tern]

--baseline runs a second tern binary (e.g. one built from an earlier commit) in the same rounds, checked the same
way, and adds its figures and its ratio to HF and to tern.

Needs node and the npm package under --hftok (default /tmp/hftok: `cd /tmp/hftok && npm install
tokenizers@0.23.2`). Run from the repository root.
"""
import argparse
import datetime
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SHARED = "../shared"
TEXTS = f"{SHARED}/data/tweeteval/sentiment/test_text.txt.gz"
TOKS = {
    "bert": {"tern": ["--model", "weights/models/sentiment.h5"],
             "hf": f"{SHARED}/models/tweet-bert-mini/tokenizer.json",
             "what": "shipped default model sentiment.h5 (tweet-bert-mini WordPiece, bert-base-uncased vocab)"},
    "roberta": {"tern": ["--tokenizer", f"{SHARED}/models/tweet-roberta-mini"],
                "hf": f"{SHARED}/models/tweet-roberta-mini/tokenizer.json",
                "what": "tweet-roberta-mini (byte-level BPE, roberta-base vocab)"},
}


def load_avg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def model_type(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["model"]["type"]


class Peer:
    def __init__(self, hftok, tokenizer_json, texts, ids_out, threads, max_length):
        env = dict(os.environ, NODE_PATH=os.path.join(hftok, "node_modules"), RAYON_NUM_THREADS=str(threads))
        here = os.path.dirname(os.path.abspath(__file__))
        self.p = subprocess.Popen(["node", os.path.join(here, "hf_tokenizers_peer.js"), "--serve", tokenizer_json,
                                   texts, ids_out, str(max_length)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            raise SystemExit(f"HF peer failed to start (got {line!r}); is tokenizers@0.23.2 under {hftok}?")

    def run(self):
        self.p.stdin.write("run\n")
        self.p.stdin.flush()
        return float(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait()


def run_tern(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    return dt


def compare(tern_out, hf_out, n):
    bad = []
    with open(tern_out, encoding="utf-8") as a, open(hf_out, encoding="utf-8") as b:
        ta, tb = a.read().splitlines(), b.read().splitlines()
    if len(ta) != n or len(tb) != n:
        raise SystemExit(f"line counts differ: texts {n}, tern {len(ta)}, HF {len(tb)}")
    tokens = 0
    for i, (x, y) in enumerate(zip(ta, tb)):
        ids = json.loads(x)["ids"]
        tokens += len(ids)
        if ids != json.loads(y):
            bad.append(i + 1)
    return bad, tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tern", default="build/cli/tern")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tok", choices=["bert", "roberta", "both"], default="both")
    ap.add_argument("--max-length", type=int, default=0, help="truncate in both (0: off)")
    ap.add_argument("--hftok", default="/tmp/hftok")
    ap.add_argument("--extra", default="", help="extra arguments for tern tokenize (space-separated)")
    ap.add_argument("--baseline", default="", help="a second tern binary timed in the same rounds")
    a = ap.parse_args()

    names = ["bert", "roberta"] if a.tok == "both" else [a.tok]
    tmp = tempfile.mkdtemp(prefix="tokbench-")
    texts = os.path.join(tmp, "texts.txt")
    with gzip.open(TEXTS, "rb") as f, open(texts, "wb") as g:
        raw = f.read()
        g.write(raw)
    n = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    print(f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average {load_avg()}")
    print(f"texts: {n} tweets ({TEXTS}, gunzipped to a temporary file)")
    print(f"tern: {a.tern} tokenize ... --threads {a.threads}{' --max-length %d' % a.max_length if a.max_length else ''}"
          f"{' ' + a.extra if a.extra else ''}; wall clock of the process")
    print(f"HF: tokenizers@0.23.2 (Node) encodeBatch, RAYON_NUM_THREADS={a.threads}, truncation "
          f"{a.max_length or 'off'}, padding off; time of the call")
    print(f"{a.rounds} rounds, interleaved (order alternating)\n")

    rows = []
    for name in names:
        t = TOKS[name]
        out = os.path.join(tmp, f"tern-{name}.jsonl")
        cmd = [a.tern, "tokenize"] + t["tern"] + ["--input", texts, "--output", out, "--threads", str(a.threads)]
        if a.max_length:
            cmd += ["--max-length", str(a.max_length)]
        if a.extra:
            cmd += a.extra.split()
        hf_ids = os.path.join(tmp, f"hf-{name}.jsonl")
        peer = Peer(a.hftok, t["hf"], texts, hf_ids, a.threads, a.max_length)
        run_tern(cmd)  # warm-up, and the output to check
        bad, tokens = compare(out, hf_ids, n)
        print(f"[{name}] {t['what']}, model type {model_type(t['hf'])}")
        print(f"[{name}] ids checked on all {n} tweets ({tokens} tokens): "
              f"{'equal' if not bad else '%d DIFFER, first lines %s' % (len(bad), bad[:10])}")
        if bad:
            peer.close()
            sys.exit(1)
        base_cmd = None
        if a.baseline:
            base_out = os.path.join(tmp, f"base-{name}.jsonl")
            base_cmd = [a.baseline] + cmd[1:]
            base_cmd[base_cmd.index("--output") + 1] = base_out
            run_tern(base_cmd)
            bad_b, _ = compare(base_out, hf_ids, n)
            print(f"[{name}] baseline {a.baseline}: ids {'equal' if not bad_b else '%d DIFFER' % len(bad_b)}")
        tern_s, hf_s, base_s = [], [], []
        for r in range(a.rounds):
            jobs = [lambda: tern_s.append(run_tern(cmd)), lambda: hf_s.append(peer.run())]
            if base_cmd:
                jobs.append(lambda: base_s.append(run_tern(base_cmd)))
            k = r % len(jobs)  # rotate which goes first
            for j in jobs[k:] + jobs[:k]:
                j()
        peer.close()
        ratios = [h / s for s, h in zip(tern_s, hf_s)]
        mt, mh = statistics.median(tern_s), statistics.median(hf_s)
        print(f"[{name}] tern s: {' '.join(f'{x:.3f}' for x in tern_s)}")
        print(f"[{name}] HF   s: {' '.join(f'{x:.3f}' for x in hf_s)}")
        rows.append((name, n / mt, n / mh, mh / mt, statistics.median(ratios), tokens))
        if base_s:
            mb = statistics.median(base_s)
            print(f"[{name}] base s: {' '.join(f'{x:.3f}' for x in base_s)}")
            rows.append((name + "-base", n / mb, n / mh, mh / mb,
                         statistics.median([h / b for b, h in zip(base_s, hf_s)]), tokens))
            print(f"[{name}] tern vs baseline: ratio of medians {mb / mt:.2f}x, median round ratio "
                  f"{statistics.median([b / t for b, t in zip(base_s, tern_s)]):.2f}x")

    print(f"\nload average at the end: {load_avg()}")
    print(f"{'tokenizer':<9} {'tern tweets/s':>14} {'HF tweets/s':>12} {'ratio of medians':>17} "
          f"{'median round ratio':>19}")
    for name, tt, ht, r, rr, _ in rows:
        print(f"{name:<9} {tt:>14,.0f} {ht:>12,.0f} {r:>16.2f}x {rr:>18.2f}x")


if __name__ == "__main__":
    main()
