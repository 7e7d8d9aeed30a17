// Gold ids and code-point offsets from Hugging Face tokenizers@0.23.2 (Rust, official Node binding) for
// bert-base-uncased and roberta-base (../shared/tokenizers/*/tokenizer.json). NOT a test dependency.
// Usage: NODE_PATH=/tmp/hftok/node_modules node hf_gold.js in.jsonl out.jsonl [max_length]
const fs = require('fs');
const { Tokenizer } = require('tokenizers');
const [inPath, outPath, maxLen] = process.argv.slice(2);
(async () => {
  const bert = Tokenizer.fromFile('../shared/tokenizers/bert-base-uncased/tokenizer.json');
  const rob = Tokenizer.fromFile('../shared/tokenizers/roberta-base/tokenizer.json');
  if (maxLen) {
    bert.setTruncation(Number(maxLen));
    rob.setTruncation(Number(maxLen));
  }
  const rows = fs.readFileSync(inPath, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const out = [];
  for (const r of rows) {
    const pair = r.pair === undefined ? null : r.pair;
    const b = await bert.encode(r.text, pair);
    const o = await rob.encode(r.text, pair);
    const row = {text: r.text};
    if (pair !== null) row.pair = pair;
    Object.assign(row, {source: r.source, bert_uncased_ids: b.getIds(), roberta_ids: o.getIds(),
                        bert_offsets: b.getOffsets(), roberta_offsets: o.getOffsets()});
    if (pair !== null) {
      row.bert_type_ids = b.getTypeIds();
      row.roberta_type_ids = o.getTypeIds();
    }
    out.push(JSON.stringify(row));
  }
  fs.writeFileSync(outPath, out.join('\n') + '\n');
})();
