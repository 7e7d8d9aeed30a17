"""tern.dask on a real distributed.LocalCluster (2 worker processes, 1 thread each): exactly the rows of a
single `tern infer` run, in order; one model load per worker; the streaming variant through the CLI.

Each worker runs tern with 1 thread (cores / worker threads), so the single run it is compared with is
`tern infer --threads 1` (tern's float sums depend on the window, the batch size and the thread count)."""
import json
import os

import numpy as np
import pandas as pd
import pytest

import tern
import tern.dask
from conftest import SAMPLE, SHIPPED_DEFAULT, cli_rows, shared_test_texts, without_id

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def assert_frame_equals_rows(df, rows, labels, ids=False):
    """The dataframe holds exactly tern infer's rows: labels, float32 probabilities (and ids), in order."""
    assert len(df) == len(rows)
    assert df["label"].tolist() == [r["label"] for r in rows]
    for l in labels:
        assert np.array_equal(df["prob_" + l].to_numpy(), np.array([r["probs"][l] for r in rows], dtype=np.float32)), l
    if ids:
        assert df["id"].tolist() == [r["id"] for r in rows]


def test_paths_equal_one_cli_run(client, model_path):
    # 40 tweets, windows of 8: 5 partitions over 2 workers, each one window of the single CLI run.
    ddf = tern.dask.annotate([SAMPLE], model=model_path, window=8, id_field="", threads=1)
    assert ddf.npartitions == 5 and ddf.known_divisions
    df = ddf.compute()
    assert df.index.tolist() == list(range(40))
    labels = tern.load(model_path).info.labels
    assert_frame_equals_rows(df, cli_rows(SAMPLE, model_path, "--window", "8", "--threads", "1"), labels, ids=True)
    # Fewer partitions: each a multiple of the window, the same rows.
    df2 = tern.dask.annotate(SAMPLE, model=model_path, window=8, npartitions=2, threads=1).compute()
    assert df2.equals(df.drop(columns="id"))


def test_bag_of_texts_equals_cli(client, model_path, texts, texts_file):
    bag = db.from_sequence(texts, npartitions=3)  # partitions that do not fall on window boundaries
    df = tern.dask.annotate(bag, model=model_path, window=8, threads=1).compute()
    assert_frame_equals_rows(df, cli_rows(texts_file, model_path, "--window", "8", "--threads", "1"), tern.load(model_path).info.labels)


def test_dataframe_keeps_index(client, model_path, texts, texts_file):
    pdf = pd.DataFrame({"body": texts, "k": range(len(texts))}, index=range(1000, 1000 + len(texts)))
    ddf = dd.from_pandas(pdf, npartitions=4)
    df = tern.dask.annotate(ddf, model=tern.load(model_path, window=8, threads=1), text="body").compute()
    assert df.index.tolist() == pdf.index.tolist()
    assert_frame_equals_rows(df, cli_rows(texts_file, model_path, "--window", "8", "--threads", "1"), tern.load(model_path).info.labels)
    with pytest.raises(tern.BadInputError, match="no text column 'text'"):
        tern.dask.annotate(ddf, model=model_path)


def test_one_model_load_per_worker(client, model_path):
    tern.dask.annotate([SAMPLE] * 3, model=model_path, window=4).compute()  # 30 partitions
    loads = client.run(tern.dask._loads)
    assert len(loads) == 2
    for pid, counts in loads.values():
        assert counts and all(c == 1 for c in counts), (pid, counts)


def test_not_exact_same_labels(client, model_path, texts):
    df = tern.dask.annotate(db.from_sequence(texts, npartitions=3), model=model_path, exact=False, threads=1).compute()
    ref = tern.load(model_path, threads=1).predict_df(texts)
    assert df.index.tolist() == list(range(len(texts)))
    assert df["label"].tolist() == ref["label"].tolist()
    assert np.allclose(df.drop(columns="label").to_numpy(), ref.drop(columns="label").to_numpy(), atol=1e-5)


def test_streaming_variant_through_cli(client, model_path):
    rows = tern.dask.annotate_cli([SAMPLE], ["--model", model_path]).compute()
    assert rows == cli_rows(SAMPLE, model_path)


def test_bad_record_raises(client, model_path):
    bag = db.from_sequence([{"text": "ok"}, {"text": None}, {"x": 1}], npartitions=1)
    with pytest.raises(tern.BadInputError, match="record 1: text field 'text' is null"):
        tern.dask.annotate(bag, model=model_path).compute()


def test_tweeteval_test_set_default_window(client, rv_model_path, tmp_path):
    # 12,284 real tweets, tern infer's default window (4096): 3 partitions, 2 workers; the text file itself
    # is the input of both (ids = line numbers in the CLI, positions in Dask). The small fixture model keeps
    # it short: the partitioning is what is tested.
    model_path = rv_model_path
    shared_test_texts(1)
    from conftest import SHARED
    path = os.path.join(SHARED, "data", "tweeteval", "sentiment", "test_text.txt.gz")
    ddf = tern.dask.annotate(path, model=model_path, threads=1)
    assert ddf.npartitions == 3  # 4096 + 4096 + 4092
    df = ddf.compute()
    rows = cli_rows(path, model_path, "--threads", "1")
    assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    assert_frame_equals_rows(df, rows, tern.load(model_path).info.labels)


def test_default_model(client):
    if not os.path.exists(SHIPPED_DEFAULT):
        pytest.skip("the shipped default model is not in this tree yet")
    df = tern.dask.annotate(db.from_sequence([json.loads(l) for l in open(SAMPLE)], npartitions=2), threads=1).compute()
    assert_frame_equals_rows(df, cli_rows(SAMPLE, "sentiment", "--threads", "1"), tern.load().info.labels)
