#!/usr/bin/python3
"""ONNX Runtime (MLAS) peer of bench/lowp_bench: one Linear layer y = x W^T + b per weight shape, exported as
fp32 ONNX (MatMul + Add, dynamic M) and quantised with ONNX Runtime's own quantize_dynamic (weights QInt8 per
channel, activations quantised per tensor at run time: the graph ORT users get), then timed by
bench/lowp_ort_peer.js in onnxruntime-node with one intra-op thread, as lowp_bench --threads 1 --clock cpu.

  apt-get install python3-onnx python3-numpy   # the quantisation tool: ../shared/peers/ort-int8
  /usr/bin/python3 bench/lowp_ort_peer.py OUTDIR [--m 16,64,256,800,2048] [--runs 9]
  (needs NODE_PATH with onnxruntime-node, ../shared/peers/README.md)
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = [("mini qkv", 768, 256), ("mini out", 256, 256), ("mini ffn1", 1024, 256), ("mini ffn2", 256, 1024),
          ("base qkv", 2304, 768), ("base out", 768, 768), ("base ffn1", 3072, 768), ("base ffn2", 768, 3072)]
HERE = os.path.dirname(os.path.abspath(__file__))
QUANTIZE = os.path.join(HERE, "..", "..", "shared", "peers", "ort-int8", "quantize_dynamic.py")


def linear_model(path, n, k, seed):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)  # MatMul's B = W^T (K, N)
    b = (rng.standard_normal(n) * 0.1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "wt"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])],
        [numpy_helper.from_array(w, "wt"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--m", default="16,64,256,800,2048")
    ap.add_argument("--runs", default="9")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    models = []
    for i, (name, n, k) in enumerate(SHAPES):
        f32 = os.path.join(a.outdir, f"linear_{n}x{k}.onnx")
        i8 = os.path.join(a.outdir, f"linear_{n}x{k}_int8.onnx")
        if not os.path.exists(i8):
            linear_model(f32, n, k, i)
            subprocess.run([sys.executable, QUANTIZE, f32, i8], check=True, stdout=subprocess.DEVNULL)
        models += [f"{name}|{k}|fp32|{f32}", f"{name}|{k}|int8|{i8}"]
    subprocess.run(["node", os.path.join(HERE, "lowp_ort_peer.js"), a.m, a.runs] + models, check=True)


if __name__ == "__main__":
    main()
