"""Archive inference spread over a Dask cluster.

    >>> import dask.bag as db, tern.dask
    >>> ddf = tern.dask.annotate(["archive-1.jsonl.gz", "archive-2.jsonl.gz"])   # files, or a bag / dataframe
    >>> ddf.compute()                  # label, prob_<label> ... in input order

:func:`annotate` maps tern over partitions of a Dask bag (of texts or of dicts), a Dask dataframe, or
JSONL / text files read with ``dask.bag.read_text``. Each worker process loads the model once (a
module-level cache keyed by the model file and options), not once per partition. By default
(``exact=True``) the partitions are re-cut at multiples of ``window`` texts, so every partition runs
exactly the windows and length-sorted batches of one ``tern infer`` over the whole input: the rows are the
CLI's bit for bit, in input order.

:func:`annotate_cli` is the streaming variant: each partition's lines are piped through the ``tern infer
- -`` command-line filter (as a Spark ``RDD.pipe`` stage or a Hadoop Streaming mapper would do).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import tern as _tern_pkg

__all__ = ["annotate", "annotate_cli", "get_model", "read_records"]

# tern infer's default text and id fields (infer/annotate.cpp: default_text_fields / default_id_fields).
DEFAULT_TEXT_FIELDS = ("text", "full_text", "rawContent", "content", "tweet", "data.text")
DEFAULT_ID_FIELDS = ("id", "id_str", "tweet_id", "tweet.id", "data.id")

# One loaded model per process (per Dask worker), keyed by file and options.
_MODELS: Dict[Tuple[Any, ...], "_tern_pkg.Model"] = {}
_MODELS_LOCK = threading.Lock()
_LOAD_COUNTS: Dict[Tuple[Any, ...], int] = {}  # loads per key in this process (tests: one per worker)


def get_model(model: Optional[str] = None, *, threads: Optional[int] = None, batch_size: int = 32,
              max_length: Optional[int] = None, normalize_tweets: Optional[bool] = None,
              window: int = 4096) -> "_tern_pkg.Model":
    """The process-wide cached :class:`tern.Model` for these options (loaded on first use)."""
    key = (model, threads, batch_size, max_length, normalize_tweets, window)
    with _MODELS_LOCK:
        m = _MODELS.get(key)
        if m is None:
            m = _tern_pkg.load(model, threads=threads, batch_size=batch_size, max_length=max_length,
                               normalize_tweets=normalize_tweets, window=window)
            _MODELS[key] = m
            _LOAD_COUNTS[key] = _LOAD_COUNTS.get(key, 0) + 1
        return m


def _loads() -> Tuple[int, List[int]]:
    """(pid, how many times this process loaded each model it holds): for tests."""
    return os.getpid(), list(_LOAD_COUNTS.values())


def _lookup(rec: Any, dotted: str) -> Any:
    """tern infer's dotted field lookup: a key with the dots in it wins, then nested objects."""
    if not isinstance(rec, dict):
        return None
    if dotted in rec:
        return rec[dotted]
    cur: Any = rec
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


_MISSING = object()


def _text_of(rec: Any, field: Optional[str], pos: int) -> str:
    if isinstance(rec, str):
        return rec
    if isinstance(rec, dict):
        fields = [field] if field else list(DEFAULT_TEXT_FIELDS)
        for f in fields:
            v = _lookup(rec, f)
            if v is not None or (f in rec):
                if not isinstance(v, str):
                    what = "null" if v is None else type(v).__name__
                    raise _tern_pkg.BadInputError(f"record {pos}: text field '{f}' is {what}, not a string")
                return v
        raise _tern_pkg.BadInputError(f"record {pos}: no text field (looked for {', '.join(fields)})")
    raise _tern_pkg.BadInputError(f"record {pos} is a {type(rec).__name__}, not a str or a dict")


def _id_of(rec: Any, field: Optional[str]) -> Any:
    if not isinstance(rec, dict):
        return None
    for f in ([field] if field else list(DEFAULT_ID_FIELDS)):
        v = _lookup(rec, f)
        if v is not None:
            return v
    return None


def read_records(paths: Any, blocksize: Optional[int] = None) -> Any:
    """JSONL / text archives (optionally .gz) -> a Dask bag of records, as tern infer reads them: a
    JSONL line becomes its object, a text line (``.txt``) the string without its newline. One partition
    per file unless ``blocksize`` splits files (uncompressed ones only)."""
    import dask.bag as db

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    names = [p[:-3] if p.endswith(".gz") else p for p in paths]
    kinds = {("text" if n.endswith(".txt") else "jsonl") for n in names}
    if len(kinds) != 1:
        raise _tern_pkg.BadInputError("read_records: give either JSONL or .txt files, not both: " + ", ".join(paths))
    bag = db.read_text(paths, blocksize=blocksize)
    if kinds == {"text"}:
        return bag.map(lambda line: line[:-1] if line.endswith("\n") else line)
    return bag.map(json.loads)


