#!/usr/bin/env python3
"""Fits the short GELU of tensor/simd_math_avx512.h (gelu_erf16_lowp): erf(z) ~= z P(z^2) / Q(z^2) on
0 <= z <= 3.9, P degree 4, Q degree 3 (Q(0) = 1), by iteratively reweighted linear least squares on relative
error (300 points uniform in z^2, 12 iterations; mpmath at 30 digits), then prints the float32 coefficients
and the worst |GELU error| on [-12, 12] (x step 1e-4, double evaluation). Needs python3-mpmath.
Run: python3 docs/scripts/fit_gelu_lowp.py
"""
import mpmath as mp
mp.mp.dps = 30
def fit(np_, nq, zc, npts=300, iters=12):
    us = [ (zc*zc) * (mp.mpf(i)/(npts-1))**1.0 for i in range(npts)]
    f = [ (mp.erf(mp.sqrt(u))/mp.sqrt(u) if u > 0 else 2/mp.sqrt(mp.pi)) for u in us]
    w = [mp.mpf(1)]*npts
    for it in range(iters):
        # unknowns p0..pnp, q1..qnq ; equation: P(u) - f*(Q(u)-1) = f  weighted by w/f
        rows=[]; rhs=[]
        for u,fi,wi in zip(us,f,w):
            s = wi/fi
            rows.append([s*u**k for k in range(np_+1)] + [-s*fi*u**k for k in range(1,nq+1)])
            rhs.append(s*fi)
        A = mp.matrix(rows); b = mp.matrix(rhs)
        x = mp.lu_solve(A.T*A, A.T*b)
        p = [x[k] for k in range(np_+1)]; q=[mp.mpf(1)]+[x[np_+1+k] for k in range(nq)]
        Q = lambda u: sum(q[k]*u**k for k in range(nq+1))
        w = [1/abs(Q(u)) for u in us]
    return [float(v) for v in p],[float(v) for v in q]
import struct
def f32(v): return struct.unpack('f', struct.pack('f', v))[0]
def gelu_approx(x, p, q, zc):
    # emulate float32 evaluation roughly (coefficients rounded to float)
    z = min(abs(x)/2**0.5, zc); u = z*z
    P = 0.0
    for c in reversed(p): P = P*u + f32(c)
    Q = 0.0
    for c in reversed(q): Q = Q*u + f32(c)
    e = min(z*P/Q, 1.0)
    e = e if x >= 0 else -e
    return 0.5*x*(1+e)
import math
def gelu(x): return 0.5*x*(1+math.erf(x/2**0.5))

if __name__ == "__main__":
    p, q = fit(4, 3, 3.9)
    print("P (u^0 .. u^4):", [f32(c) for c in p])
    print("Q (u^0 .. u^3):", [f32(c) for c in q])
    worst, wx = 0.0, 0.0
    for i in range(-120000, 120001):
        x = i / 10000.0
        e = abs(gelu_approx(x, p, q, 3.9) - gelu(x))
        if e > worst:
            worst, wx = e, x
    print("worst |GELU error| %.2e at x = %g" % (worst, wx))
    # The kernel works on a = |x| (z = a / sqrt2 folded into the coefficients: P_k / (sqrt2 2^k), Q_k / 2^k)
    # and takes 1 / Q from vrcp14ps alone (relative error <= 2^-14): its bound is the fit's plus 0.5 |x| 2^-14.
    r2 = 2 ** 0.5
    print("P folded:", [f32(c / (r2 * 2 ** k)) for k, c in enumerate(p)])
    print("Q folded:", [f32(c / 2 ** k) for k, c in enumerate(q)])
    print("clamp a <= %r; bound %.2e + %.2e |x|" % (f32(3.9 * r2), worst, 0.5 * 2 ** -14))
