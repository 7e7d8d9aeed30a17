#!/usr/bin/python3
"""PyTorch peer of bench/train_bench.cpp: the same training step (forward in train mode with dropout 0.1,
CrossEntropyLoss, backward, clip_grad_norm_(1.0), AdamW with HF's no-decay grouping) of a
BertForSequenceClassification, batch 32 at seq 32 and 64, for a BERT-base-shaped model (random weights) and
tweet-bert-mini (../shared/models) with a new 3-label head.

transformers is not installable offline, so the model is a line-by-line transcription of HF's
modeling_bert.py (eager attention, GELU-erf, post-LN); before timing it is validated against the HF
fixture tests/data/tiny/bert_seqcls_single3 (loss and every gradient of reference.h5).

Debian python3-torch (1.13.1) + python3-h5py. By default the "tuned" environment of ../shared/peers/README.md
is applied by re-executing with OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE and tcmalloc preloaded
(--no-tune keeps the environment as is). Prints "RESULT <model> <B>x<T> <median ms>" lines for train_bench.

  /usr/bin/python3 bench/train_peer.py [--threads N] [--runs N] [--only base|mini] [--no-tune]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import retune  # noqa: E402

retune()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hf_bert_peer import Bert, load_weights, read_safetensors  # noqa: E402


def validate():
    import h5py
    d = "tests/data/tiny/bert_seqcls_single3"
    if not os.path.exists(d + "/reference.h5"):
        print("validate: fixture not found (run from the repository root): skipped")
        return True
    cfg = json.load(open(d + "/config.json"))
    m = Bert(cfg, cfg.get("num_labels", len(cfg["id2label"])), p=0.0)
    load_weights(m, read_safetensors(d + "/model.safetensors"))
    with h5py.File(d + "/reference.h5") as f:
        inp = {k: torch.from_numpy(f["inputs/" + k][()]).long() for k in ("input_ids", "attention_mask", "token_type_ids")}
        labels = torch.from_numpy(f["labels"][()]).long()
        ref_loss = float(f["train/loss"][()])
        ref_grads = {k: f["grads/" + k][()] for k in f["grads"]}
    m.train()
    loss = F.cross_entropy(m(inp["input_ids"], inp["attention_mask"], inp["token_type_ids"]), labels)
    loss.backward()
    worst = max(float(np.abs(t.grad.numpy() - ref_grads[n]).max()) for n, t in m.hf_names().items())
    ok = abs(loss.item() - ref_loss) < 1e-5 and worst < 1e-5
    print(f"validate: HF fixture {d} loss diff {abs(loss.item() - ref_loss):.1e}, max |grad diff| {worst:.1e} "
          f"{'(ok)' if ok else '(MISMATCH)'}")
    return ok


def bench(name, model, runs):
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "_ln" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "_ln" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-5)
    model.train()
    g = torch.Generator().manual_seed(11)
    for B, T in ((32, 32), (32, 64)):
        ids = torch.randint(1000, model.word.num_embeddings, (B, T), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        mask, tti = torch.ones(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)
        y = torch.arange(B) % 3

        def step():
            opt.zero_grad()
            F.cross_entropy(model(ids, mask, tti), y).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        for _ in range(2):
            step()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            step()
            ts.append((time.perf_counter() - t0) * 1000)
        ts.sort()
        med = ts[len(ts) // 2]
        print(f"peer {name:5s} {B:3d}x{T:<3d} train step median {med:9.1f} ms  {B * 1000 / med:7.1f} tweets/s  ({runs} runs)")
        print(f"RESULT {name} {B}x{T} {med:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-tune", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, tuned env: "
          f"{os.environ.get('TERN_PEER_TUNED') == '1'}", flush=True)
    torch.manual_seed(0)
    if not validate():
        sys.exit(1)
    if a.only in ("", "base"):
        cfg = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
               "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2}
        bench("base", Bert(cfg, 3), a.runs)
    if a.only in ("", "mini"):
        d = "../shared/models/tweet-bert-mini"
        if os.path.exists(d + "/config.json"):
            cfg = json.load(open(d + "/config.json"))
            m = Bert(cfg, 3)
            load_weights(m, read_safetensors(d + "/model.safetensors"))
            bench("mini", m, a.runs)
        else:
            print(f"mini skipped: {d} not found")


if __name__ == "__main__":
    main()
