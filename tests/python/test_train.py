"""tern.train: the same train::Trainer as `tern train`; with the same options, seed and threads the model
it writes predicts exactly what the CLI's does, and the summary holds the CLI's metrics."""
import gzip
import json
import os

import numpy as np
import pytest

import tern
from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny BERT fixture with the first 1000 lines of bert-base-uncased's vocabulary (as
    tests/train/test_checkpoint_identity.cpp), 48 training and 16 validation rows."""
    d = tmp_path_factory.mktemp("train")
    tok = d / "tok"
    tok.mkdir()
    with gzip.open(os.path.join(ROOT, "tests", "data", "tokenizer", "bert-base-uncased", "vocab.txt.gz"), "rt",
                   encoding="utf-8") as f:
        vocab = [next(f) for _ in range(1000)]
    (tok / "vocab.txt").write_text("".join(vocab), encoding="utf-8")
    (tok / "tokenizer_config.json").write_text('{"do_lower_case": true}')
    run_cli("convert", "--from", os.path.join(ROOT, "tests", "data", "tiny", "bert_seqcls_single3"), "--tokenizer",
            tok, "--out", d / "tiny.h5")

    def rows(n, salt):
        return "label,text\n" + "".join(f'{(i * 7 + salt) % 3},"the tweet {i}, [unused{(i + salt) % 50}] and more"\n'
                                        for i in range(n))
    (d / "train.csv").write_text(rows(48, 0))
    (d / "val.csv").write_text(rows(16, 1))
    return d


def test_train_equals_cli(tiny):
    d = tiny
    run_cli("train", "--model", d / "tiny.h5", "--train", d / "train.csv", "--val", d / "val.csv", "--labels",
            "negative,neutral,positive", "--epochs", "2", "--batch-size", "8", "--grad-accum", "2", "--lr", "1e-3",
            "--warmup", "0.2", "--clip", "0.5", "--max-length", "16", "--seed", "5", "--threads", "2", "--dropout",
            "0.1", "--class-weights", "auto", "--label-smoothing", "0.1", "--no-decay-bias-ln", "--out",
            d / "cli.h5", "--no-progress")
    events = []
    s = tern.train(d / "tiny.h5", d / "train.csv", d / "py.h5", val=d / "val.csv",
                   labels=["negative", "neutral", "positive"], epochs=2, batch_size=8, grad_accum=2, lr=1e-3,
                   warmup=0.2, clip=0.5, max_length=16, seed=5, threads=2, dropout=0.1, class_weights="balanced",
                   label_smoothing=0.1, no_decay_bias_ln=True, callback=events.append)
    assert s["out"] == str(d / "py.h5") and s["best_epoch"] in (1, 2) and s["metric"] == "macro_f1"
    assert "macro_f1" in s["val"]
    kinds = [e["event"] for e in events]
    assert kinds.count("epoch") == 2 and "plan" in kinds and "batch" in kinds
    texts = [f"the tweet {i} and [unused{i}]" for i in range(20)]
    a, b = tern.load(d / "py.h5", threads=2), tern.load(d / "cli.h5", threads=2)
    assert a.info.labels == ["negative", "neutral", "positive"]
    assert np.array_equal(a.logits(texts), b.logits(texts))
    # The CLI's metrics of the best epoch are the ones returned.
    ev = json.loads(run_cli("eval", "--model", d / "cli.h5", "--input", d / "val.csv").stdout)
    ev_py = json.loads(run_cli("eval", "--model", d / "py.h5", "--input", d / "val.csv").stdout)
    assert ev["macro_f1"] == ev_py["macro_f1"] == pytest.approx(s["val"]["macro_f1"], abs=1e-12)


def test_train_errors(tiny, tmp_path):
    d = tiny
    with pytest.raises(tern.BadModelError):
        tern.train(tmp_path / "absent.h5", d / "train.csv", tmp_path / "o.h5")
    with pytest.raises(tern.Error) as e:
        tern.train(d / "tiny.h5", tmp_path / "absent.csv", tmp_path / "o.h5")
    cli = run_cli("train", "--model", d / "tiny.h5", "--train", tmp_path / "absent.csv", "--out", tmp_path / "o.h5",
                  check=False)
    assert cli.returncode == 1 and str(e.value) in cli.stderr.decode()
    with pytest.raises(ValueError):
        tern.train(d / "tiny.h5", d / "train.csv", tmp_path / "o.h5", task="ranking")
