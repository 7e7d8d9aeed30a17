#!/usr/bin/env bash
# The main job: tern infer with the shipped default model on the committed sample archive (40 real tweets,
# snscrape JSONL), printing each tweet's text and predicted label. Run from the repository root after building.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/cli/tern infer tests/data/sample/mayweather_sample.jsonl --keep-fields rawContent
