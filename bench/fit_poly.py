"""Fits the polynomials of the host kernels' inline math (kernels/tj_host_shim.h).

    python bench/fit_poly.py

Each is a minimax fit of the relative error of the whole approximation, by Lawson's
iteratively reweighted least squares in float64 on Chebyshev points; the coefficients are
then rounded to float32 and the error measured again (in float64, so without the float32
evaluation's roundings, which bench/ulp_exhaustive.cpp measures).
"""
import numpy as np

HALF_ULP = 2.0 ** -24


def fit(t, f, scale, basis, degree):
    """Coefficients c minimising max |sum(c_i basis^i) - f| * scale over the points t."""
    a = np.vander(basis, degree + 1, increasing=True)
    w = np.ones_like(t)
    for _ in range(300):
        sw = np.sqrt(w) * scale
        c, *_ = np.linalg.lstsq(a * sw[:, None], f * sw, rcond=None)
        err = np.abs((a @ c - f) * scale)
        w = w * err / (w * err).sum()
    c32 = c.astype(np.float32).astype(np.float64)
    return c32, np.abs((a @ c32 - f) * scale).max()


def show(name, c, err):
    print(f'{name}: max relative error {err:.3g} ({err / HALF_ULP:.3f} half-ulps)')
    def hexf(v):
        mantissa, exponent = float.hex(float(v)).split('p')
        return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"
    print('   ', ', '.join(hexf(v) for v in c))


def main():
    cheb = np.cos(np.linspace(0, np.pi, 6001))
    # expm1(r) = r + r^2 P(r) on |r| <= ln2 / 2
    r = cheb * np.log(2) / 2
    r = r[np.abs(r) > 1e-6]
    show('expm1: P(r)', *fit(r, (np.expm1(r) - r) / r**2, r**2 / np.expm1(r), r, 4))
    # tanh(a) = a + a^3 R(a^2) on 0 <= a <= 0.5
    a = 0.25 * cheb + 0.25
    a = a[a > 1e-4]
    show('tanh: R(a^2)', *fit(a, (np.tanh(a) - a) / a**3, a**3 / np.tanh(a), a * a, 4))


if __name__ == '__main__':
    main()
