"""Fits the rational of the host kernels' inline float tanh (kernels/tj_host_shim.h).

    python bench/fit_poly.py

The shim computes s = 2 tanh(a / 2) = a + a v R(v) / Q(v), v = a^2, Q(0) = 1, and then
tanh a = s / (1 + s^2 / 4). That last step divides s's relative error by cosh a, so the
fit minimises max |s~ / s - 1| / cosh a over 0 <= a <= 9.5 (|x| is clamped there):
Sanathanan-Koerner iterations (the rational's equation made linear by dividing by the
previous Q) with Lawson's reweighting towards the largest errors, in float64 on
Chebyshev points. The coefficients are then rounded to float32 and the error measured
again, in float64 (so without the float32 evaluation's roundings, which
bench/ulp_exhaustive.cpp measures).
"""
import numpy as np

HALF_ULP = 2.0 ** -24
TOP = 9.5


def fit(degree_r=2, degree_q=2, rounds=80):
    a = TOP * (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, 40001)))
    a = a[a > 1e-3]
    v = a * a
    s = 2 * np.tanh(a / 2)
    g = (s / a - 1) / v                           # what R / Q approximates
    scale = v * a / s / np.cosh(a)               # turns an error in R / Q into s's, weighted
    cols_r = np.vander(v, degree_r + 1, increasing=True)
    cols_q = np.vander(v, degree_q + 1, increasing=True)[:, 1:]
    w, q_prev = np.ones_like(a), np.ones_like(a)
    for _ in range(rounds):
        m = np.hstack([cols_r, -g[:, None] * cols_q])
        sw = np.sqrt(w) * scale / q_prev
        c, *_ = np.linalg.lstsq(m * sw[:, None], g * sw, rcond=None)
        r, q = c[:degree_r + 1], np.concatenate([[1.0], c[degree_r + 1:]])
        q_prev = cols_q @ q[1:] + 1
        err = np.abs((cols_r @ r / q_prev - g) * scale)
        w = w * err / (w * err).sum()
    r32, q32 = (c.astype(np.float32).astype(np.float64) for c in (r, q))
    err = np.abs((cols_r @ r32 / (cols_q @ q32[1:] + 1) - g) * scale).max()
    return r32, q32, err


def hexf(value):
    mantissa, exponent = float.hex(float(value)).split('p')
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def main():
    r, q, err = fit()
    print(f'tanh: weighted relative error of s {err:.3g} ({err / HALF_ULP:.3f} half-ulps)')
    print('    R(v):', ', '.join(hexf(c) for c in r))
    print('    Q(v):', ', '.join(hexf(c) for c in q))


if __name__ == '__main__':
    main()
