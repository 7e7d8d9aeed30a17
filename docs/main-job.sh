#!/usr/bin/env bash
# The main job on the default model (until the embedded default model lands: ../shared/models/tweet-bert-mini):
# convert the checkpoint into one tern model file, tokenize 1,000 real tweets with the model's own tokenizer,
# run the encoder over them and show what came out. Run from the repository root after building.
set -euo pipefail
cd "$(dirname "$0")/.."
tern=./build/cli/tern
shared=../shared
work=build/main-job
mkdir -p "$work"
[ -d "$shared/models/tweet-bert-mini" ] || { echo "main-job: $shared/models/tweet-bert-mini not found" >&2; exit 1; }

$tern convert --from "$shared/models/tweet-bert-mini" --out "$work/tweet-bert-mini.h5"
(zcat "$shared/data/tweeteval/sentiment/test_text.txt.gz" || true) | head -n 1000 > "$work/tweets.txt"
$tern tokenize --model "$work/tweet-bert-mini.h5" --max-length 64 --input "$work/tweets.txt" --output "$work/ids.jsonl"
$tern forward --model "$work/tweet-bert-mini.h5" --input "$work/ids.jsonl" --output "$work/hidden.h5"
echo "main-job: $(wc -l < "$work/tweets.txt") tweets -> $work/hidden.h5:"
h5ls "$work/hidden.h5" 2>/dev/null || true
