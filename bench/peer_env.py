"""The "tuned" PyTorch environment of ../shared/peers/README.md for the benchmark peers: re-executes the
running script once with OPENBLAS_CORETYPE=SkylakeX (the machines' environment forces Haswell kernels),
OMP_WAIT_POLICY=PASSIVE and tcmalloc preloaded. Call retune() before importing torch; `--no-tune` on the
command line keeps the environment as it is.
"""
import os
import sys

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def retune():
    if "--no-tune" in sys.argv or os.environ.get("TERN_PEER_TUNED") == "1":
        return
    env = dict(os.environ, TERN_PEER_TUNED="1", OPENBLAS_CORETYPE="SkylakeX", OMP_WAIT_POLICY="PASSIVE")
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
