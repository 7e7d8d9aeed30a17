#!/usr/bin/env bash
# Builds the fuzz targets with clang (ASan + UBSan + libFuzzer) into build-fuzz/ and runs each for the given
# number of seconds with seed corpora made from tests/data. Run from anywhere.
#   tests/fuzz/run_fuzz.sh 300                 # every target, one after the other
#   FUZZ_PARALLEL=1 tests/fuzz/run_fuzz.sh 600 # every target at once (long runs by hand)
#   FUZZ_TARGETS="fuzz_weights" tests/fuzz/run_fuzz.sh 60
#   FUZZ_DETERMINISTIC=1 tests/fuzz/run_fuzz.sh   # CI: seed 1 and a fixed number of runs per target (about
#                                                 # 20 s each here), so a run is bounded and repeatable up to
#                                                 # coverage noise; exploration with random seeds is done by hand
# Exits 1 when any target reports a finding (crash, leak, timeout, out-of-memory, sanitizer report); the
# input that triggered it is saved as build-fuzz/artifacts/<target>-crash-* (or leak-, timeout-, oom-).
# Fixed findings are replayed first from tests/data/fuzz_regressions/<target>/ (and the tokenizer's
# tests/data/tokenizer/fuzz_regressions).
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=build-fuzz
targets=${FUZZ_TARGETS:-"fuzz_tokenizer fuzz_tokenizer_json fuzz_weights fuzz_archives fuzz_records fuzz_tf_h5"}
# Targets whose findings are reported but do not fail the run: fuzz_tf_h5 feeds every byte to libhdf5 1.10,
# which hangs / crashes on some damaged files (docs/errors.md, "tf_model.h5"); nothing in tern can fix that.
report_only=${FUZZ_REPORT_ONLY-fuzz_tf_h5}
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2

# UBSan in the (non-fuzzer) libraries is recoverable by default: make every report fatal.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

seeds="$build/seeds"
rm -rf "$seeds"
mkdir -p "$seeds" "$build/artifacts"
for t in $targets; do mkdir -p "$seeds/$t" "$build/corpus/$t"; done

# tern model files for fuzz_weights (written by tern itself: sealed).
mkdir -p "$build/models"
for f in bert_seqcls_single3 distilbert_seqcls6; do
  "$build/fuzz_make_model" "tests/data/tiny/$f" "$build/models/$f.h5"
done

python3 - "$seeds" "$build/models" <<'PY'
import gzip, json, os, struct, sys
out, models = sys.argv[1], sys.argv[2]
def put(target, name, data):
    if os.path.isdir(f'{out}/{target}'):
        open(f'{out}/{target}/{name}', 'wb').write(data)
def rd(p):
    op = gzip.open if p.endswith('.gz') else open
    return op(p, 'rb').read()

# fuzz_tokenizer: gold texts (with a control byte in front).
rows = [json.loads(l) for l in gzip.open('tests/data/tokenizer/dev_full_sample.jsonl.gz', 'rt', encoding='utf-8')]
for i, r in enumerate(rows[:400]):
    put('fuzz_tokenizer', str(i), bytes([i % 256]) + r['text'].encode('utf-8'))

# fuzz_tokenizer_json: the real tokenizer files.
d = 'tests/data/tokenizer/'
small_vocab = b'{"<s>": 0, "</s>": 1, "a": 2, "b": 3, "ab": 4}\0#version: 0.2\na b\n'
tseeds = {
    'bert_tokenizer_json': b'\0' + rd(d + 'bert-base-uncased/tokenizer.json.gz')[:200000],
    'vocab_txt': b'\1' + rd(d + 'bert-base-uncased/vocab.txt.gz')[:4000] + b'[UNK]\n[CLS]\n[SEP]\n',
    'bpe': b'\2' + small_vocab,
    'bert_config': b'\3' + rd(d + 'bert-base-uncased/tokenizer_config.json'),
    'roberta_map': b'\4' + b'{"mask_token": {"content": "<mask>", "lstrip": true}, "cls_token": "<s>", "sep_token": "</s>"}',
}
tj = json.loads(rd(d + 'roberta-base/tokenizer.json.gz'))
keep = {k: v for k, v in list(tj['model']['vocab'].items())[:300]}
tj['model']['vocab'] = keep
tj['model']['merges'] = [m for m in tj['model']['merges'][:2000] if all(x in keep for x in (m if isinstance(m, list) else m.split(' ')))
                         and ''.join(m if isinstance(m, list) else m.split(' ')) in keep]
