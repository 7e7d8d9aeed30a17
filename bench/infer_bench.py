#!/usr/bin/python3
"""Archive inference benchmark: `tern infer` end to end against ONNX Runtime on the TweetEval sentiment test set
(12,284 real tweets), in the same run, interleaved.

- tern: `tern infer TEXTS.txt OUT.jsonl --model M.h5 --threads N` as a user runs it (process start, model load,
  reading the text file, tokenising, encoder, writing JSONL; default window and batch). Timed from outside
  (wall clock of the process); tern's own summary line (tweets/s) is reported next to it. Macro-recall of its
  labels against test_labels.txt is printed beside the speed.
- ONNX Runtime (onnxruntime-node, bench/ort_infer_peer.js): the same model file read with h5py (float16 -> float32)
  into the BertForSequenceClassification module of bench/hf_bert_peer.py, exported with torch.onnx.export
  (opset 14, dynamic batch and sequence axes, output logits), intra-op threads N, inter-op 1, graph optimisation
  "all"; fed pre-tokenised ids (`tern tokenize --model M.h5` with the model's max length and tweet
  normalisation; not timed) in batches of 32, (a) in input order, each padded to its longest text, (b) sorted by
  length. Session creation and reading the ids are not timed; building the padded batches is.
- Validation before timing: ORT's logits against `tern infer --logits` on the first 200 texts (max |diff| must be
  < 1e-4), and after the first round the labels of ORT and tern on the whole set are compared.
- Then `--runs` rounds of (tern, ORT input order, ORT sorted); medians and the ratios tern/ORT (tweets/s) per ORT
  mode. The load average is printed at the start and at the end.

- --precisions fp32,bf16,int8: tern runs once per precision per round (`tern infer --precision P`); each
  precision's macro-recall and label agreement with tern fp32 are printed, and its speed-up over tern fp32.
- --ort-int8: ONNX Runtime's own dynamic int8 (`../shared/peers/ort-int8/quantize_dynamic.py` on the same ONNX
  export; python3-onnx) joins each round, length-sorted batches.
- precision `int8s` in --precisions: tern on its stored int8 file (`tern convert --quantize int8`, made once before
  the rounds and timed like ORT's quantize_dynamic; `tern infer` without --precision), the counterpart of ORT's
  int8 file; `int8` quantises the float file at load (included in the process wall clock).

  /usr/bin/python3 bench/infer_bench.py [--model M.h5] [--runs 5] [--threads 2] [--limit N] [--base]
                                        [--precisions fp32,bf16,int8,int8s] [--ort-int8]

--base replaces the model by a BERT-base-shaped classifier (768/12 layers/12 heads/3072, random weights, seed 0,
bert-base-uncased vocabulary) made here and converted with `tern convert` (its labels are meaningless: speed only).
Needs Debian python3-torch and python3-h5py, node, and onnxruntime-node under --ort (default /tmp/ort:
`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`). Run from the repository root.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

DATA = "../shared/data/tweeteval/sentiment"
BASE = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
        "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
        "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "initializer_range": 0.02, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "problem_type": "single_label_classification",
        "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
        "label2id": {"negative": 0, "neutral": 1, "positive": 2}}


def load_avg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def read_model(path):
    """Config, metadata and float32 tensors of a tern model file (docs/model-format.md)."""
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "tern-model", f"{path}: not a tern model"
        cfg = json.loads(f["config_json"].asstr()[()])
        meta = {k: v.asstr()[()] for k, v in f["metadata"].items()} if "metadata" in f else {}
        tensors = {}
        for name, ds in f["tensors"].items():
            a = ds.astype("float32")[()] if ds.attrs.get("dtype") == "bfloat16" else ds[()]
            if a.dtype.kind == "f":
                a = a.astype(np.float32)
            tensors[name] = a
    return cfg, meta, tensors


def tokenisation(cfg, meta):
    """The model's tweet normalisation and max length, as infer/predictor.cpp (InferModel::load) decides."""
    recipe = {}
    if meta.get("training"):
        try:
            recipe = json.loads(meta["training"]).get("recipe", {}) or {}
        except ValueError:
            recipe = {}
    if meta.get("normalize_tweets"):
        norm = meta["normalize_tweets"] in ("true", "1")
    else:
        norm = bool(recipe.get("normalize_tweets", False))
    length = cfg["max_position_embeddings"]
    if meta.get("max_length"):
        length = int(meta["max_length"])
    elif "max_length" in recipe:
        length = int(recipe["max_length"])
    return norm, length