# ---- partitions cut at multiples of the window ----

def _part_len(part: Any) -> int:
    return len(part)


def _cut(pieces: List[Tuple[Any, int, int]]) -> Any:
    """Concatenates slices [lo, hi) of source partitions (lists or pandas objects)."""
    out: List[Any] = []
    frames = []
    for part, lo, hi in pieces:
        if hasattr(part, "iloc"):
            frames.append(part.iloc[lo:hi])
        else:
            out.extend(list(part)[lo:hi])
    if frames:
        import pandas as pd
        return pd.concat(frames) if len(frames) > 1 else frames[0]
    return out


def _predict_part(part: Any, first: int, opts: Dict[str, Any], text: Optional[str], id_field: Optional[str],
                  is_frame: bool) -> Any:
    import pandas as pd

    model = get_model(**opts)
    if is_frame:
        texts = part[text] if isinstance(part, pd.DataFrame) else part
        bad = [i for i, t in enumerate(texts.tolist()) if not isinstance(t, str)]
        if bad:
            v = texts.iloc[bad[0]]
            raise _tern_pkg.BadInputError(f"row {texts.index[bad[0]]!r}: text column '{text}' is "
                                          f"{'null' if v is None or v != v else type(v).__name__}, not a string")
        df = model.predict_df(texts)
        df.index = texts.index
        return df
    recs = list(part)
    texts = [_text_of(r, text, first + i) for i, r in enumerate(recs)]
    df = _tern_pkg.rows_to_frame(model.predict(texts), model.info, pd.RangeIndex(first, first + len(recs)))
    if id_field is not None:
        df.insert(0, "id", [_id_of(r, id_field or None) for r in recs])
    return df


def _meta(opts: Dict[str, Any], id_field: Optional[str]) -> Any:
    """The empty frame with the output columns (needs the model's labels: loaded here, in the client)."""
    import pandas as pd

    m = get_model(**opts)
    meta = _tern_pkg.rows_to_frame([], m.info, pd.RangeIndex(0))
    if m.info.kind == "multi":
        meta["labels"] = meta["labels"].astype(object)
    if id_field is not None:
        meta.insert(0, "id", pd.Series([], dtype=object))
    return meta