tseeds['roberta_tokenizer_json'] = b'\0' + json.dumps(tj).encode()
for k, v in tseeds.items():
    put('fuzz_tokenizer_json', k, v)
reg = d + 'fuzz_regressions'
for k in sorted(os.listdir(reg)):
    put('fuzz_tokenizer_json', 'regression_' + k, open(f'{reg}/{k}', 'rb').read())

# fuzz_weights: 0 safetensors, 1 tern model .h5, 2 config.json.
tiny = 'tests/data/tiny/'
for f in sorted(os.listdir(tiny)):
    if os.path.exists(f'{tiny}{f}/model.safetensors'):
        put('fuzz_weights', f'st_{f}', b'\0' + rd(f'{tiny}{f}/model.safetensors'))
    if os.path.exists(f'{tiny}{f}/config.json'):
        put('fuzz_weights', f'config_{f}', b'\2' + rd(f'{tiny}{f}/config.json'))
# A small safetensors file of each dtype (fast to mutate).
hdr, blob = {}, b''
for name, dt, shape, item in [('a', 'F32', [2, 3], 4), ('b', 'F16', [4], 2), ('c', 'BF16', [2, 2], 2),
                              ('d', 'I64', [3], 8), ('e', 'F64', [1], 8)]:
    n = item
    for s in shape: n *= s
    hdr[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [len(blob), len(blob) + n]}
    blob += bytes(range(n))
hdr['__metadata__'] = {'format': 'pt'}
h = json.dumps(hdr).encode()
put('fuzz_weights', 'st_small', b'\0' + struct.pack('<Q', len(h)) + h + blob)
for f in sorted(os.listdir(models)):
    put('fuzz_weights', f'model_{f}', b'\1' + rd(f'{models}/{f}'))

# fuzz_tf_h5: the fixtures' Keras checkpoints.
for f in sorted(os.listdir(tiny)):
    for n in ('tf_model.h5', 'tf_model_keras212.h5'):
        if os.path.exists(f'{tiny}{f}/{n}'):
            put('fuzz_tf_h5', f'{f}_{n}', rd(f'{tiny}{f}/{n}'))

# fuzz_archives: first byte = format | task << 2 | flags (see fuzz_archives.cpp).
csv = (b'label,text\n0,plain tweet\n1,"quoted, with comma"\n2,"multi\nline ""quote"""\r\n'
       b'a,by name\n"1","x"\n\n2,last')
tsv = b'label\ttext\n0\tplain\n1\t"not quoted"\n2\ttab\\tescaped\n'
jsonl = (b'{"text": "hello", "label": 1}\n{"text": "\\u00e9\\ud83d\\ude00", "label": "b"}\n'
         b'{"text": "list", "label": [0, 2]}\n\n{"text": "f", "label": 0.5}\n')
multi = b'a,b,c,text\n1,0,1,x\n0,0,0,"y"\n'
reg = b'label,text\n0.5,x\n-3e2,y\n'
te = b'first tweet\nsecond @user http\n\x00' + b'0\n2\n'
for name, k, data in [('csv', 0, csv), ('tsv', 1, tsv), ('jsonl', 2, jsonl), ('tweeteval', 3, te),
                      ('csv_ids', 0 | 4, csv), ('csv_multi', 0 | 8, multi), ('csv_multi_list', 0 | 8 | 128, csv),
                      ('csv_regr', 0 | 12, reg), ('jsonl_multi', 2 | 8 | 128, jsonl), ('csv_skip', 0 | 16, csv),
                      ('csv_nolabels', 0 | 32, csv), ('tsv_rfc', 1 | 64, tsv), ('csv_none', 0 | 64 | 128, csv)]:
    put('fuzz_archives', name, bytes([k]) + data)

