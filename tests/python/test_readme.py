"""The notebook example of README.md (section Python) runs as written (from the repository root), and so does the
streaming recipe's partition function."""
import os
import re

import pytest

from conftest import ROOT, SAMPLE, SHIPPED_DEFAULT, cli_path_dir, cli_rows

README = os.path.join(ROOT, "README.md")


def python_blocks():
    text = open(README, encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_notebook_example_runs(monkeypatch):
    if not os.path.exists(SHIPPED_DEFAULT):
        pytest.skip("the example uses the shipped default model, not in this tree yet")
    code = python_blocks()[0]
    assert "tern.load()" in code and "predict_df" in code and "embed" in code and "tern.dask.annotate" in code
    monkeypatch.chdir(ROOT)
    ns = {"__name__": "__readme__"}
    exec(compile(code, README + " (notebook example)", "exec"), ns)
    assert len(ns["result"]) == 40 and ns["emb"].shape[0] == 40


def test_streaming_recipe_runs(monkeypatch, model_path):
    code = python_blocks()[1]
    assert "def tern_infer_partition" in code
    # The recipe calls `tern` from PATH: put the build's binary there; run the function on the sample.
    monkeypatch.setenv("PATH", cli_path_dir() + os.pathsep + os.environ["PATH"])
    ns = {}
    exec(compile(code.split("rows = db.read_text")[0], README + " (streaming recipe)", "exec"), ns)
    lines = open(SAMPLE, encoding="utf-8").readlines()
    assert ns["tern_infer_partition"](lines, ("--model", model_path)) == cli_rows(SAMPLE, model_path)
