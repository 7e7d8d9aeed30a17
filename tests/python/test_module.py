"""import tern: every function against the tern CLI's output on the same input (identical labels and
probabilities, bit for bit), and errors with the CLI's messages."""
import json
import os

import numpy as np
import pandas as pd
import pytest

import tern
from conftest import (ROOT, SAMPLE, SHARED, SHIPPED_DEFAULT, cli_rows, run_cli, sample_texts, shared_test_texts,
                      without_id, write_texts_jsonl)


def test_import_and_help():
    assert "Loads a model" in tern.load.__doc__
    assert "tern infer" in tern.Model.predict.__doc__
    assert issubclass(tern.BadInputError, tern.Error) and issubclass(tern.BadInputError, ValueError)
    assert issubclass(tern.BadModelError, tern.Error) and issubclass(tern.Error, RuntimeError)
    assert os.path.exists(os.path.join(os.path.dirname(tern.__file__), "py.typed"))
    assert os.path.exists(os.path.join(os.path.dirname(tern.__file__), "__init__.pyi"))


def test_predict_equals_cli_rows(model, model_path, texts, texts_file):
    rows = model.predict(texts)
    assert rows == without_id(cli_rows(texts_file, model_path))
    assert len(rows) == len(texts)
    # The order is the input's even though batches are length-sorted: each text alone gives its label.
    for i in (0, 7, len(texts) - 1):
        assert model.predict([texts[i]])[0]["label"] == rows[i]["label"]


def test_predict_logits_equals_cli(model, model_path, texts, texts_file):
    assert model.predict(texts, logits=True) == without_id(cli_rows(texts_file, model_path, "--logits"))


def test_windows_and_batch_size_as_cli(model_path, texts, texts_file):
    # More texts than the window: windows of 16, batches of 5, one thread: exactly `tern infer --window 16
    # --batch-size 5 --threads 1` (tern's float sums depend on the thread count too: DEVELOPERS.md).
    m = tern.load(model_path, window=16, batch_size=5, threads=1)
    assert m.predict(texts) == without_id(cli_rows(texts_file, model_path, "--window", "16", "--batch-size", "5",
                                                   "--threads", "1"))


def test_predict_accepts_series_tuple_and_array(model, texts):
    ref = model.predict(texts[:5])
    assert model.predict(tuple(texts[:5])) == ref
    assert model.predict(pd.Series(texts[:5])) == ref
    assert model.predict(np.array(texts[:5], dtype=object)) == ref
    assert model.predict([]) == []


def test_predict_df_equals_cli(model, model_path, texts, texts_file):
    df = pd.DataFrame({"body": texts, "n": range(len(texts))}, index=[f"t{i}" for i in range(len(texts))])
    out = model.predict_df(df, text="body")
    assert list(out.index) == list(df.index)
    labels = model.info.labels
    assert list(out.columns) == ["label"] + ["prob_" + l for l in labels]
    rows = cli_rows(texts_file, model_path)
    assert out["label"].tolist() == [r["label"] for r in rows]
    for l in labels:
        assert out["prob_" + l].dtype == np.float32
        # The CLI prints the float32 in shortest round-trip form: read back, the same float32.
        assert np.array_equal(out["prob_" + l].to_numpy(), np.array([r["probs"][l] for r in rows], dtype=np.float32))
    # The CSV columns of tern infer --format csv are the same names.
    header = run_cli("infer", texts_file, "-", "--model", model_path, "--format", "csv", "-q").stdout.decode().splitlines()[0]
    assert header.split(",")[1:] == list(out.columns)
    with pytest.raises(tern.BadInputError, match="no text column 'text'"):
        model.predict_df(df)


def test_logits_equal_cli(model, model_path, texts, texts_file):
    z = model.logits(texts)
    assert z.dtype == np.float32 and z.shape == (len(texts), len(model.info.labels)) and z.flags.c_contiguous
    ref = np.array([r["logits"] for r in cli_rows(texts_file, model_path, "--logits")], dtype=np.float32)
    assert np.array_equal(z, ref)


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_embed_equals_cli(model, model_path, texts, texts_file, tmp_path, pool):
    h5py = pytest.importorskip("h5py")
    e = model.embed(texts, pool=pool)
    assert e.dtype == np.float32 and e.shape == (len(texts), model.info.hidden)
    out = tmp_path / "e.h5"
    run_cli("infer", texts_file, tmp_path / "rows.jsonl", "--model", model_path, "-q", "--embeddings", pool,
            "--embeddings-out", out)
    with h5py.File(out, "r") as f:
        ref = f["embeddings"][...]
    assert np.array_equal(e, ref)


