"""tern: a C++ transformer engine for social-media research, from Python.

A thin layer over tern's C++ libraries, the same ones the ``tern`` command line uses: ``Model.predict``
gives exactly the rows ``tern infer`` writes (same labels, same probabilities, bit for bit), and errors
carry the CLI's messages.

    >>> import tern
    >>> model = tern.load()                      # the shipped default model ("sentiment")
    >>> model.predict(["I love this", "meh"])    # [{'label': 'positive', 'probs': {...}}, ...]
    >>> df = model.predict_df(tweets_df)         # label + prob_<label> columns, same index
    >>> model.embed(texts, pool="mean")          # numpy (N, C) float32

The GIL is released while tern computes, so Python threads predicting at once run in parallel.
Archives larger than memory: :func:`infer_file` (the whole ``tern infer``); clusters: :mod:`tern.dask`.
"""
from __future__ import annotations

import json as _json
import os as _os
from typing import Any, Dict, Iterable, List, Optional, Sequence

from . import _tern
from ._tern import BadInputError, BadModelError, Error

__all__ = [
    "load", "Model", "ModelInfo", "Tokenizer", "convert", "infer_file", "train", "shipped_models", "cli_path",
    "default_model_name", "Error", "BadInputError", "BadModelError",
]


def shipped_models() -> Dict[str, str]:
    """Shipped models found on the search path: short name -> file path.

    The search path is ``$TERN_MODEL_PATH`` (':'-separated folders), then ``<prefix>/share/tern/models``
    of an installed tern, then the source tree's ``weights/models`` (a build-tree module).
    """
    return dict(_tern.shipped_models())


def default_model_name() -> str:
    """The short name of the shipped default model used when no model is given ("sentiment")."""
    return _tern.default_model_name()


def cli_path() -> str:
    """Path of the ``tern`` command-line binary that belongs to this module (build tree or install).

    ``$TERN_BIN`` overrides it. Used by the streaming recipes (``tern infer - -``) in :mod:`tern.dask`.
    """
    env = _os.environ.get("TERN_BIN")
    if env:
        return env
    try:
        from ._paths import TERN_BIN
        return TERN_BIN
    except ImportError:  # pragma: no cover - a package without the generated file
        return "tern"


class ModelInfo:
    """What a loaded model is: ``name``, ``path``, ``kind`` ("single", "multi", "regression" or
    "encoder"), ``labels`` (in logit order), ``normalize_tweets``, ``max_length``, ``hidden`` (embedding
    size) and the file's ``metadata`` (dict of str)."""

    __slots__ = ("name", "path", "kind", "labels", "normalize_tweets", "max_length", "hidden", "metadata")

    def __init__(self, d: Dict[str, Any]):
        for k in self.__slots__:
            setattr(self, k, d[k])

    def __repr__(self) -> str:
        return (f"ModelInfo(name={self.name!r}, kind={self.kind!r}, labels={self.labels!r}, "
                f"path={self.path!r})")


def _as_texts(texts: Any) -> Any:
    """Lists / tuples go to C++ as they are; a pandas Series or numpy array becomes a list."""
    if isinstance(texts, (list, tuple)):
        return texts
    tolist = getattr(texts, "tolist", None)
    if callable(tolist):
        return tolist()
    return texts


