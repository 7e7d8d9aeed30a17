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

    def cpu():
        t = os.times()
        return t.user + t.system

    best, seq_util, par_util = None, 0.0, 0.0
    for _ in range(3):  # the machine is shared: the best of 3 tries
        c0, t0 = cpu(), time.perf_counter()
        run(ma, "a")
        run(mb, "b")
        seq = time.perf_counter() - t0
        seq_util = (cpu() - c0) / seq
        c0, t0 = cpu(), time.perf_counter()
        ths = [threading.Thread(target=run, args=(m, k)) for m, k in ((ma, "c"), (mb, "d"))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        par = time.perf_counter() - t0
        par_util = (cpu() - c0) / par
        ratio = par / seq
        best = ratio if best is None else min(best, ratio)
        if best < 0.8:
            break
    assert results["a"] == results["b"] == results["c"] == results["d"]
    if best >= 0.8 and seq_util < 0.9 and par_util < 1.3:
        # The machine is saturated (builds, a training run; with autogroup scheduling a session's threads
        # share one slice): the process did not get even one full core one after the other, nor two at
        # once, so no speed-up can show. test_python_runs_while_tern_computes still shows the GIL released.
        pytest.skip(f"machine busy (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): the process got "
                    f"{seq_util:.2f} cores one after the other and {par_util:.2f} with two threads "
                    f"(time ratio {best:.2f}); needs a machine with two free cores")
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
