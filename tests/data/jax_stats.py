"""jax.scipy.special and jax.scipy.stats evaluated by JAX 0.10.2 (CPU, float32 and, for
the special functions, float64): tests/test_scipy_stats.py calls the same function of
tinyjax on the same inputs and compares. Regenerate with
/path/to/jax-venv/bin/python tests/data/jax_stats.py > tests/data/jax_stats.json"""
import json

import numpy as np

X = [-3.0, -1.2, -0.3, 0.0, 0.4, 1.0, 2.5, 7.0]
POS = [0.05, 0.3, 0.9, 1.0, 1.7, 4.0, 12.5, 40.0]
UNIT = [0.0, 0.001, 0.1, 0.35, 0.5, 0.77, 0.999, 1.0]
BESSEL = [-31.0, -2.0, 0.0, 0.5, 3.0, 29.0, 30.0, 45.0]
COUNTS = [-1.0, 0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0]

# (function path, args); list args are float32 arrays, numbers stay Python scalars.
CASES = [
    ('special.gammaln', [POS]), ('special.gammaln', [X]), ('special.digamma', [POS]),
    ('special.digamma', [[-2.5, -0.3, 0.5, 3.7]]),
    ('special.betaln', [POS, POS[::-1]]), ('special.xlogy', [[0.0, 0.0, 1.5, 2.0], [0.0, 2.0, 3.0, 0.5]]),
    ('special.xlog1py', [[0.0, 0.0, 1.5, 2.0], [-1.0, 2.0, 3.0, -0.5]]),
    ('special.erfc', [X]), ('special.ndtr', [[-12.0, -6.0] + X]), ('special.log_ndtr', [[-40.0, -12.0, -6.0] + X + [9.0]]),
    ('special.ndtri', [[1e-30, 1e-10, 1e-4, 0.02, 0.3, 0.5, 0.9, 0.999999, 0.0, 1.0]]),
    ('special.gammainc', [POS, POS[::-1]]), ('special.gammaincc', [POS, POS[::-1]]),
    ('special.gammainc', [[0.5, 2.0, 30.0, 100.0], [0.01, 2.0, 25.0, 120.0]]),
    ('special.betainc', [POS, POS[::-1], UNIT]),
    ('special.betainc', [[0.5, 2.0, 30.0, 100.0], [0.5, 5.0, 20.0, 80.0], [0.2, 0.5, 0.6, 0.55]]),
    ('stats.norm.logpdf', [X, 0.5, 2.0]), ('stats.norm.pdf', [X]), ('stats.norm.cdf', [X, 1.0, 0.5]),
    ('stats.norm.logcdf', [X + [-30.0]]), ('stats.norm.sf', [X]), ('stats.norm.logsf', [X + [30.0]]),
    ('stats.norm.ppf', [UNIT, 1.0, 3.0]), ('stats.norm.isf', [UNIT]),
    ('stats.cauchy.logpdf', [X, 0.5, 2.0]), ('stats.cauchy.pdf', [X]), ('stats.cauchy.cdf', [X]),
    ('stats.cauchy.logcdf', [X]), ('stats.cauchy.sf', [X]), ('stats.cauchy.logsf', [X]),
    ('stats.cauchy.ppf', [UNIT[1:-1], 1.0, 2.0]), ('stats.cauchy.isf', [UNIT[1:-1]]),
    ('stats.laplace.logpdf', [X, 0.5, 2.0]), ('stats.laplace.pdf', [X]), ('stats.laplace.cdf', [X, 0.2, 1.5]),
    ('stats.logistic.logpdf', [X + [-100.0, 100.0], 0.5, 2.0]), ('stats.logistic.pdf', [X]),
    ('stats.logistic.cdf', [X]), ('stats.logistic.sf', [X]), ('stats.logistic.ppf', [UNIT]),
    ('stats.logistic.isf', [UNIT, 1.0, 2.0]),
    ('stats.uniform.logpdf', [X, -1.0, 3.0]), ('stats.uniform.pdf', [X, -1.0, 3.0]),
    ('stats.uniform.cdf', [X, -1.0, 3.0]), ('stats.uniform.ppf', [UNIT + [1.5], -1.0, 3.0]),
    ('stats.t.logpdf', [X, 3.0]), ('stats.t.pdf', [X, 1.5, 0.5, 2.0]),
    ('stats.gamma.logpdf', [X, 2.5]), ('stats.gamma.pdf', [POS, 0.7, 0.0, 2.0]),
    ('stats.gamma.cdf', [POS, 2.5]), ('stats.gamma.logcdf', [POS, 2.5]),
    ('stats.gamma.sf', [POS, 2.5, 0.0, 3.0]), ('stats.gamma.logsf', [POS, 2.5]),
    ('stats.beta.logpdf', [UNIT, 2.5, 1.3]), ('stats.beta.pdf', [UNIT, 0.5, 0.5]),
    ('stats.beta.cdf', [UNIT, 2.5, 1.3]), ('stats.beta.logcdf', [UNIT[1:], 2.5, 1.3]),
    ('stats.beta.sf', [UNIT, 2.5, 1.3]), ('stats.beta.logsf', [UNIT[:-1], 2.5, 1.3]),
    ('stats.bernoulli.logpmf', [[0.0, 1.0, 2.0, -1.0], 0.3]), ('stats.bernoulli.pmf', [[0.0, 1.0, 0.5], 0.3]),
    ('stats.bernoulli.cdf', [[-0.5, 0.0, 0.5, 1.0, 2.0], 0.3]),
    ('stats.bernoulli.ppf', [[0.0, 0.5, 0.7, 0.71, 1.0], 0.3]),
    ('stats.poisson.logpmf', [COUNTS, 3.5]), ('stats.poisson.pmf', [COUNTS, 3.5]),
    ('stats.poisson.cdf', [COUNTS + [2.5], 3.5]),
    ('stats.poisson.entropy', [[0.0, 0.3, 1.0, 5.0, 10.0, 55.0, 99.0, 100.0, 400.0, -1.0]]),
    ('stats.expon.logpdf', [X, -0.5, 2.0]), ('stats.expon.pdf', [X]), ('stats.expon.cdf', [X, 0.3]),
    ('stats.expon.logcdf', [X]), ('stats.expon.sf', [X]), ('stats.expon.logsf', [X, 0.0, 0.5]),
    ('stats.expon.ppf', [UNIT + [-0.1, 1.5], 1.0, 2.0]),
    ('stats.geom.logpmf', [COUNTS, 0.3]), ('stats.geom.pmf', [COUNTS, 0.6, -1.0]),
    ('stats.gumbel_r.logpdf', [X, 0.5, 2.0]), ('stats.gumbel_r.pdf', [X]), ('stats.gumbel_r.cdf', [X]),
    ('stats.gumbel_r.logcdf', [X]), ('stats.gumbel_r.sf', [X, 1.0, 0.5]), ('stats.gumbel_r.logsf', [X]),
    ('stats.gumbel_r.ppf', [UNIT, 1.0, 3.0]), ('stats.gumbel_r.logpdf', [X, 0.0, -1.0]),
    ('stats.gumbel_l.logpdf', [X, 0.5, 2.0]), ('stats.gumbel_l.pdf', [X]), ('stats.gumbel_l.cdf', [X]),
    ('stats.gumbel_l.logcdf', [X]), ('stats.gumbel_l.sf', [X, 1.0, 0.5]), ('stats.gumbel_l.logsf', [X]),
    ('stats.gumbel_l.ppf', [UNIT, 1.0, 3.0]),
    ('stats.pareto.logpdf', [POS, 2.5]), ('stats.pareto.pdf', [POS, 1.5, -0.5, 2.0]),
    ('stats.pareto.cdf', [POS, 2.5]), ('stats.pareto.logcdf', [POS, 2.5]), ('stats.pareto.sf', [POS, 2.5]),
    ('stats.pareto.logsf', [POS, 0.7, 0.0, 0.5]), ('stats.pareto.ppf', [UNIT + [-0.1], 2.5, 1.0, 2.0]),
    ('stats.binom.logpmf', [COUNTS, 10.0, 0.35]), ('stats.binom.pmf', [COUNTS, 5.0, 0.8]),
    ('stats.binom.logpmf', [[0.0, 1.0, 3.0, 4.0], 3.0, 0.0]), ('stats.binom.logpmf', [[0.0, 2.0, 3.0], 3.0, 1.0]),
    ('stats.nbinom.logpmf', [COUNTS, 3.0, 0.4]), ('stats.nbinom.pmf', [COUNTS, 2.5, 0.7, 1.0]),
    ('stats.betabinom.logpmf', [COUNTS, 10.0, 2.0, 3.0]), ('stats.betabinom.pmf', [COUNTS + [2.5], 6.0, 0.5, 1.5]),
    ('stats.betabinom.logpmf', [[0.0, 1.0], 0.0, 2.0, 3.0]),
    ('stats.chi2.logpdf', [POS + [0.0, -1.0], 3.0]), ('stats.chi2.pdf', [POS, 2.0, 0.5, 2.0]),
    ('stats.chi2.cdf', [POS + [0.0, -1.0], 4.0]), ('stats.chi2.logcdf', [POS, 4.0]),
    ('stats.chi2.sf', [POS + [0.0, -1.0], 1.5]), ('stats.chi2.logsf', [POS, 7.0]),
    ('stats.wrapcauchy.logpdf', [[-0.5, 0.0, 0.5, 1.0, 3.0, 6.2, 6.3], 0.4]),
    ('stats.wrapcauchy.pdf', [[0.5, 2.0], 1.2]),
    ('stats.gennorm.logpdf', [X, 1.5]), ('stats.gennorm.pdf', [X, 3.0]), ('stats.gennorm.cdf', [X, 0.8]),
    ('special.i0e', [X + [12.0, 29.5, 30.0, 35.0, -50.0]]), ('special.i0', [X + [12.0, -29.0, 33.0]]),
    ('special.i1e', [X + [12.0, 29.5, 30.0, 35.0, -50.0]]), ('special.i1', [X + [12.0, -29.0, 33.0]]),
    ('stats.vonmises.logpdf', [X, 2.5]), ('stats.vonmises.pdf', [X, 0.3]),
    ('stats.vonmises.logpdf', [[0.1, 3.0], [0.0, -1.0]]), ('stats.vonmises.logpdf', [[0.1, 2.0], 60.0]),
] + [(f'stats.truncnorm.{f}', [X + [5.5, 7.9], a, b] + extra)
     for f in ('logpdf', 'pdf', 'logcdf', 'cdf', 'logsf', 'sf')
     for a, b, extra in ((-1.0, 2.0, []), (0.5, 3.0, [0.2, 1.5]), (-4.0, -0.5, []), (5.0, 8.0, []),
                         (-10.0, 10.0, []))]