class Model:
    """A loaded tern model (see :func:`load`). Thread-safe: several Python threads may call it at once
    (each call takes its own worker buffers; the weights are shared).

    Predictions are computed in windows of ``window`` texts (4096, tern infer's default), each window in
    length-sorted batches of ``batch_size``, exactly as ``tern infer`` does: the numbers are the CLI's.
    """

    def __init__(self, core: "_tern.Model"):
        self._m = core
        self.info = ModelInfo(core.info)

    def __repr__(self) -> str:
        return f"tern.Model({self.info.name!r}, kind={self.info.kind!r}, labels={self.info.labels!r})"

    def __reduce__(self) -> Any:
        # Pickles as "load this file with these options": a process that unpickles it (a Dask worker, a
        # multiprocessing pool) loads the model once and reuses it (tern.dask.get_model's cache).
        i = self.info
        return (_load_cached, (i.path, self.threads or None, self.batch_size, i.max_length, i.normalize_tweets,
                               self.window))

    @property
    def labels(self) -> List[str]:
        """Class (or target) names, in logit order."""
        return list(self.info.labels)

    @property
    def tokenizer(self) -> "Tokenizer":
        """The model's own tokenizer (the files stored in the model file)."""
        return Tokenizer(self._m.tokenizer)

    def predict(self, texts: Iterable[str], *, logits: bool = False) -> List[Dict[str, Any]]:
        """Predicts each text; returns one dict per text, in order, exactly the rows ``tern infer`` writes
        (without the ``id``):

        - single-label: ``{"label": "positive", "probs": {"negative": 0.03, ...}}``
        - multi-label: ``{"labels": ["joy", ...], "probs": {...}}`` (probability >= 0.5)
        - regression: ``{"value": 3.2}`` or ``{"values": {"likes": ..., ...}}``

        ``logits=True`` adds ``"logits": [...]`` (as ``tern infer --logits``).
        Raises :class:`BadInputError` when an element is not a str (None, NaN, bytes).
        """
        return _json.loads(self._m.predict_json(_as_texts(texts), logits))

    def predict_df(self, df: Any, text: str = "text", *, logits: bool = False) -> Any:
        """Predicts the ``text`` column of a pandas DataFrame (or a Series / list of texts).

        Returns a DataFrame with the input's index and the columns of ``tern infer --format csv``:
        ``label`` and ``prob_<label>`` per label (single-label); ``labels`` (a list per row) and
        ``prob_<label>`` (multi-label); ``value`` or ``value_<target>`` (regression). Probabilities are
        float32: the very numbers ``tern infer`` prints (in shortest round-trip form).
        """
        import pandas as pd

        if isinstance(df, pd.DataFrame):
            if text not in df.columns:
                raise BadInputError(f"the DataFrame has no text column '{text}' (columns: "
                                    f"{', '.join(map(str, df.columns))})")
            texts, index = df[text], df.index
        elif isinstance(df, pd.Series):
            texts, index = df, df.index
        else:
            texts = list(df)
            index = pd.RangeIndex(len(texts))
        rows = self.predict(texts, logits=logits)
        return rows_to_frame(rows, self.info, index)

    def logits(self, texts: Iterable[str]) -> Any:
        """Raw head outputs, numpy float32 (N, L) (regression: with the training's target scaling undone)."""
        return self._m.logits(_as_texts(texts))

    def embed(self, texts: Iterable[str], pool: str = "cls") -> Any:
        """Pooled encoder embeddings, numpy float32 (N, C): ``pool="cls"`` (the first token's last hidden
        state) or ``"mean"`` (the mean over the text's real tokens), as ``tern infer --embeddings``."""
        return self._m.embed(_as_texts(texts), pool)

    @property
    def threads(self) -> int:
        return self._m.threads

    @property
    def batch_size(self) -> int:
        return self._m.batch_size

    @property
    def window(self) -> int:
        return self._m.window


def rows_to_frame(rows: Sequence[Dict[str, Any]], info: ModelInfo, index: Any = None) -> Any:
    """predict() rows -> the predict_df DataFrame (columns as ``tern infer --format csv``)."""
    import numpy as np
    import pandas as pd

    n = len(rows)
    cols: Dict[str, Any] = {}
    if info.kind == "single":
        cols["label"] = [r["label"] for r in rows]
    elif info.kind == "multi":
        cols["labels"] = [r["labels"] for r in rows]
    if info.kind in ("single", "multi"):
        for lab in info.labels:
            cols["prob_" + lab] = np.fromiter((r["probs"][lab] for r in rows), dtype=np.float32, count=n)
    elif info.kind == "regression":
        if len(info.labels) == 1:
            cols["value"] = np.fromiter((r["value"] for r in rows), dtype=np.float32, count=n)
        else:
            for lab in info.labels:
                cols["value_" + lab] = np.fromiter((r["values"][lab] for r in rows), dtype=np.float32, count=n)
    if n and "logits" in rows[0]:
        for j, lab in enumerate(info.labels):
            cols["logit_" + lab] = np.fromiter((r["logits"][j] for r in rows), dtype=np.float32, count=n)
    return pd.DataFrame(cols, index=index)


