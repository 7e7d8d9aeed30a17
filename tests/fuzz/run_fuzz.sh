#!/usr/bin/env bash
# Builds the tokenizer fuzz targets with clang (ASan + UBSan + libFuzzer) into build-fuzz/ and runs each
# for the given number of seconds with seed corpora made from tests/data. Run from anywhere.
#   tests/fuzz/run_fuzz.sh 300
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=build-fuzz
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2

# Seeds: gold texts (with a control byte in front) and the real tokenizer files.
seeds="$build/seeds"
rm -rf "$seeds"
mkdir -p "$seeds/encode" "$seeds/json" "$build/corpus/encode" "$build/corpus/json"
python3 - "$seeds" <<'PY'
import gzip, json, sys, os
out = sys.argv[1]
rows = [json.loads(l) for l in gzip.open('tests/data/tokenizer/dev_full_sample.jsonl.gz', 'rt', encoding='utf-8')]
for i, r in enumerate(rows[:400]):
    with open(f'{out}/encode/{i}', 'wb') as f:
        f.write(bytes([i % 256]) + r['text'].encode('utf-8'))
def rd(p):
    op = gzip.open if p.endswith('.gz') else open
    return op(p, 'rb').read()
d = 'tests/data/tokenizer/'
small_vocab = b'{"<s>": 0, "</s>": 1, "a": 2, "b": 3, "ab": 4}\0#version: 0.2\na b\n'
seeds = {
    'bert_tokenizer_json': b'\0' + rd(d + 'bert-base-uncased/tokenizer.json.gz')[:200000],
    'vocab_txt': b'\1' + rd(d + 'bert-base-uncased/vocab.txt.gz')[:4000] + b'[UNK]\n[CLS]\n[SEP]\n',
    'bpe': b'\2' + small_vocab,
    'bert_config': b'\3' + rd(d + 'bert-base-uncased/tokenizer_config.json'),
    'roberta_map': b'\4' + b'{"mask_token": {"content": "<mask>", "lstrip": true}, "cls_token": "<s>", "sep_token": "</s>"}',
}
# A small but complete tokenizer.json of each kind.
tj = json.loads(rd(d + 'roberta-base/tokenizer.json.gz'))
keep = {k: v for k, v in list(tj['model']['vocab'].items())[:300]}
tj['model']['vocab'] = keep
tj['model']['merges'] = [m for m in tj['model']['merges'][:2000] if all(x in keep for x in (m if isinstance(m, list) else m.split(' ')))
                         and ''.join(m if isinstance(m, list) else m.split(' ')) in keep]
seeds['roberta_tokenizer_json'] = b'\0' + json.dumps(tj).encode()
for k, v in seeds.items():
    open(f'{out}/json/{k}', 'wb').write(v)
# Past findings (each fixed, with a regression test in tests/tokenizer/test_units.cpp).
reg = d + 'fuzz_regressions'
for k in sorted(os.listdir(reg)):
    open(f'{out}/json/regression_{k}', 'wb').write(open(f'{reg}/{k}', 'rb').read())
PY

run() {
  local target=$1 corpus=$2 seed=$3 extra=$4
  echo "== $target for ${secs}s"
  "$build/$target" "$build/corpus/$corpus" "$seeds/$seed" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 $extra 2>&1 | tee "$build/$target.log" | grep -E "^#[0-9]+.*(pulse|DONE)|stat::|ERROR|SUMMARY|Done" || true
}
run fuzz_tokenizer encode encode "-max_len=2048"
run fuzz_tokenizer_json json json "-max_len=400000"
echo "logs: $build/fuzz_tokenizer.log $build/fuzz_tokenizer_json.log; crashes are written as crash-* in $root"
