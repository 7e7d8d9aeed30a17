// ONNX Runtime peer of bench/infer_bench.py: a sequence classifier (exported by infer_bench.py from the same
// tern model file) run over a pre-tokenised archive, as a user of onnxruntime-node would run it.
//
// Input: the ONNX file (inputs input_ids, attention_mask, token_type_ids; output logits) and the archive's
// token ids as JSON lines ({"ids":[...]} per text, as `tern tokenize` writes them; reading them is not timed).
// Modes:
//   input   batches of BATCH texts in input order, each padded to its longest text
//   sorted  the texts sorted by length (stable), then batches of BATCH, each padded to its longest
// The timed pass covers building the batches (sort, padding, masks), every session.run and collecting the
// logits in input order; before it, WARMUP batches of the archive run untimed. Prints
//   RESULT ort <mode> <texts> <seconds> <texts/s>
// and with OUT.bin writes the logits (float32, texts x labels, input order) for infer_bench.py to check.
//
//   NODE_PATH=/tmp/ort/node_modules node bench/ort_infer_peer.js MODEL.onnx IDS.jsonl input|sorted THREADS \
//       [BATCH=32] [WARMUP=8] [OUT.bin]
const fs = require('fs');
const ort = require('onnxruntime-node');

const [path, idsPath, mode, threadsArg, batchArg, warmArg, outPath] = process.argv.slice(2);
if (!path || !idsPath || !['input', 'sorted'].includes(mode)) {
  console.error('usage: ort_infer_peer.js MODEL.onnx IDS.jsonl input|sorted THREADS [BATCH] [WARMUP] [OUT.bin]');
  process.exit(2);
}
const threads = Math.max(1, Number(threadsArg || 2));
const B = Math.max(1, Number(batchArg || 32));
const warmup = Math.max(0, Number(warmArg === undefined ? 8 : warmArg));

function readIds(p) {
  const rows = [];
  const text = fs.readFileSync(p, 'utf8');
  let lineNo = 0;
  for (const line of text.split('\n')) {
    ++lineNo;
    if (line.length === 0) continue;
    const ids = JSON.parse(line).ids;
    if (!Array.isArray(ids) || ids.length === 0) throw new Error(`${p}:${lineNo}: no "ids" array`);
    rows.push(Int32Array.from(ids));
  }
  return rows;
}

// Batches as lists of row indices.
function plan(rows, how) {
  const order = rows.map((_, i) => i);
  if (how === 'sorted') order.sort((a, b) => rows[a].length - rows[b].length || a - b);
  const batches = [];
  for (let i = 0; i < order.length; i += B) batches.push(order.slice(i, i + B));
  return batches;
}

async function runBatch(session, rows, idx) {
  let T = 0;
  for (const r of idx) T = Math.max(T, rows[r].length);
  const n = idx.length;
  const ids = new BigInt64Array(n * T);
  const mask = new BigInt64Array(n * T);
  for (let b = 0; b < n; ++b) {
    const row = rows[idx[b]];
    for (let t = 0; t < row.length; ++t) {
      ids[b * T + t] = BigInt(row[t]);
      mask[b * T + t] = 1n;
    }
  }
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [n, T]),
    attention_mask: new ort.Tensor('int64', mask, [n, T]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n * T), [n, T]),
  });
  return out.logits;
}

(async () => {
  const rows = readIds(idsPath);
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  // Warm-up: the first batches of this mode's plan (same shapes as the timed pass starts with) plus the
  // longest batch, untimed.
  const warmPlan = plan(rows, mode);
  for (let w = 0; w < Math.min(warmup, warmPlan.length); ++w) await runBatch(session, rows, warmPlan[w]);
  if (warmup > 0) await runBatch(session, rows, warmPlan[warmPlan.length - 1]);

  const t0 = process.hrtime.bigint();
  const batches = plan(rows, mode);
  let logits = null;
  for (const idx of batches) {
    const y = await runBatch(session, rows, idx);
    const L = y.dims[1];
    if (!logits) logits = new Float32Array(rows.length * L);
    for (let b = 0; b < idx.length; ++b) logits.set(y.data.subarray(b * L, (b + 1) * L), idx[b] * L);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;

  const padded = batches.reduce((acc, idx) => acc + idx.length * Math.max(...idx.map((r) => rows[r].length)), 0);
  const real = rows.reduce((acc, r) => acc + r.length, 0);
  console.log(`peer ort ${require('onnxruntime-node/package.json').version} ${mode.padEnd(6)} ${rows.length} texts ` +
              `in ${s.toFixed(3)} s  ${(rows.length / s).toFixed(0)} texts/s  (batch ${B}, ${threads} threads, ` +
              `tokens ${real} real / ${padded} padded)`);
  console.log(`RESULT ort ${mode} ${rows.length} ${s.toFixed(4)} ${(rows.length / s).toFixed(1)}`);
  if (outPath) fs.writeFileSync(outPath, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
})().catch((e) => {
  console.error(`ort_infer_peer: ${e.message || e}`);
  process.exit(1);
});