def load(name_or_path: Optional[str] = None, *, threads: Optional[int] = None, batch_size: int = 32,
         max_length: Optional[int] = None, normalize_tweets: Optional[bool] = None,
         window: int = 4096) -> Model:
    """Loads a model for prediction.

    name_or_path: None for the shipped default model (``tern.default_model_name()``, "sentiment"), a
        shipped model's short name (``tern.shipped_models()``), or a tern model file (``.h5``, made by
        ``tern convert`` / ``tern train`` / :func:`convert`).
    threads: threads used by each call (None or 0: all cores), as ``tern infer --threads``.
    batch_size: texts per encoder batch (``--batch-size``).
    max_length: tokens per text including special ones (None: as the model was trained).
    normalize_tweets: TweetEval ``@user`` / ``http`` preprocessing (None: as the model was trained).
    window: texts length-sorted together (``--window``); keep the CLI's default for identical numbers.

    Raises :class:`BadModelError` (a missing, damaged or unknown model, with the CLI's message).
    """
    name = name_or_path if name_or_path is not None else _tern.default_model_name()
    return Model(_tern.Model(_os.fspath(name), 0 if threads is None else int(threads), int(batch_size),
                             max_length, normalize_tweets, int(window)))


def _load_cached(path: str, threads: Optional[int], batch_size: int, max_length: Optional[int],
                 normalize_tweets: Optional[bool], window: int) -> Model:
    from .dask import get_model

    return get_model(path, threads=threads, batch_size=batch_size, max_length=max_length,
                     normalize_tweets=normalize_tweets, window=window)


class Tokenizer:
    """Hugging Face-exact WordPiece / byte-level BPE tokenizer (the one ``tern tokenize`` uses)."""

    def __init__(self, core: "_tern.Tokenizer"):
        self._t = core

    @staticmethod
    def from_model(name_or_path: Optional[str] = None) -> "Tokenizer":
        """The tokenizer stored in a tern model file (or a shipped model; None: the default model)."""
        name = name_or_path if name_or_path is not None else _tern.default_model_name()
        return Tokenizer(_tern.Tokenizer.from_model(_os.fspath(name)))

    @staticmethod
    def from_dir(dir: str) -> "Tokenizer":
        """A Hugging Face tokenizer folder (tokenizer.json, or vocab.txt, or vocab.json + merges.txt, with
        tokenizer_config.json / special_tokens_map.json)."""
        return Tokenizer(_tern.Tokenizer.from_dir(_os.fspath(dir)))

    def encode(self, texts: Iterable[str], max_length: Optional[int] = None, *, normalize_tweets: bool = False,
               threads: int = 0) -> Dict[str, Any]:
        """Encodes texts (special tokens added) into a dict of numpy int64 arrays padded to the longest:
        ``input_ids`` (N, T) (the pad id after the end), ``attention_mask`` (N, T) (1 real, 0 padding) and
        ``offsets`` (N, T, 2): [start, end) in code points of each text, (0, 0) for special and padding
        tokens. Unpadded, the ids and offsets are those of ``tern tokenize --offsets``.
        max_length truncates to that many tokens including the special ones."""
        return self._t.encode(_as_texts(texts), max_length, normalize_tweets, int(threads))

    @property
    def pad_id(self) -> int:
        return self._t.pad_id

    @property
    def vocab_size(self) -> int:
        return self._t.vocab_size

    @property
    def model_type(self) -> str:
        """"wordpiece" or "bpe"."""
        return self._t.model_type

    def token_to_id(self, token: str) -> Optional[int]:
        return self._t.token_to_id(token)

    def id_to_token(self, id: int) -> Optional[str]:
        return self._t.id_to_token(id)

    def __repr__(self) -> str:
        return f"tern.Tokenizer({self._t.origin!r}, {self.model_type})"


