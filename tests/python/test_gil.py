"""The GIL is released while tern computes: Python code runs meanwhile, and two threads predicting at once
finish faster than one after the other (threads=1 per call, so each call uses one of the 2 cores)."""
import os
import threading
import time

import pytest

import tern
from conftest import sample_texts


def _texts(n):
    base = sample_texts()
    return [base[i % len(base)] + f" #{i}" for i in range(n)]


@pytest.fixture(scope="module")
def m1(model_path):
    return tern.load(model_path, threads=1)


def _calibrate(m, texts):
    """Enough texts for about 1.5 s per call (at least the sample)."""
    t0 = time.perf_counter()
    m.predict(texts)
    dt = time.perf_counter() - t0
    return texts * max(1, int(1.5 / max(dt, 1e-3)))


def test_python_runs_while_tern_computes(m1):
    # With the GIL held, the main thread could not count while the worker predicts.
    texts = _calibrate(m1, _texts(400))
    done = threading.Event()
    th = threading.Thread(target=lambda: (m1.predict(texts), done.set()))
    t0 = time.perf_counter()
    th.start()
    count = 0
    while not done.is_set():
        count += 1
    th.join()
    dt = time.perf_counter() - t0
    # A free-running loop counts millions per second; under a held GIL it would stall for the whole call.
    assert count > 20000 * dt, (count, dt)


def test_two_threads_faster_than_one_after_the_other(model_path):
    ma, mb = tern.load(model_path, threads=1), tern.load(model_path, threads=1)
    texts = _calibrate(ma, _texts(400))
    results = {}

    def run(m, key):
        results[key] = m.predict(texts)

    best = None
    for _ in range(3):  # the machine is shared: the best of 3 tries
        t0 = time.perf_counter()
        run(ma, "a")
        run(mb, "b")
        seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        ths = [threading.Thread(target=run, args=(m, k)) for m, k in ((ma, "c"), (mb, "d"))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        par = time.perf_counter() - t0
        ratio = par / seq
        best = ratio if best is None else min(best, ratio)
        if best < 0.8:
            break
    assert results["a"] == results["b"] == results["c"] == results["d"]
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if best >= 0.8 and load > cores + 1:
        # Other processes hold the cores (builds, a training run): two of our threads cannot get two cores.
        # test_python_runs_while_tern_computes still shows the GIL released.
        pytest.skip(f"machine busy (load {load:.1f} on {cores} cores): two threads took {best:.2f} of the "
                    "sequential time; needs a quieter machine to measure")
    # 2 cores: ideally 0.5; a held GIL gives >= 1.
    assert best < 0.8, f"two threads at once took {best:.2f} of the time one after the other"


def test_one_model_shared_by_threads(m1):
    texts = _texts(200)
    ref = m1.predict(texts)
    out = [None] * 4

    def run(i):
        out[i] = m1.predict(texts)

    ths = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert all(o == ref for o in out)