MVN = dict(x=[[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]], mean=[0.1, 0.2, -0.3],
           cov=[[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.5]])
DIRICHLET = dict(x=[[0.2, 0.1], [0.3, 0.6], [0.5, 0.3]], alpha=[1.5, 2.0, 3.0])


def _resolve(path):
    import jax.scipy.special
    import jax.scipy.stats
    obj = jax.scipy
    for part in path.split('.'):
        obj = getattr(obj, part)
    return obj


def _call(f, args, dtype):
    import jax.numpy as jnp
    return f(*[jnp.asarray(a, dtype) if isinstance(a, list) else a for a in args])


def _out(x):
    x = np.asarray(x, np.float64)
    return [None if np.isnan(v) else float(v) for v in x.ravel()]


def main():
    import jax
    import jax.numpy as jnp
    jax.config.update('jax_enable_x64', True)
    out = {'cases': []}
    for path, args in CASES:
        f = _resolve(path)
        rec = {'fn': path, 'args': args, 'float32': _out(_call(f, args, jnp.float32))}
        if path.startswith('special.'):
            import scipy.special
            rec['float64'] = _out(_call(f, args, jnp.float64))
            ref = getattr(scipy.special, path.split('.')[1])
            rec['scipy64'] = _out(ref(*[np.asarray(a, np.float64) for a in args]))
        out['cases'].append(rec)
    st = jax.scipy.stats
    f32 = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
    out['mvn'] = dict(MVN, logpdf=_out(st.multivariate_normal.logpdf(
        f32(MVN['x']), f32(MVN['mean']), f32(MVN['cov']))))
    out['dirichlet'] = dict(DIRICHLET, logpdf=_out(st.dirichlet.logpdf(
        f32(DIRICHLET['x']), f32(DIRICHLET['alpha']))))
    # Derivatives JAX gives at a few points (float64).
    sp = jax.scipy.special
    out['grads'] = {
        'gammaln': _out(jax.vmap(jax.grad(sp.gammaln))(jnp.array(POS))),
        'digamma': _out(jax.vmap(jax.grad(sp.digamma))(jnp.array(POS))),
        'gammainc_x': _out(jax.vmap(jax.grad(sp.gammainc, 1))(jnp.array(POS), jnp.array(POS[::-1]))),
        'betainc_x': _out(jax.vmap(jax.grad(sp.betainc, 2))(jnp.array(POS), jnp.array(POS[::-1]), jnp.array(UNIT[1:-1] + [0.6, 0.9]))),
        'ndtri': _out(jax.vmap(jax.grad(sp.ndtri))(jnp.array([1e-10, 0.02, 0.3, 0.9]))),
        'log_ndtr': _out(jax.vmap(jax.grad(sp.log_ndtr))(jnp.array([-40.0, -12.0, -3.0, 0.0, 4.0, 9.0]))),
        'xlogy': _out(jnp.stack(jax.vmap(jax.grad(sp.xlogy, (0, 1)))(jnp.array([0.0, 1.5]), jnp.array([2.0, 3.0])))),
        'norm_logcdf': _out(jax.vmap(jax.grad(st.norm.logcdf))(jnp.array(X))),
        'i0e': _out(jax.vmap(jax.grad(sp.i0e))(jnp.array(BESSEL))),
        'i1e': _out(jax.vmap(jax.grad(sp.i1e))(jnp.array(BESSEL))),
        'i1': _out(jax.vmap(jax.grad(sp.i1))(jnp.array(BESSEL[:-1]))),
        'vonmises_kappa': _out(jax.vmap(jax.grad(st.vonmises.logpdf, 1))(jnp.array(X), jnp.array(POS))),
    }
    print(json.dumps(out, indent=0))


if __name__ == '__main__':
    main()