def infer_file(input: str, output: str = "-", *, model: Optional[str] = None, models: Optional[Sequence[str]] = None,
               format: str = "auto", input_format: str = "auto", text_field: Optional[str] = None,
               id_field: Optional[str] = None, keep_fields: Sequence[str] = (), logits: bool = False,
               embeddings: Optional[str] = None, embeddings_out: Optional[str] = None, errors: Optional[str] = None,
               resume: bool = False, encoding: Optional[str] = None, invalid_utf8: str = "error",
               max_line_bytes: int = 1 << 20, normalize_tweets: Optional[bool] = None,
               max_length: Optional[int] = None, window: int = 4096, batch_size: int = 32,
               threads: Optional[int] = None, progress: Optional[Any] = None) -> Dict[str, Any]:
    """Annotates an archive file: the whole ``tern infer INPUT OUTPUT`` with its options as keywords.

    Input: JSONL (snscrape, Twitter API v2), CSV, TSV or text, optionally gzip ("-" = stdin). Output: JSONL
    or CSV (by ``format`` or the extension; "-" = stdout). Bad rows go to ``errors`` (default
    OUTPUT.errors.jsonl) and the run goes on; output is committed in whole lines and ``resume=True``
    continues after a crash. ``model`` / ``models``: file paths or shipped names (default: the shipped
    default model). ``progress``: a callable given a dict (rows, bad_rows, bytes_read, total_bytes,
    seconds) after each window. Ctrl-C stops the run with the committed rows kept.

    Returns the summary: rows, resumed_rows, bad_rows, replaced, seconds, output, errors, models.
    Raises :class:`BadModelError` for a model that cannot be loaded, :class:`Error` for a fatal run error
    (unreadable input, write failure) with the committed rows intact.
    """
    ms: List[str] = []
    if model is not None:
        ms.append(_os.fspath(model))
    if models:
        ms.extend(_os.fspath(m) for m in models)
    if isinstance(keep_fields, str):
        keep_fields = [k for k in keep_fields.split(",") if k]
    return dict(_tern.annotate(
        ms, _os.fspath(input), _os.fspath(output), format, input_format, text_field or "", id_field or "",
        list(keep_fields), bool(logits), embeddings or "", _os.fspath(embeddings_out) if embeddings_out else "",
        _os.fspath(errors) if errors else "", bool(resume), encoding or "", invalid_utf8, int(max_line_bytes),
        normalize_tweets, max_length, int(window), int(batch_size), 0 if threads is None else int(threads),
        progress))


def convert(hf_dir: str, out: str, tokenizer: Optional[str] = None, *, dtype: str = "keep",
            allow_nonfinite: bool = False) -> Dict[str, Any]:
    """Imports a Hugging Face checkpoint into one tern model file: ``tern convert --from HF_DIR --out OUT``.

    hf_dir: a folder with config.json and model.safetensors or tf_model.h5 (+ tokenizer files), or one
        of those checkpoint files next to its config.json.
    tokenizer: take the tokenizer files from this folder instead of the checkpoint's.
    dtype: storage of the float parameters: keep, float32, float16, bfloat16.

    It runs the ``tern`` binary of this build (:func:`cli_path`) in a child process: a ``tf_model.h5``
    goes through libhdf5, which can hang or crash on a damaged file, and the CLI bounds that with a time
    limit and a crash guard that must not take the notebook's kernel down. Returns ``{"out": path,
    "notes": [...], "message": ...}`` (the CLI's notes and summary line). Raises :class:`BadModelError`
    with the CLI's message when the checkpoint cannot be converted.
    """
    import subprocess

    args = [cli_path(), "convert", "--from", _os.fspath(hf_dir), "--out", _os.fspath(out), "--dtype", dtype]
    if tokenizer:
        args += ["--tokenizer", _os.fspath(tokenizer)]
    if allow_nonfinite:
        args.append("--allow-nonfinite")
    p = subprocess.run(args, capture_output=True)
    err = p.stderr.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l.strip()]
    if p.returncode != 0:
        prefix = "tern convert: error: "
        msg = "\n".join(l[len(prefix):] if l.startswith(prefix) else l for l in lines) or f"exit code {p.returncode}"
        raise BadModelError(msg)
    return {"out": _os.fspath(out), "notes": [l.split("note: ", 1)[1] for l in lines if "note: " in l],
            "message": lines[-1] if lines else ""}


