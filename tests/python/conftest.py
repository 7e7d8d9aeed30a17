"""Shared fixtures of the Python module's tests: the tern binary, a model, texts, and running the CLI.

Every test compares the module with the `tern` CLI of the same build on the same input. Run from the
repository root:  PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/python
(ctest runs it as pytest_python). TERN_BIN names the binary (default build/cli/tern).
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample", "mayweather_sample.jsonl")
SHIPPED_DEFAULT = os.path.join(ROOT, "weights", "models", "sentiment.h5")

if not any(os.path.exists(os.path.join(p, "tern", "__init__.py")) for p in sys.path if p):
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))  # run without PYTHONPATH from the root

import tern  # noqa: E402


def tern_bin():
    b = os.environ.get("TERN_BIN") or os.path.join(ROOT, "build", "cli", "tern")
    if not os.path.exists(b):
        pytest.skip(f"tern binary not found at {b} (set TERN_BIN)")
    return b


def run_cli(*args, input=None, check=True):
    """Runs `tern ARGS`; returns the CompletedProcess (stdout / stderr as bytes)."""
    p = subprocess.run([tern_bin(), *map(str, args)], input=input, capture_output=True)
    if check and p.returncode not in (0, 3):
        raise AssertionError(f"tern {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.decode()}")
    return p


def cli_rows(input_path, model, *args):
    """Rows of `tern infer INPUT - --model M ARGS` as parsed JSON."""
    p = run_cli("infer", input_path, "-", "--model", model, "-q", *args)
    return [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]


def without_id(rows):
    return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def write_texts_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    return str(path)


def sample_texts():
    with open(SAMPLE, encoding="utf-8") as f:
        return [json.loads(l)["rawContent"] for l in f if l.strip()]


def shared_test_texts(n=None):
    """TweetEval sentiment test texts from ../shared (skips when absent)."""
    import gzip

    p = os.path.join(SHARED, "data", "tweeteval", "sentiment", "test_text.txt.gz")
    if not os.path.exists(p):
        pytest.skip(f"{p} not found (../shared is absent)")
    with gzip.open(p, "rt", encoding="utf-8") as f:
        texts = [l.rstrip("\n") for l in f]
    return texts[:n] if n else texts


@pytest.fixture(scope="session")
def rv_model_path(tmp_path_factory):
    """A small real-vocabulary model: the 3-class BERT fixture of ../shared (2M parameters, bert-base-uncased's
    vocabulary) converted with tern convert; skips when ../shared is absent."""
    src = os.path.join(SHARED, "fixtures", "real-vocab", "bert_seqcls_single3")
    tok = os.path.join(SHARED, "tokenizers", "bert-base-uncased")
    if not (os.path.isdir(src) and os.path.isdir(tok)):
        pytest.skip("../shared real-vocab fixture is absent")
    out = tmp_path_factory.mktemp("model") / "rv.h5"
    run_cli("convert", "--from", src, "--tokenizer", tok, "--out", out)
    return str(out)


@pytest.fixture(scope="session")
def model_path(request):
    """The shipped default model when it is in the tree; else the small real-vocab fixture; else skip."""
    if os.path.exists(SHIPPED_DEFAULT):
        return SHIPPED_DEFAULT
    return request.getfixturevalue("rv_model_path")


@pytest.fixture(scope="session")
def model(model_path):
    return tern.load(model_path)


@pytest.fixture(scope="session")
def texts():
    """The 40 real tweets of the sample archive, plus a few edge cases (emoji, empty-ish, long)."""
    return sample_texts() + ["😃😃", " ", "a" * 3000, "@someone check https://t.co/x #tag"]


@pytest.fixture(scope="session")
def texts_file(tmp_path_factory, texts):
    return write_texts_jsonl(tmp_path_factory.mktemp("texts") / "texts.jsonl", texts)


def cli_path_dir():
    return os.path.dirname(os.path.abspath(tern_bin()))