def test_tokenizer_equals_cli_tokenize(model_path, texts, tmp_path):
    txt = tmp_path / "t.txt"
    one_line = [t.replace("\n", " ").replace("\r", " ") for t in texts]
    txt.write_text("".join(t + "\n" for t in one_line), encoding="utf-8")
    tk = tern.Tokenizer.from_model(model_path)
    for extra, kw in (([], {}), (["--max-length", "12"], {"max_length": 12})):
        enc = tk.encode(one_line, **kw)
        ref = [json.loads(l) for l in run_cli("tokenize", "--model", model_path, "--input", txt, "--output", "-",
                                              "--offsets", *extra).stdout.decode().splitlines()]
        assert enc["input_ids"].dtype == np.int64 and enc["attention_mask"].dtype == np.int64
        assert enc["offsets"].shape == enc["input_ids"].shape + (2,)
        for i, r in enumerate(ref):
            n = int(enc["attention_mask"][i].sum())
            assert enc["input_ids"][i, :n].tolist() == r["ids"]
            assert enc["offsets"][i, :n].tolist() == r["offsets"]
            assert (enc["input_ids"][i, n:] == tk.pad_id).all() and (enc["attention_mask"][i, n:] == 0).all()


def test_tokenizer_from_dir_equals_cli(tmp_path):
    d = os.path.join(ROOT, "tests", "data", "tokenizer", "bert-base-uncased")
    if not os.path.exists(os.path.join(d, "vocab.txt")):
        d = os.path.join(SHARED, "tokenizers", "bert-base-uncased")
    if not os.path.isdir(d):
        pytest.skip("no bert-base-uncased tokenizer folder")
    texts = sample_texts()[:10] + ["Héllo WORLD!!", "naïve café"]
    txt = tmp_path / "t.txt"
    txt.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    tk = tern.Tokenizer.from_dir(d)
    enc = tk.encode([t.replace("\n", " ") for t in texts])
    ref = [json.loads(l)["ids"] for l in run_cli("tokenize", "--tokenizer", d, "--input", txt, "--output", "-").stdout.decode().splitlines()]
    got = [row[m.astype(bool)].tolist() for row, m in zip(enc["input_ids"], enc["attention_mask"])]
    assert got == ref
    assert tk.model_type == "wordpiece" and tk.token_to_id("[CLS]") == 101 and tk.id_to_token(101) == "[CLS]"


def test_model_tokenizer_property(model, texts):
    a = model.tokenizer.encode(texts[:3])
    b = tern.Tokenizer.from_model(model.info.path).encode(texts[:3])
    assert np.array_equal(a["input_ids"], b["input_ids"])


