// Times the one-Linear ONNX models of bench/lowp_ort_peer.py in onnxruntime-node, one intra-op thread:
// per model and M, 2 warm-ups then `runs` runs, median of the process CPU time per run (process.cpuUsage:
// with one intra-op thread ORT computes in this thread, so time spent waiting for a core on a loaded machine
// is left out, as lowp_bench --clock cpu). Prints "weight M prec ms GOP/s".
//   NODE_PATH=/tmp/ort/node_modules node bench/lowp_ort_peer.js 16,64 9 'mini qkv|256|int8|file.onnx' ...
const ort = require('onnxruntime-node');

const [mArg, runsArg, ...models] = process.argv.slice(2);
const Ms = mArg.split(',').map(Number);
const runs = Math.max(1, Number(runsArg));

(async () => {
  console.log(`onnxruntime-node ${require('onnxruntime-node/package.json').version}, 1 intra-op thread, ` +
              `median of ${runs} runs (process CPU time)`);
  for (const spec of models) {
    const [name, kStr, prec, path] = spec.split('|');
    const K = Number(kStr);
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    for (const M of Ms) {
      const x = new Float32Array(M * K);
      for (let i = 0; i < x.length; ++i) x[i] = Math.sin(i * 0.37) * 1.5;
      const feeds = {x: new ort.Tensor('float32', x, [M, K])};
      let N = 0;
      for (let w = 0; w < 2; ++w) N = (await session.run(feeds)).y.dims[1];
      const ts = [];
      for (let r = 0; r < runs; ++r) {
        const c0 = process.cpuUsage();
        await session.run(feeds);
        const c = process.cpuUsage(c0);
        ts.push((c.user + c.system) / 1000);
      }
      ts.sort((a, b) => a - b);
      const ms = ts[Math.floor(ts.length / 2)];
      console.log(`${name.padEnd(10)} ${String(M).padStart(5)} ${prec.padEnd(5)} ${ms.toFixed(4).padStart(9)} ` +
                  `${(2 * M * N * K / ms / 1e6).toFixed(1).padStart(8)}`);
    }
  }
})();
