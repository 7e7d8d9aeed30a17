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
import math
import os
import struct
import sys
import time

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def retune():
    if "--no-tune" in sys.argv or os.environ.get("TERN_PEER_TUNED") == "1":
        return
    env = dict(os.environ, TERN_PEER_TUNED="1", OPENBLAS_CORETYPE="SkylakeX", OMP_WAIT_POLICY="PASSIVE")
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


retune()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Layer(nn.Module):
    def __init__(s, C, H, I, eps, p):
        super().__init__()
        s.H = H
        s.query, s.key, s.value = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        s.attn_out, s.attn_ln = nn.Linear(C, C), nn.LayerNorm(C, eps=eps)
        s.inter, s.out, s.out_ln = nn.Linear(C, I), nn.Linear(I, C), nn.LayerNorm(C, eps=eps)
        s.p = p

    def forward(s, x, mask_add):
        B, T, C = x.shape
        d = C // s.H

        def heads(t):
            return t.view(B, T, s.H, d).transpose(1, 2)

        q, k, v = heads(s.query(x)), heads(s.key(x)), heads(s.value(x))
        a = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask_add
        a = F.dropout(torch.softmax(a, dim=-1), s.p, s.training)
        ctx = torch.matmul(a, v).transpose(1, 2).reshape(B, T, C)
        x = s.attn_ln(F.dropout(s.attn_out(ctx), s.p, s.training) + x)
        h = F.gelu(s.inter(x))
        return s.out_ln(F.dropout(s.out(h), s.p, s.training) + x)


class Bert(nn.Module):
    """BertForSequenceClassification (transformers/models/bert/modeling_bert.py)."""

    def __init__(s, cfg, num_labels, p=0.1):
        super().__init__()
        C, eps = cfg["hidden_size"], cfg.get("layer_norm_eps", 1e-12)
        s.word = nn.Embedding(cfg["vocab_size"], C)
        s.pos = nn.Embedding(cfg["max_position_embeddings"], C)
        s.tok_type = nn.Embedding(cfg.get("type_vocab_size", 2), C)
        s.emb_ln = nn.LayerNorm(C, eps=eps)
        s.layers = nn.ModuleList(Layer(C, cfg["num_attention_heads"], cfg["intermediate_size"], eps, p)
                                 for _ in range(cfg["num_hidden_layers"]))
        s.pooler = nn.Linear(C, C)
        s.classifier = nn.Linear(C, num_labels)
        s.p = p
        for m in s.modules():  # HF _init_weights
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, cfg.get("initializer_range", 0.02))
                if isinstance(m, nn.Linear):
                    m.bias.data.zero_()

    def forward(s, ids, mask, tti):
        B, T = ids.shape
        x = s.word(ids) + s.tok_type(tti) + s.pos(torch.arange(T).unsqueeze(0))
        x = F.dropout(s.emb_ln(x), s.p, s.training)
        mask_add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in s.layers:
            x = l(x, mask_add)
        pooled = torch.tanh(s.pooler(x[:, 0]))
        return s.classifier(F.dropout(pooled, s.p, s.training))

    def hf_names(s, prefix="bert."):
        """HF parameter name -> tensor of this module."""
        m = {prefix + "embeddings.word_embeddings.weight": s.word.weight,
             prefix + "embeddings.position_embeddings.weight": s.pos.weight,
             prefix + "embeddings.token_type_embeddings.weight": s.tok_type.weight,
             prefix + "embeddings.LayerNorm.weight": s.emb_ln.weight,
             prefix + "embeddings.LayerNorm.bias": s.emb_ln.bias,
             prefix + "pooler.dense.weight": s.pooler.weight, prefix + "pooler.dense.bias": s.pooler.bias,
             "classifier.weight": s.classifier.weight, "classifier.bias": s.classifier.bias}
        for i, l in enumerate(s.layers):
            b = f"{prefix}encoder.layer.{i}."
            for hf, mod in [("attention.self.query", l.query), ("attention.self.key", l.key),
                            ("attention.self.value", l.value), ("attention.output.dense", l.attn_out),
                            ("attention.output.LayerNorm", l.attn_ln), ("intermediate.dense", l.inter),
                            ("output.dense", l.out), ("output.LayerNorm", l.out_ln)]:
                m[b + hf + ".weight"], m[b + hf + ".bias"] = mod.weight, mod.bias
        return m


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt[info["dtype"]]).reshape(info["shape"]).copy()).float()
    return out


def load_weights(model, tensors):
    names = model.hf_names()
    with torch.no_grad():
        for n, t in tensors.items():
            if n in names:
                names[n].copy_(t)


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
