// Peer for the tokenizer benchmarks: Hugging Face tokenizers 0.23.2 (Rust, official Node binding).
//
// 1. Batch mode, for bench/tokenizer_bench.cpp: on the TweetEval sentiment test texts, prints JSON
//    {"bert-base-uncased": {...}, "roberta-base": {...}} with the median seconds of `runs` runs for one
//    encode() per tweet and for one encodeBatch() over all tweets.
//      NODE_PATH=/tmp/hftok/node_modules node bench/hf_tokenizers_peer.js ../shared 7
// 2. Serve mode, for bench/tokenize_bench.py (interleaved rounds with `tern tokenize`):
//      node bench/hf_tokenizers_peer.js --serve TOKENIZER_JSON TEXTS_TXT IDS_OUT [MAX_LENGTH]
//    Loads the tokenizer (truncation off, or MAX_LENGTH) and the texts (one per line, as `tern tokenize`
//    reads them), runs one warm-up encodeBatch, writes the ids of every text to IDS_OUT (one JSON array per
//    line), prints "ready N" and then, for each "run" line on stdin, one encodeBatch over all texts and
//    the seconds it took; "quit" (or the end of stdin) ends it.
const fs = require('fs');
const zlib = require('zlib');
const readline = require('readline');
const { Tokenizer } = require('tokenizers');

const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
const linesOf = (raw) => {
  const texts = raw.split('\n');
  if (texts.length && texts[texts.length - 1] === '') texts.pop();  // as tern: a final "\n" ends the last line
  return texts;
};

async function serve(tokenizerJson, textsPath, idsOut, maxLength) {
  const tok = Tokenizer.fromFile(tokenizerJson);
  if (maxLength > 0)
    tok.setTruncation(maxLength);
  else
    tok.disableTruncation();
  tok.disablePadding();
  const texts = linesOf(fs.readFileSync(textsPath).toString('utf8'));
  const enc = await tok.encodeBatch(texts);
  fs.writeFileSync(idsOut, enc.map((e) => JSON.stringify(Array.from(e.getIds()))).join('\n') + '\n');
  process.stdout.write(`ready ${texts.length}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() !== 'run') break;
    const t0 = process.hrtime.bigint();
    await tok.encodeBatch(texts);
    process.stdout.write(`${Number(process.hrtime.bigint() - t0) / 1e9}\n`);
  }
  rl.close();
}

async function batch(shared, runs) {
  const raw = zlib.gunzipSync(fs.readFileSync(`${shared}/data/tweeteval/sentiment/test_text.txt.gz`)).toString('utf8');
  const texts = linesOf(raw);
  const out = {};
  for (const name of ['bert-base-uncased', 'roberta-base']) {
    const tok = Tokenizer.fromFile(`${shared}/tokenizers/${name}/tokenizer.json`);
    let tokens = 0;
    for (const t of texts) tokens += (await tok.encode(t)).getIds().length;  // warm-up + count
    await tok.encodeBatch(texts);
    const single = [], many = [];
    for (let r = 0; r < runs; ++r) {
      let t0 = process.hrtime.bigint();
      for (const t of texts) await tok.encode(t);
      single.push(Number(process.hrtime.bigint() - t0) / 1e9);
      t0 = process.hrtime.bigint();
      await tok.encodeBatch(texts);
      many.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    out[name] = {encode_s: median(single), encode_batch_s: median(many), tokens, texts: texts.length};
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

const args = process.argv.slice(2);
if (args[0] === '--serve') {
  serve(args[1], args[2], args[3], Number(args[4] || 0)).catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
} else {
  const [shared = '../shared', runsArg = '7'] = args;
  batch(shared, Math.max(1, Number(runsArg)));
}