def train(model: str, train: str, out: str, *, val: Optional[str] = None, test: Optional[str] = None,
          task: str = "single", labels: Optional[Sequence[str]] = None, text_field: str = "text",
          label_fields: Sequence[str] = (), skip_bad_rows: bool = False, normalize_tweets: bool = False,
          max_length: int = 64, batch_size: int = 32, epochs: int = 3, grad_accum: int = 1, lr: float = 1e-4,
          warmup: float = 0, weight_decay: float = 0.01, no_decay_bias_ln: bool = False, seed: int = 42,
          clip: float = 1.0, freeze_layers: int = 0, head_only: bool = False, dropout: Optional[float] = None,
          loss: Optional[str] = None, label_smoothing: float = 0.0, class_weights: Any = None,
          target_scale: str = "none", metric: Optional[str] = None, early_stopping: int = 0,
          max_steps: Optional[int] = None, save_last: Optional[str] = None, resume: Optional[str] = None,
          eval_batch_size: int = 64, threads: Optional[int] = None,
          callback: Optional[Any] = None) -> Dict[str, Any]:
    """Fine-tunes a model: ``tern train`` with its options as keywords (docs/training.md), through the same
    train::Trainer.

    model: the model to fine-tune (a .h5 file or shipped name); train / val / test: labelled data (CSV,
    TSV, JSONL; val selects the best epoch, test is only reported); out: where the best model goes.
    warmup: a fraction of the steps (0.06) or a step count (100), as ``--warmup``. dropout: None for the
    config's probabilities, or one probability for all. class_weights: None, "balanced" or one weight per
    label. callback: called with a dict per event: {"event": "plan" | "batch" | "epoch" | "note", ...}
    ("epoch" carries train_loss, steps, saved_best and the val / test metrics as JSON text).
    Ctrl-C stops training (the best checkpoint so far stays written).

    Returns {"best_epoch", "metric", "seconds", "out", "val", "test"} (metrics as dicts). Raises
    :class:`BadModelError` for a model that cannot be loaded, :class:`Error` for bad options or data
    (with the CLI's messages), ValueError for unknown names (task, loss, metric, target_scale).
    """
    w = float(warmup)
    frac = isinstance(warmup, float) and (w < 1 or not w.is_integer())
    if isinstance(class_weights, str):
        if class_weights not in ("balanced", "auto"):
            raise ValueError("class_weights: None, 'balanced' or one weight per label")
        mode, weights = "balanced", []
    else:
        mode, weights = "", [float(x) for x in (class_weights or [])]
    s = dict(_tern.train(
        _os.fspath(model) if model else "", _os.fspath(train), _os.fspath(out), _os.fspath(val) if val else "",
        _os.fspath(test) if test else "", task, list(labels or []), text_field, list(label_fields),
        bool(skip_bad_rows), bool(normalize_tweets), int(max_length), int(batch_size), int(epochs),
        int(grad_accum), float(lr), w, frac, float(weight_decay), bool(no_decay_bias_ln), int(seed), float(clip),
        int(freeze_layers), bool(head_only), dropout, loss or "", float(label_smoothing), mode, weights,
        target_scale, metric or "", int(early_stopping), max_steps, _os.fspath(save_last) if save_last else "",
        _os.fspath(resume) if resume else "", int(eval_batch_size), 0 if threads is None else int(threads),
        callback))
    for k in ("val", "test"):
        if s.get(k):
            s[k] = _json.loads(s[k])
    return s
