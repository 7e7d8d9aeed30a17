// ONNX Runtime peer of bench/forward_bench.cpp, started by bench/forward_peer.py (which exports the model).
// Checks ORT's last_hidden_state against PyTorch's on a fixed batch, then times each shape: 2 warm-ups, at
// least `runs` runs (more within 1.5 s, up to 200), median. Inputs as forward_bench: ids in [1000, vocab),
// [CLS] first, [SEP] last, no padding. Prints "RESULT ort <model> <B>x<T> <median ms>".
//   NODE_PATH=/tmp/ort/node_modules node bench/ort_forward_peer.js model.onnx NAME 1x16,32x32 RUNS THREADS 2x16 VOCAB
const fs = require('fs');
const ort = require('onnxruntime-node');

const [path, name, shapesArg, runsArg, threadsArg, checkArg, vocabArg] = process.argv.slice(2);
const runs = Math.max(1, Number(runsArg));
const threads = Math.max(1, Number(threadsArg));

function feeds(ids, B, T) {
  const ones = new BigInt64Array(B * T).fill(1n);
  return {
    input_ids: new ort.Tensor('int64', ids, [B, T]),
    attention_mask: new ort.Tensor('int64', ones, [B, T]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]),
  };
}

// A small deterministic generator (the batch content does not change the work).
function randomIds(B, T, vocab, seed) {
  let s = seed >>> 0;
  const ids = new BigInt64Array(B * T);
  for (let i = 0; i < B * T; ++i) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = BigInt(1000 + (s % (vocab - 1000)));
  }
  for (let r = 0; r < B; ++r) {
    ids[r * T] = 101n;
    ids[r * T + T - 1] = 102n;
  }
  return ids;
}

(async () => {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  // Validate against PyTorch.
  const [cb, ct] = checkArg.split('x').map(Number);
  const bytes = (p) => {
    const b = fs.readFileSync(p);  // may be a view into a larger pooled buffer
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  const ids = new BigInt64Array(bytes(path + '.check_ids'));
  const ref = new Float32Array(bytes(path + '.check_ref'));
  const out = (await session.run(feeds(ids, cb, ct))).last_hidden_state.data;
  let worst = 0;
  for (let i = 0; i < ref.length; ++i) worst = Math.max(worst, Math.abs(out[i] - ref[i]));
  const ok = out.length === ref.length && worst < 1e-4;
  console.log(`peer ort   ${name} validate: ONNX Runtime ${require('onnxruntime-node/package.json').version} vs ` +
              `PyTorch max |diff| ${worst.toExponential(1)} ${ok ? '(ok)' : '(MISMATCH)'}`);
  if (!ok) process.exit(1);
  const vocab = Number(vocabArg);
  for (const shape of shapesArg.split(',')) {
    const [B, T] = shape.split('x').map(Number);
    const f = feeds(randomIds(B, T, vocab, 11), B, T);
    for (let w = 0; w < 2; ++w) await session.run(f);
    const ts = [];
    const start = process.hrtime.bigint();
    while (ts.length < runs || (Number(process.hrtime.bigint() - start) / 1e6 < 1500 && ts.length < 200)) {
      const t0 = process.hrtime.bigint();
      await session.run(f);
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ts.sort((a, b) => a - b);
    const med = ts[Math.floor(ts.length / 2)];
    console.log(`peer ort     ${name.padEnd(5)} ${String(B).padStart(3)}x${String(T).padEnd(4)} median ` +
                `${med.toFixed(2).padStart(9)} ms  ${(B * 1000 / med).toFixed(1).padStart(8)} sentences/s  (${ts.length} runs)`);
    console.log(`RESULT ort ${name} ${B}x${T} ${med.toFixed(3)}`);
  }
})().catch((e) => {
  console.error(`ort_forward_peer: ${e.message || e}`);
  process.exit(1);
});