def test_infer_file_equals_cli_bytes(model_path, tmp_path):
    # A sample with bad rows of several kinds: same rows, same errors file, same counts as the CLI.
    src = tmp_path / "in.jsonl"
    good = open(SAMPLE, encoding="utf-8").read().splitlines()
    src.write_text("\n".join(good[:5] + ["{not json", '{"text": null, "id": 7}', ""] + good[5:]) + "\n",
                   encoding="utf-8")
    seen = []
    s = tern.infer_file(src, tmp_path / "py.jsonl", model=model_path, keep_fields=["user.username"],
                        logits=True, progress=seen.append)
    p = run_cli("infer", src, tmp_path / "cli.jsonl", "--model", model_path, "--keep-fields", "user.username",
                "--logits", "-q")
    assert p.returncode == 3  # done, with bad rows
    assert (tmp_path / "py.jsonl").read_bytes() == (tmp_path / "cli.jsonl").read_bytes()
    assert (tmp_path / "py.jsonl.errors.jsonl").read_bytes() == (tmp_path / "cli.jsonl.errors.jsonl").read_bytes()
    assert s["rows"] == len(good) and s["bad_rows"] == 3 and s["output"] == str(tmp_path / "py.jsonl")
    assert seen and seen[-1]["rows"] == len(good)
    # CSV by extension, as the CLI.
    tern.infer_file(SAMPLE, tmp_path / "py.csv", model=model_path)
    run_cli("infer", SAMPLE, tmp_path / "cli.csv", "--model", model_path, "-q")
    assert (tmp_path / "py.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()


def test_convert_equals_cli(tmp_path):
    src = os.path.join(ROOT, "tests", "data", "tiny", "bert_seqcls_single3")
    r = tern.convert(src, tmp_path / "py.h5")
    run_cli("convert", "--from", src, "--out", tmp_path / "cli.h5")
    assert (tmp_path / "py.h5").read_bytes() == (tmp_path / "cli.h5").read_bytes()
    assert any("no tokenizer files" in n for n in r["notes"])
    with pytest.raises(tern.BadModelError) as e:
        tern.convert(tmp_path / "nowhere", tmp_path / "x.h5")
    cli = run_cli("convert", "--from", tmp_path / "nowhere", "--out", tmp_path / "x.h5", check=False)
    assert cli.returncode == 1 and str(e.value) in cli.stderr.decode()
    assert not (tmp_path / "x.h5").exists()


def test_shipped_models_and_default():
    shipped = tern.shipped_models()
    assert tern.default_model_name() == "sentiment"
    if not os.path.exists(SHIPPED_DEFAULT):
        assert "sentiment" not in shipped or os.environ.get("TERN_MODEL_PATH")
        pytest.skip("the shipped default model is not in this tree yet")
    assert os.path.samefile(shipped["sentiment"], SHIPPED_DEFAULT)
    m = tern.load()
    assert m.info.name and m.info.kind == "single" and os.path.samefile(m.info.path, SHIPPED_DEFAULT)
    rows = m.predict(sample_texts())
    assert rows == without_id(cli_rows(SAMPLE, "sentiment"))
    assert tern.load("sentiment").predict(["good"]) == m.predict(["good"])


# ---- errors: the right exception, the CLI's message ----

def cli_error(*args):
    p = run_cli(*args, check=False)
    assert p.returncode == 1, p.stderr
    return p.stderr.decode()


def test_bad_texts_raise_bad_input(model):
    for bad, msg in (([None], r"texts\[0\] is None, not a string"), (["ok", 3], r"texts\[1\] is a int"),
                     (["ok", float("nan")], r"texts\[1\] is a float \(nan\)"), ([b"bytes"], "is a bytes"),
                     ("one string", "not a single str"), (5, "iterable of str"),
                     (["\ud800"], "lone surrogate")):
        for fn in (model.predict, model.logits, model.embed, model.tokenizer.encode):
            with pytest.raises(tern.BadInputError, match=msg):
                fn(bad)
    with pytest.raises(tern.BadInputError):
        model.predict_df(pd.DataFrame({"text": ["a", None]}))
    with pytest.raises(ValueError, match=r"unknown pooling 'max' \(cls or mean\)"):
        model.embed(["a"], pool="max")


def test_bad_models_raise_bad_model_with_cli_message(tmp_path, model_path):
    cases = {"unknown": "no-such-model-name", "missing": str(tmp_path / "missing.h5")}
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
    cases["junk"] = str(junk)
    half = tmp_path / "half.h5"
    half.write_bytes(open(model_path, "rb").read()[:100000])
    cases["truncated"] = str(half)
    for name, path in cases.items():
        with pytest.raises(tern.BadModelError) as e:
            tern.load(path)
        assert str(e.value), name
        # The same message as `tern infer --model PATH` (the folders searched for a shipped name start with
        # the running program's: <python's bin>/../share/tern/models here, <tern's bin>/.. there).
        msg = str(e.value).split("; searched ")[0]
        assert msg in cli_error("infer", SAMPLE, "-", "--model", path), name
        with pytest.raises(tern.BadModelError):
            tern.Tokenizer.from_model(path)
        with pytest.raises(tern.BadModelError):
            tern.infer_file(SAMPLE, tmp_path / "o.jsonl", model=path)
    with pytest.raises(tern.BadModelError):
        tern.Tokenizer.from_dir(tmp_path / "no-dir")
    with pytest.raises(ValueError):
        tern.load(model_path, batch_size=0)


def test_infer_file_fatal_errors(model_path, tmp_path):
    with pytest.raises(tern.BadInputError) as e:
        tern.infer_file(tmp_path / "absent.jsonl", tmp_path / "o.jsonl", model=model_path)
    assert str(e.value) in cli_error("infer", tmp_path / "absent.jsonl", tmp_path / "o2.jsonl", "--model", model_path)
    with pytest.raises(ValueError):
        tern.infer_file(SAMPLE, tmp_path / "o.jsonl", model=model_path, format="xml")
    # A damaged gzip input: the rows before the damage are committed, then BadInputError naming the input.
    import gzip
    gz = tmp_path / "d.jsonl.gz"
    gz.write_bytes(gzip.compress(open(SAMPLE, "rb").read())[:-200])
    with pytest.raises(tern.BadInputError) as e:
        tern.infer_file(gz, tmp_path / "d.jsonl", model=model_path)
    assert str(e.value).startswith(str(gz) + ":")
    # (zlib's message names the file descriptor, "<fd:N>", which differs between the two processes)
    import re
    fd = lambda m: re.sub(r"<fd:\d+>", "<fd>", m)  # noqa: E731
    assert fd(str(e.value)) in fd(cli_error("infer", gz, tmp_path / "d2.jsonl", "--model", model_path))
    assert (tmp_path / "d.jsonl").read_bytes() == (tmp_path / "d2.jsonl").read_bytes()
    # The output cannot be written: a tern.Error that is not a BadInputError.
    with pytest.raises(tern.Error) as e:
        tern.infer_file(SAMPLE, tmp_path / "no-dir" / "o.jsonl", model=model_path)
    assert not isinstance(e.value, tern.BadInputError)


# ---- other kinds of models: multi-label, regression (one and several targets), RoBERTa (byte-level BPE) ----

def _fixture_model(tmp_path, name, tokenizer, problem_type=None, id2label=None):
    """A real-vocab Hugging Face fixture of ../shared converted with tern convert, its config edited for
    another kind of head (the weights of a 3-output head serve any of them)."""
    import shutil

    src = os.path.join(SHARED, "fixtures", "real-vocab", name)
    tok = os.path.join(SHARED, "tokenizers", tokenizer)
    if not (os.path.isdir(src) and os.path.isdir(tok)):
        pytest.skip("../shared real-vocab fixtures are absent")
    d = tmp_path / (name + "_" + (problem_type or "as_is"))
    shutil.copytree(src, d)
    cfg = json.loads((d / "config.json").read_text())
    if problem_type:
        cfg["problem_type"] = problem_type
    if id2label:
        cfg["id2label"] = {str(i): l for i, l in enumerate(id2label)}
        cfg["label2id"] = {l: i for i, l in enumerate(id2label)}
    (d / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / (d.name + ".h5")
    run_cli("convert", "--from", d, "--tokenizer", tok, "--out", out)
    return str(out)


@pytest.mark.parametrize("name,tokenizer,problem_type,kind,cols", [
    ("bert_seqcls_single3", "bert-base-uncased", "multi_label_classification", "multi",
     ["labels", "prob_joy", "prob_anger", "prob_fear"]),
    ("bert_seqcls_single3", "bert-base-uncased", "regression", "regression", ["value_joy", "value_anger", "value_fear"]),
    ("roberta_seqcls3", "roberta-base", None, "single", ["label", "prob_joy", "prob_anger", "prob_fear"]),
])
def test_other_heads_equal_cli(tmp_path, texts, texts_file, name, tokenizer, problem_type, kind, cols):
    path = _fixture_model(tmp_path, name, tokenizer, problem_type, ["joy", "anger", "fear"])
    m = tern.load(path)
    assert m.info.kind == kind and m.labels == ["joy", "anger", "fear"]
    rows = cli_rows(texts_file, path, "--logits")
    assert m.predict(texts, logits=True) == without_id(rows)
    df = m.predict_df(texts)
    assert list(df.columns) == cols
    header = run_cli("infer", texts_file, "-", "--model", path, "--format", "csv", "-q").stdout.decode().splitlines()[0]
    assert header.split(",")[1:] == cols
    if kind == "multi":
        assert df["labels"].tolist() == [r["labels"] for r in rows]
    if kind == "regression":
        for j, l in enumerate(m.labels):
            assert np.array_equal(df["value_" + l].to_numpy(), np.array([r["values"][l] for r in rows], dtype=np.float32))
    assert np.array_equal(m.logits(texts), np.array([r["logits"] for r in rows], dtype=np.float32))


def test_model_pickles_as_its_file_and_options(model, texts):
    import pickle

    m2 = pickle.loads(pickle.dumps(model))
    assert m2.info.path == model.info.path and m2.window == model.window and m2.batch_size == model.batch_size
    assert m2.predict(texts) == model.predict(texts)
    assert pickle.loads(pickle.dumps(model)) is m2  # one load per process