# fuzz_records: first byte = format | flags (see fuzz_records.cpp); the committed sample archive and variants.
sample = open('tests/data/sample/mayweather_sample.jsonl', 'rb').read()
v2 = b'{"data": {"id": "1", "text": "api v2"}, "includes": {"users": [{"id": "9"}]}}\n'
for name, k, data in [('sample_jsonl', 1, sample[:6000]), ('sample_auto', 0, sample[:3000]), ('v2', 0, v2),
                      ('csv', 2, csv), ('csv_noheader', 2 | 32, csv), ('tsv', 3, tsv), ('text', 4, te),
                      ('cp1252', 2 | 16, b'text\n\x93caf\xe9\x94\n'), ('bad_utf8', 1 | 8, b'{"text": "caf\xe9"}\n'),
                      ('long', 4 | 64, b'x' * 100 + b'\nshort\n'), ('gz', 1, gzip.compress(sample[:2000]))]:
    put('fuzz_records', name, bytes([k]) + data)
PY
# Past findings of the other targets, replayed as seeds.
for t in $targets; do
  if [ -d "tests/data/fuzz_regressions/$t" ]; then cp tests/data/fuzz_regressions/$t/* "$seeds/$t/"; fi
done

declare -A max_len=([fuzz_tokenizer]=2048 [fuzz_tokenizer_json]=400000 [fuzz_weights]=400000
                    [fuzz_archives]=65536 [fuzz_records]=65536 [fuzz_tf_h5]=300000)
# Runs per target in deterministic mode (~20 s each on this machine under ASan).
declare -A ci_runs=([fuzz_tokenizer]=4000 [fuzz_tokenizer_json]=4000 [fuzz_weights]=60000
                    [fuzz_archives]=40000 [fuzz_records]=40000 [fuzz_tf_h5]=600)
run() {
  local t=$1 rc=0 budget
  if [ -n "${FUZZ_DETERMINISTIC:-}" ]; then
    budget="-seed=1 -runs=${ci_runs[$t]}"
  else
    budget="-max_total_time=$secs"
  fi
  # shellcheck disable=SC2086
  "$build/$t" "$build/corpus/$t" "$seeds/$t" $budget -timeout=10 -rss_limit_mb=3072 \
    -max_len="${max_len[$t]}" -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
    >"$build/$t.log" 2>&1 || rc=$?
  local execs speed
  execs=$(grep -E '^stat::number_of_executed_units' "$build/$t.log" | awk '{print $2}' || true)
  speed=$(grep -E '^stat::average_exec_per_sec' "$build/$t.log" | awk '{print $2}' || true)
  if [ "$rc" -ne 0 ]; then
    echo "== $t: FINDING (exit $rc) after ${execs:-?} execs; log $build/$t.log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|unexpected exception' "$build/$t.log" | head -20 || true
  else
    echo "== $t: ${budget}, ${execs:-?} execs, ${speed:-?} execs/s, corpus $(ls "$build/corpus/$t" | wc -l) files"
  fi
  return "$rc"
}
failed="" known=""
note() {
  case " $report_only " in
    *" $1 "*) known="$known $1" ;;
    *) failed="$failed $1" ;;
  esac
}
if [ -n "${FUZZ_PARALLEL:-}" ]; then
  declare -A pids
  for t in $targets; do run "$t" & pids[$t]=$!; done
  for t in $targets; do wait "${pids[$t]}" || note "$t"; done
else
  for t in $targets; do run "$t" || note "$t"; done
fi
if [ -n "$known" ]; then
  echo "fuzz: findings inside libhdf5 (reported, not fatal: FUZZ_REPORT_ONLY):$known"
fi
if [ -n "$failed" ]; then
  echo "fuzz: findings in:$failed (inputs in $build/artifacts/)"
  exit 1
fi
echo "fuzz: no findings that fail the run ($targets)"
