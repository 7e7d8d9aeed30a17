"""A line-by-line transcription of Hugging Face's BertForSequenceClassification (transformers/models/bert/
modeling_bert.py: eager attention, GELU-erf, post-LN) in plain PyTorch, for the benchmark peers
(bench/train_peer.py, bench/forward_peer.py): transformers itself is not installable offline. Each peer
validates it against an HF fixture before timing it.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


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

    def encode(s, ids, mask, tti):
        """last_hidden_state (BertModel)."""
        B, T = ids.shape
        x = s.word(ids) + s.tok_type(tti) + s.pos(torch.arange(T).unsqueeze(0))
        x = F.dropout(s.emb_ln(x), s.p, s.training)
        mask_add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in s.layers:
            x = l(x, mask_add)
        return x

    def forward(s, ids, mask, tti):
        x = s.encode(ids, mask, tti)
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


class Encoder(nn.Module):
    """BertModel's last_hidden_state only (what the forward peers export and time)."""

    def __init__(s, bert):
        super().__init__()
        s.bert = bert

    def forward(s, input_ids, attention_mask, token_type_ids):
        return s.bert.encode(input_ids, attention_mask, token_type_ids)


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
