// Peer for bench/tokenizer_bench.cpp: Hugging Face tokenizers 0.23.2 (Rust, official Node binding) on the
// TweetEval sentiment test texts. Prints JSON {"bert-base-uncased": {...}, "roberta-base": {...}} with the
// median seconds of `runs` runs for one encode() per tweet and for one encodeBatch() over all tweets.
// Usage: NODE_PATH=/tmp/hftok/node_modules node bench/hf_tokenizers_peer.js ../shared 7
const fs = require('fs');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

const [shared = '../shared', runsArg = '7'] = process.argv.slice(2);
const runs = Math.max(1, Number(runsArg));
const raw = zlib.gunzipSync(fs.readFileSync(`${shared}/data/tweeteval/sentiment/test_text.txt.gz`)).toString('utf8');
const texts = raw.split('\n');
if (texts.length && texts[texts.length - 1] === '') texts.pop();  // as tern: a final "\n" ends the last line
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];

(async () => {
  const out = {};
  for (const name of ['bert-base-uncased', 'roberta-base']) {
    const tok = Tokenizer.fromFile(`${shared}/tokenizers/${name}/tokenizer.json`);
    let tokens = 0;
    for (const t of texts) tokens += (await tok.encode(t)).getIds().length;  // warm-up + count
    await tok.encodeBatch(texts);
    const single = [], batch = [];
    for (let r = 0; r < runs; ++r) {
      let t0 = process.hrtime.bigint();
      for (const t of texts) await tok.encode(t);
      single.push(Number(process.hrtime.bigint() - t0) / 1e9);
      t0 = process.hrtime.bigint();
      await tok.encodeBatch(texts);
      batch.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    out[name] = {encode_s: median(single), encode_batch_s: median(batch), tokens, texts: texts.length};
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})();