def _default_threads() -> int:
    """Cores per task slot: os.cpu_count() // worker threads of the running distributed cluster on this
    host (1 without a cluster: the local schedulers run a task per core)."""
    try:
        from distributed import get_client

        info = get_client().scheduler_info()["workers"].values()
        slots = sum(w.get("nthreads", 1) for w in info) or 1
        hosts = len({w.get("host") for w in info}) or 1
        return max(1, (os.cpu_count() or 1) // max(1, slots // hosts))
    except Exception:
        return 1


def annotate(bag_or_paths: Any, model: Any = None, text: Optional[str] = None, npartitions: Optional[int] = None,
             *, exact: bool = True, id_field: Optional[str] = None, threads: Optional[int] = None,
             batch_size: int = 32, window: int = 4096, max_length: Optional[int] = None,
             normalize_tweets: Optional[bool] = None, blocksize: Optional[int] = None) -> Any:
    """Predicts every text of a Dask collection; returns a Dask dataframe with :meth:`tern.Model.predict_df`'s
    columns, in input order.

    bag_or_paths: a ``dask.bag`` of str or of dicts (tweets as parsed JSON), a ``dask.dataframe`` with a
        text column, or JSONL / text file paths (a str, glob or list; read with ``dask.bag.read_text``, see
        :func:`read_records`).
    model: None (the shipped default), a shipped name, a model file readable by every worker, or a
        :class:`tern.Model` (its file and options are used; each worker loads it once).
    text: the text field of dicts (dotted for nested keys; default: tern infer's text, full_text,
        rawContent, content, tweet, data.text) or the column of a dataframe (default "text").
    npartitions: output partitions (default: one per ``window`` texts).
    exact: re-cut partitions at multiples of ``window`` (one counting pass over the input first), so the
        numbers equal a single ``tern infer --window W`` run bit for bit; False keeps the input's
        partitions (labels the same, probabilities up to float32 rounding of other batch shapes).
    id_field: add an ``id`` column from dict records ("" = tern infer's default id fields).
    threads: tern threads per task (default: cores / worker threads on the host).

    The index is the 0-based input position (bags, files) or the dataframe's own index.
    """
    import dask
    import dask.bag as db
    import dask.dataframe as dd

    if isinstance(model, _tern_pkg.Model):
        opts = dict(model=model.info.path, threads=model.threads or None, batch_size=model.batch_size,
                    window=model.window, max_length=None, normalize_tweets=None)
    else:
        opts = dict(model=None if model is None else os.fspath(model), threads=threads,
                    batch_size=batch_size, window=window, max_length=max_length,
                    normalize_tweets=normalize_tweets)
    if opts["threads"] is None:
        opts["threads"] = _default_threads()
    W = int(opts["window"])

    if isinstance(bag_or_paths, (str, os.PathLike, list, tuple)):
        coll = read_records(bag_or_paths, blocksize=blocksize)
    else:
        coll = bag_or_paths
    is_frame = isinstance(coll, (dd.DataFrame, dd.Series))
    if is_frame:
        if isinstance(coll, dd.DataFrame):
            col = text or "text"
            if col not in coll.columns:
                raise _tern_pkg.BadInputError(f"the dataframe has no text column '{col}' (columns: "
                                              f"{', '.join(map(str, coll.columns))})")
            coll = coll[col]
        text = coll.name if coll.name is not None else "text"
        if id_field is not None:
            raise _tern_pkg.BadInputError("id_field is for bags of dicts; a dataframe keeps its own index")
    elif not isinstance(coll, db.Bag):
        raise _tern_pkg.BadInputError(f"annotate: expected a dask bag, a dask dataframe or file paths, got "
                                      f"{type(bag_or_paths).__name__}")
    meta = _meta(opts, id_field)
    src = coll.to_delayed()
    if not is_frame:
        src = list(src)

    if exact:
        sizes = dask.compute(*[dask.delayed(_part_len)(p) for p in src])
        total = int(sum(sizes))
        nwin = max(1, math.ceil(total / W))
        nparts = nwin if npartitions is None else max(1, min(int(npartitions), nwin))
        per = math.ceil(nwin / nparts) * W  # rows per output partition, a multiple of the window
        offs = [0]
        for s in sizes:
            offs.append(offs[-1] + int(s))
        parts = []
        divisions: List[int] = []
        for a in range(0, max(total, 1), per):
            b = min(a + per, total)
            pieces = [(src[i], max(a, offs[i]) - offs[i], min(b, offs[i + 1]) - offs[i])
                      for i in range(len(src)) if offs[i] < b and offs[i + 1] > a]
            chunk = dask.delayed(_cut)(pieces)
            parts.append(dask.delayed(_predict_part)(chunk, a, opts, text, id_field, is_frame))
            divisions.append(a)
        divisions.append(max(total - 1, 0))
        if is_frame:
            return dd.from_delayed(parts, meta=meta, verify_meta=False)
        return dd.from_delayed(parts, meta=meta, divisions=divisions if total else None, verify_meta=False)

    # Not exact: one task per input partition (positions need the lengths before: bags only).
    if is_frame:
        return coll.map_partitions(lambda s: _predict_part(s, 0, opts, text, None, True), meta=meta)
    sizes = dask.compute(*[dask.delayed(_part_len)(p) for p in src])
    parts, first = [], 0
    for p, s in zip(src, sizes):
        parts.append(dask.delayed(_predict_part)(p, first, opts, text, id_field, False))
        first += int(s)
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def _pipe_partition(lines: Sequence[str], args: Sequence[str]) -> List[Dict[str, Any]]:
    """Pipes one partition's JSONL / text lines through ``tern infer - -`` and parses its rows."""
    data = "".join(l if l.endswith("\n") else l + "\n" for l in lines).encode("utf-8")
    p = subprocess.run([_tern_pkg.cli_path(), "infer", "-", "-", "-q", *args], input=data, capture_output=True)
    if p.returncode not in (0, 3):  # 3: done, with bad rows (reported on stderr)
        raise _tern_pkg.Error(p.stderr.decode("utf-8", "replace").strip())
    return [json.loads(l) for l in p.stdout.decode("utf-8").splitlines()]


def annotate_cli(paths: Any, args: Sequence[str] = (), blocksize: Optional[int] = None) -> Any:
    """The streaming variant: ``dask.bag.read_text(paths)`` piped partition by partition through the
    ``tern infer - -`` command-line filter (``tern.cli_path()``; ``args`` are extra tern infer options,
    e.g. ``["--model", "m.h5"]``). Returns a Dask bag of tern infer's rows (dicts with the id). Ids are
    tern infer's: the record's id field, else the line number within the partition."""
    import dask.bag as db

    return db.read_text(paths, blocksize=blocksize).map_partitions(_pipe_partition, list(args))