def export_onnx(cfg, tensors, path):
    import torch
    from hf_bert_peer import Bert
    labels = cfg.get("id2label", {})
    num_labels = cfg.get("num_labels", len(labels)) or len(labels)
    m = Bert(cfg, num_labels, p=0.0).eval()
    names = m.hf_names()
    missing = [n for n in names if n not in tensors]
    if missing:
        sys.exit(f"export: the model file lacks {len(missing)} tensors, e.g. {missing[:3]}")
    with torch.no_grad():
        for n, t in names.items():
            src = torch.from_numpy(tensors[n])
            if tuple(src.shape) != tuple(t.shape):
                sys.exit(f"export: {n}: shape {tuple(src.shape)}, module expects {tuple(t.shape)}")
            t.copy_(src)
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2023, 102, 0]])
    mask = (ids != 0).long()
    torch.onnx.export(m, (ids, mask, torch.zeros_like(ids)), path, opset_version=14,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "attention_mask": {0: "batch", 1: "sequence"},
                                    "token_type_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}})
    return num_labels


def make_base_model(tern, tmp):
    """A BERT-base-shaped classifier with random weights as a Hugging Face folder, converted by tern."""
    import numpy as np
    import torch
    from hf_bert_peer import Bert
    torch.manual_seed(0)
    m = Bert(BASE, 3, p=0.0)
    d = os.path.join(tmp, "base_hf")
    os.makedirs(d, exist_ok=True)
    json.dump(BASE, open(os.path.join(d, "config.json"), "w"), indent=1)
    header, blobs, off = {}, [], 0
    for name, t in m.hf_names().items():
        a = t.detach().numpy().astype(np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)
    out = os.path.join(tmp, "base.h5")
    subprocess.run([tern, "convert", "--from", d, "--tokenizer", "../shared/tokenizers/bert-base-uncased",
                    "--out", out], check=True, stdout=subprocess.DEVNULL)
    return out


def macro_recall(pred, gold, k):
    rec = []
    for c in range(k):
        n = sum(1 for g in gold if g == c)
        if n:
            rec.append(sum(1 for p, g in zip(pred, gold) if g == c and p == c) / n)
    return sum(rec) / len(rec)


def tern_labels(out_path, label_index):
    labels = []
    with open(out_path) as f:
        for line in f:
            labels.append(label_index[json.loads(line)["label"]])
    return labels


def run_tern(tern, model, texts, out, threads, extra=()):
    cmd = [tern, "infer", texts, out, "--model", model, "--threads", str(threads), *extra]
    if os.path.exists("/usr/bin/time"):  # peak RSS; its own start-up is a fork + exec
        cmd = ["/usr/bin/time", "-f", "TERN_MAXRSS_KB %M"] + cmd
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    s = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"tern infer failed ({r.returncode}): {r.stderr.strip()}")
    m = re.search(r"tern infer: (\d+) rows.*?([\d.]+) s, (\d+) tweets/s", r.stderr)
    own = (int(m.group(1)), float(m.group(2)), float(m.group(3))) if m else None
    rss = re.search(r"TERN_MAXRSS_KB (\d+)", r.stderr)
    return s, own, int(rss.group(1)) / 1024 if rss else float("nan")


