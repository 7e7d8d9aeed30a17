"""`cmake --install` gives an importable package (into a temporary prefix) that predicts what the build
tree's module predicts and knows its installed tern binary."""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

import tern
from conftest import ROOT, sample_texts


def test_cmake_install_into_prefix(tmp_path, model_path):
    build = os.environ.get("TERN_BUILD_DIR") or os.path.join(ROOT, "build")
    if not os.path.exists(os.path.join(build, "cmake_install.cmake")) or not shutil.which("cmake"):
        pytest.skip(f"no CMake build tree at {build} (set TERN_BUILD_DIR)")
    prefix = tmp_path / "prefix"
    p = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    inits = glob.glob(str(prefix / "lib" / "python3*" / "dist-packages" / "tern" / "__init__.py"))
    assert len(inits) == 1, os.listdir(prefix / "lib")
    site = os.path.dirname(os.path.dirname(inits[0]))
    code = ("import json, sys, tern; m = tern.load(sys.argv[1]); "
            "print(json.dumps([tern.__file__, tern.cli_path(), m.predict(json.loads(sys.argv[2]))]))")
    texts = sample_texts()[:8]
    env = dict(os.environ, PYTHONPATH=site)
    env.pop("TERN_BIN", None)
    r = subprocess.run([sys.executable, "-c", code, model_path, json.dumps(texts)], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    file, cli, rows = json.loads(r.stdout)
    assert file.startswith(site)
    assert cli == str(prefix / "bin" / "tern") and os.access(cli, os.X_OK)
    assert rows == tern.load(model_path).predict(texts)
