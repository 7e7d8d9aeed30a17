#!/usr/bin/python3
"""Peers of bench/forward_bench.cpp: the same inference forward (last_hidden_state, no grad) of a BERT
encoder in PyTorch and in ONNX Runtime, for a BERT-base-shaped model (random weights) and tweet-bert-mini
(../shared/models), batch x seq 1x16, 1x128, 32x32, 32x128, every row full length (no padding), as
forward_bench times tern.

- PyTorch: Debian python3-torch (1.13.1), the module of bench/hf_bert_peer.py, validated first against the
  HF fixture tests/data/tiny/bert_seqcls_single3 (last_hidden_state on valid positions), timed under
  torch.inference_mode(). By default the "tuned" environment of ../shared/peers/README.md is applied
  (re-executed with OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE and tcmalloc; --no-tune keeps it).
- ONNX Runtime: the validated module exported with torch.onnx.export (opset 14, dynamic batch and sequence
  axes), run by bench/ort_forward_peer.js through onnxruntime-node (intra-op threads = --threads, graph
  optimisation "all"), its output checked against PyTorch's before timing. Needs
  `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` in the folder given by --ort (default
  /tmp/ort); skipped with a message when absent.

Prints "RESULT <peer> <model> <B>x<T> <median ms>" lines for forward_bench --peer.

  /usr/bin/python3 bench/forward_peer.py [--threads N] [--runs N] [--only base|mini] [--ort DIR] [--no-tune]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SHAPES = ((1, 16), (1, 128), (32, 32), (32, 128))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import retune  # noqa: E402

retune()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hf_bert_peer import Bert, Encoder, load_weights, read_safetensors  # noqa: E402

BASE = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2}


def validate():
    import h5py
    d = "tests/data/tiny/bert_seqcls_single3"
    if not os.path.exists(d + "/reference.h5"):
        print("validate: fixture not found (run from the repository root): skipped")
        return True
    cfg = json.load(open(d + "/config.json"))
    m = Bert(cfg, cfg.get("num_labels", len(cfg["id2label"])), p=0.0).eval()
    load_weights(m, read_safetensors(d + "/model.safetensors"))
    with h5py.File(d + "/reference.h5") as f:
        inp = {k: torch.from_numpy(f["inputs/" + k][()]).long() for k in ("input_ids", "attention_mask", "token_type_ids")}
        ref = f["outputs/last_hidden_state"][()]
    with torch.inference_mode():
        got = Encoder(m)(inp["input_ids"], inp["attention_mask"], inp["token_type_ids"]).numpy()
    valid = inp["attention_mask"].numpy().astype(bool)
    worst = float(np.abs(got - ref)[valid].max())
    ok = worst < 1e-4
    print(f"validate: PyTorch module vs HF fixture {d}: max |diff| last_hidden_state {worst:.1e} "
          f"{'(ok)' if ok else '(MISMATCH)'}", flush=True)
    return ok


def batch(B, T, vocab, seed=11):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, torch.ones(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)


def median_ms(fn, runs):
    for _ in range(2):
        fn()
    ts, start = [], time.perf_counter()
    while len(ts) < runs or (time.perf_counter() - start < 1.5 and len(ts) < 200):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2], len(ts)


def bench_torch(name, enc, max_pos, runs):
    for B, T in SHAPES:
        if T > max_pos:
            continue
        ids, mask, tti = batch(B, T, enc.bert.word.num_embeddings)
        with torch.inference_mode():
            med, n = median_ms(lambda: enc(ids, mask, tti), runs)
        print(f"peer pytorch {name:5s} {B:3d}x{T:<4d} median {med:9.2f} ms  {B * 1000 / med:8.1f} sentences/s  ({n} runs)")
        print(f"RESULT pytorch {name} {B}x{T} {med:.3f}", flush=True)


def bench_ort(name, enc, max_pos, runs, threads, ort_dir, tmp):
    node_modules = os.path.join(ort_dir, "node_modules")
    if not os.path.isdir(os.path.join(node_modules, "onnxruntime-node")):
        print(f"peer ort: skipped: no onnxruntime-node under {node_modules} "
              "(ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node there)")
        return
    path = os.path.join(tmp, name + ".onnx")
    ids, mask, tti = batch(2, 16, enc.bert.word.num_embeddings, seed=7)
    with torch.inference_mode():
        ref = enc(ids, mask, tti).numpy()
    torch.onnx.export(enc, (ids, mask, tti), path, opset_version=14,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={k: {0: "batch", 1: "sequence"} for k in
                                    ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
    ids.numpy().astype(np.int64).tofile(path + ".check_ids")
    ref.astype(np.float32).tofile(path + ".check_ref")
    shapes = ",".join(f"{B}x{T}" for B, T in SHAPES if T <= max_pos)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_forward_peer.js")
    cmd = ["node", script, path, name, shapes, str(runs), str(threads), "2x16",
           str(enc.bert.word.num_embeddings)]
    r = subprocess.run(cmd, env=dict(os.environ, NODE_PATH=node_modules), stdout=subprocess.PIPE, text=True)
    sys.stdout.write(r.stdout)
    sys.stdout.flush()
    if r.returncode != 0:
        print(f"peer ort: exited with status {r.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--ort", default=os.environ.get("TERN_ORT_DIR", "/tmp/ort"))
    ap.add_argument("--no-tune", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    print(f"PyTorch {torch.__version__}, {threads} threads, tuned env: {os.environ.get('TERN_PEER_TUNED') == '1'}",
          flush=True)
    torch.manual_seed(0)
    if not validate():
        sys.exit(1)
    models = []
    if a.only in ("", "base"):
        models.append(("base", Encoder(Bert(BASE, 3, p=0.0).eval()), BASE["max_position_embeddings"]))
    if a.only in ("", "mini"):
        d = "../shared/models/tweet-bert-mini"
        if os.path.exists(d + "/config.json"):
            cfg = json.load(open(d + "/config.json"))
            m = Bert(cfg, 3, p=0.0).eval()
            load_weights(m, read_safetensors(d + "/model.safetensors"))
            models.append(("mini", Encoder(m), cfg["max_position_embeddings"]))
        else:
            print(f"mini skipped: {d} not found")
    with tempfile.TemporaryDirectory(prefix="tern_forward_peer_") as tmp:
        for name, enc, max_pos in models:
            bench_torch(name, enc, max_pos, a.runs)
            bench_ort(name, enc, max_pos, a.runs, threads, a.ort, tmp)


if __name__ == "__main__":
    main()