def run_ort(ort_dir, onnx, ids, mode, threads, out=None, warmup=8):
    cmd = ["node", os.path.join(HERE, "ort_infer_peer.js"), onnx, ids, mode, str(threads), "32", str(warmup)]
    if out:
        cmd.append(out)
    r = subprocess.run(cmd, env=dict(os.environ, NODE_PATH=os.path.join(ort_dir, "node_modules")),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"ort peer failed ({r.returncode}): {r.stderr.strip()}")
    line = next(l for l in r.stdout.splitlines() if l.startswith("RESULT"))
    info = next(l for l in r.stdout.splitlines() if l.startswith("peer ort"))
    _, _, _, n, s, _ = line.split()
    return float(s), int(n), info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="weights/models/sentiment.h5")
    ap.add_argument("--tern", default="./build/cli/tern")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N texts only (0: all)")
    ap.add_argument("--base", action="store_true", help="a BERT-base-shaped random-weight model instead")
    ap.add_argument("--ort", default=os.environ.get("TERN_ORT_DIR", "/tmp/ort"))
    ap.add_argument("--keep", default="", help="keep the work files in this folder")
    ap.add_argument("--precisions", default="fp32", help="tern infer --precision values, comma-separated")
    ap.add_argument("--ort-int8", action="store_true", help="also ONNX Runtime's dynamic int8 (sorted batches)")
    a = ap.parse_args()
    precs = [p for p in a.precisions.split(",") if p]
    assert precs and precs[0] == "fp32", "--precisions must start with fp32 (the reference of the ratios)"
    import numpy as np

    print(f"infer_bench {datetime.datetime.now().isoformat(timespec='seconds')}  {platform.node()}  "
          f"{os.cpu_count()} CPUs  load average at start: {load_avg()}", flush=True)
    if not os.path.isdir(os.path.join(a.ort, "node_modules", "onnxruntime-node")):
        sys.exit(f"no onnxruntime-node under {a.ort}/node_modules "
                 "(ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node there)")
    tmp_ctx = None
    if a.keep:
        tmp = a.keep
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp_ctx = tempfile.TemporaryDirectory(prefix="tern_infer_bench_")
        tmp = tmp_ctx.name

    with gzip.open(os.path.join(DATA, "test_text.txt.gz"), "rt", encoding="utf-8", newline="\n") as f:
        texts = f.read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    gold = [int(x) for x in open(os.path.join(DATA, "test_labels.txt")).read().split()]
    names = {}
    for line in open(os.path.join(DATA, "mapping.txt")):
        k, v = line.split()
        names[v] = int(k)
    assert len(texts) == len(gold), (len(texts), len(gold))
    if a.limit:
        texts, gold = texts[:a.limit], gold[:a.limit]
    texts_path = os.path.join(tmp, "texts.txt")
    with open(texts_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(texts) + "\n")
    head_path = os.path.join(tmp, "texts200.txt")
    with open(head_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(texts[:200]) + "\n")

    model = make_base_model(a.tern, tmp) if a.base else a.model
    cfg, meta, tensors = read_model(model)
    norm, length = tokenisation(cfg, meta)
    n_params = sum(int(t.size) for t in tensors.values())
    print(f"model {model}: {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, {n_params / 1e6:.1f}M "
          f"parameters, labels {list(cfg.get('id2label', {}).values())}, max length {length}, "
          f"normalize_tweets {norm}; {len(texts)} texts", flush=True)
    onnx = os.path.join(tmp, "model.onnx")
    t0 = time.perf_counter()
    num_labels = export_onnx(cfg, tensors, onnx)
    print(f"exported {onnx} ({os.path.getsize(onnx) / 1e6:.1f} MB, opset 14) in {time.perf_counter() - t0:.1f} s",
          flush=True)
    label_index = {v: int(k) for k, v in cfg.get("id2label", {}).items()}
    # Gold classes by name when the model's labels are TweetEval's, else by index.
    gold_by_model = gold
    if set(names) <= set(label_index):
        gold_by_model = [label_index[{v: k for k, v in names.items()}[g]] for g in gold]

    # Pre-tokenised ids for ONNX Runtime (not timed).
    tok = [a.tern, "tokenize", "--model", model, "--max-length", str(length), "--threads", str(a.threads)]
    if norm:
        tok.append("--normalize-tweets")
    ids_path, ids200 = os.path.join(tmp, "ids.jsonl"), os.path.join(tmp, "ids200.jsonl")
    subprocess.run(tok + ["--input", texts_path, "--output", ids_path], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(tok + ["--input", head_path, "--output", ids200], check=True, stderr=subprocess.DEVNULL)
    lens = [len(json.loads(l)["ids"]) for l in open(ids_path)]
    print(f"tokens per text: mean {statistics.mean(lens):.1f}, max {max(lens)}", flush=True)

    # Validation: ORT logits vs tern infer --logits on the first 200 texts.
    out200 = os.path.join(tmp, "out200.jsonl")
    run_tern(a.tern, model, head_path, out200, a.threads, ("--logits",))
    ref = np.array([json.loads(l)["logits"] for l in open(out200)], dtype=np.float32)
    got200 = os.path.join(tmp, "ort200.bin")
    run_ort(a.ort, onnx, ids200, "input", a.threads, got200, warmup=0)
    got = np.fromfile(got200, dtype=np.float32).reshape(-1, num_labels)
    worst = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
    ok = worst < 1e-4
    print(f"validate: ONNX Runtime vs tern infer --logits, first {len(ref)} texts: max |diff| {worst:.1e} "
          f"{'(ok)' if ok else '(MISMATCH)'}", flush=True)
    if not ok:
        sys.exit(1)

    onnx8 = None
    if a.ort_int8:
        onnx8 = os.path.join(tmp, "model_int8.onnx")
        q = os.path.join(os.path.dirname(HERE), "..", "shared", "peers", "ort-int8", "quantize_dynamic.py")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, q, onnx, onnx8], check=True, stdout=subprocess.DEVNULL)
        print(f"ORT int8: quantize_dynamic -> {onnx8} ({os.path.getsize(onnx8) / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    model8 = None
    if "int8s" in precs:
        model8 = os.path.join(tmp, "model_int8.h5")
        t0 = time.perf_counter()
        subprocess.run([a.tern, "convert", "--quantize", "int8", model, model8], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"tern int8 file: tern convert --quantize int8 -> {model8} ({os.path.getsize(model8) / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)

    def tern_args(p):  # (model, extra arguments) of tern infer for precision p
        return (model8, ()) if p == "int8s" else (model, ("--precision", p))

    for p in precs:
        m_p, x_p = tern_args(p)
        r = subprocess.run([a.tern, "infer", head_path, os.devnull, "--model", m_p, "--threads", str(a.threads),
                            *x_p, "-v", "-q"], stderr=subprocess.PIPE, text=True)
        print(f"kernels {p}: " + (r.stderr.strip().splitlines() or ["?"])[0], flush=True)

    out_path = os.path.join(tmp, "out.jsonl")
    rows = {"tern": [], "tern_own": [], "input": [], "sorted": []}
    for p in precs[1:]:
        rows["tern_" + p] = []
    if onnx8:
        rows["ort_int8_sorted"] = []
    peak_rss = {p: [] for p in precs}
    preds, mrs = {}, {}
    for r in range(a.runs):
        line = f"round {r + 1}:"
        for p in precs:
            m_p, x_p = tern_args(p)
            s, own, rss = run_tern(a.tern, m_p, texts_path, out_path, a.threads, x_p)
            rows["tern" if p == "fp32" else "tern_" + p].append(len(texts) / s)
            if p == "fp32":
                rows["tern_own"].append(own[2] if own else float("nan"))
            peak_rss[p].append(rss)
            line += f" tern {p} {s:6.2f} s {len(texts) / s:7.0f}/s ({rss:.0f} MiB) |"
            if r == 0:
                preds[p] = tern_labels(out_path, label_index)
                assert len(preds[p]) == len(texts), (len(preds[p]), len(texts))
                mrs[p] = macro_recall(preds[p], gold_by_model, num_labels)
        pred, tern_mr = preds["fp32"], mrs["fp32"]
        if onnx8:
            lg = os.path.join(tmp, "ort_int8.bin") if r == 0 else None
            s_o, n, info = run_ort(a.ort, onnx8, ids_path, "sorted", a.threads, lg)
            rows["ort_int8_sorted"].append(n / s_o)
            line += f" ORT int8 sorted {s_o:6.2f} s {n / s_o:7.0f}/s |"
            if r == 0:
                o8 = list(np.fromfile(lg, dtype=np.float32).reshape(-1, num_labels).argmax(1))
                agree = sum(1 for x, y in zip(o8, pred) if x == y) / len(pred)
                print(f"  ORT int8: macro-recall {macro_recall(o8, gold_by_model, num_labels):.4f}, same label as "
                      f"tern fp32 on {100 * agree:.2f}% of texts", flush=True)
        for mode in ("input", "sorted"):
            lg = os.path.join(tmp, f"ort_{mode}.bin") if r == 0 else None
            s_o, n, info = run_ort(a.ort, onnx, ids_path, mode, a.threads, lg)
            assert n == len(texts)
            rows[mode].append(n / s_o)
            line += f" | ORT {mode} {s_o:6.2f} s {n / s_o:7.0f}/s"
            if r == 0:
                ort_pred = list(np.fromfile(lg, dtype=np.float32).reshape(-1, num_labels).argmax(1))
                agree = sum(1 for x, y in zip(ort_pred, pred) if x == y) / len(pred)
                print(f"  {info}\n  ORT {mode}: macro-recall {macro_recall(ort_pred, gold_by_model, num_labels):.4f}, "
                      f"same label as tern on {100 * agree:.2f}% of texts", flush=True)
        print(line + f"  (load {load_avg()})", flush=True)

    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\ntern infer: macro-recall {tern_mr:.4f} on {len(texts)} texts (test_labels.txt)")
    for p in precs[1:]:
        agree = sum(1 for x, y in zip(preds[p], pred) if x == y) / len(pred)
        print(f"tern infer --precision {p}: macro-recall {mrs[p]:.4f} ({100 * (mrs[p] - tern_mr):+.2f} points), "
              f"same label as fp32 on {100 * agree:.2f}% of texts")
    for p in precs:
        print(f"tern infer {p} peak RSS (/usr/bin/time): max {max(peak_rss[p]):.0f} MiB over the runs")
    print(f"medians of {a.runs} interleaved runs, {a.threads} threads, tweets/s:")
    print(f"  tern infer end to end (process wall clock)  {med['tern']:8.0f}   (its own summary: {med['tern_own']:.0f})")
    print(f"  ONNX Runtime, batches of 32 in input order   {med['input']:8.0f}   tern/ORT {med['tern'] / med['input']:.2f}x")
    print(f"  ONNX Runtime, length-sorted batches of 32    {med['sorted']:8.0f}   tern/ORT {med['tern'] / med['sorted']:.2f}x")
    for p in precs[1:]:
        m = med["tern_" + p]
        print(f"  tern infer --precision {p:4s}                 {m:8.0f}   x tern fp32 {m / med['tern']:.2f}   "
              f"tern/ORT sorted {m / med['sorted']:.2f}x")
    if onnx8:
        m8 = med["ort_int8_sorted"]
        print(f"  ONNX Runtime int8, length-sorted batches     {m8:8.0f}"
              + (f"   tern int8/ORT int8 {med['tern_int8'] / m8:.2f}x" if "tern_int8" in med else "")
              + (f"   tern int8 file/ORT int8 {med['tern_int8s'] / m8:.2f}x" if "tern_int8s" in med else ""))
    for k, v in rows.items():
        print(f"  runs {k:8s} " + " ".join(f"{x:.0f}" for x in v))
    print(f"load average at end: {load_avg()}")
    if tmp_ctx:
        tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
