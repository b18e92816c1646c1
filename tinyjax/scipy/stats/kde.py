"""Gaussian kernel density estimation (jax.scipy.stats.gaussian_kde): a weighted sum of
Gaussians centred on the data, with the data's (weighted) covariance scaled by a
bandwidth factor. A pytree of its arrays, so it passes through jit and vmap."""
import math

import numpy as np

from tinyjax import dtypes, random, tree_util
from tinyjax import numpy as jnp
from tinyjax.numpy.conversion import promote_inexact
from tinyjax.scipy import linalg, special

_FIELDS = ('neff', 'dataset', 'weights', 'covariance', 'inv_cov')


@tree_util.register_pytree_node_class
class gaussian_kde:
    def __init__(self, dataset, bw_method=None, weights=None):
        dataset = jnp.atleast_2d(jnp.asarray(dataset))
        if dtypes.is_complex(dataset.dtype):
            raise TypeError('gaussian_kde: complex data is not supported')
        if dataset.size <= 1:
            raise ValueError('gaussian_kde: `dataset` input should have multiple elements.')
        d, n = dataset.shape
        if weights is None:
            (dataset,) = promote_inexact(dataset)
            weights = jnp.full(n, 1.0 / n, dtype=dataset.dtype)
        else:
            dataset, weights = promote_inexact(dataset, weights)
            weights = jnp.atleast_1d(weights)
            if weights.ndim != 1 or weights.shape[0] != n:
                raise ValueError(f'gaussian_kde: `weights` must be one-dimensional of length '
                                 f'{n} (one per data point), got shape {weights.shape}')
            weights = weights / jnp.sum(weights)
        self.dataset, self.weights = dataset, weights
        self.neff = 1 / jnp.sum(weights ** 2)
        if bw_method is None or bw_method == 'scott':
            factor = self.neff ** (-1.0 / (d + 4))
        elif bw_method == 'silverman':
            factor = (self.neff * (d + 2) / 4.0) ** (-1.0 / (d + 4))
        elif callable(bw_method):
            factor = bw_method(self)
        elif np.ndim(bw_method) == 0 and not isinstance(bw_method, str):
            factor = bw_method
        else:
            raise ValueError("gaussian_kde: `bw_method` should be 'scott', 'silverman', a "
                             'scalar, or a callable.')
        data_cov = jnp.atleast_2d(jnp.cov(dataset, rowvar=True, bias=False, aweights=weights))
        self.covariance = data_cov * factor ** 2
        self.inv_cov = jnp.linalg.inv(data_cov) / factor ** 2

    def tree_flatten(self):
        return tuple(getattr(self, f) for f in _FIELDS), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        kde = cls.__new__(cls)
        for f, v in zip(_FIELDS, children):
            setattr(kde, f, v)
        return kde

    d = property(lambda self: self.dataset.shape[0])
    n = property(lambda self: self.dataset.shape[1])

    def _points(self, points):
        points = jnp.atleast_2d(jnp.asarray(points))
        if dtypes.is_complex(points.dtype):
            raise TypeError('gaussian_kde: complex points are not supported')
        if points.shape[0] != self.d:
            if points.shape[0] == 1 and points.shape[1] == self.d:
                return points.reshape(self.d, 1)
            raise ValueError(f'gaussian_kde: points have dimension {points.shape[0]}, '
                             f'dataset has dimension {self.d}')
        return points

    def _log_terms(self, points):
        """log(weight_i) + log N(point_j; data_i, covariance), shape (n, m)."""
        whiten = linalg.cholesky(self.inv_cov, lower=True)
        data = jnp.dot(self.dataset.T, whiten)
        pts = jnp.dot(self._points(points).T, whiten)
        log_norm = jnp.sum(jnp.log(jnp.diag(whiten))) - 0.5 * self.d * math.log(2 * math.pi)
        sq = jnp.sum((data[:, None, :] - pts[None, :, :]) ** 2, axis=-1)
        return jnp.log(self.weights)[:, None] + log_norm - 0.5 * sq

    def evaluate(self, points):
        return jnp.sum(jnp.exp(self._log_terms(points)), axis=0)

    __call__ = pdf = evaluate

    def logpdf(self, x):
        return special.logsumexp(self._log_terms(x), axis=0)

    def _convolved(self, cov, dataset, weights, mean):
        """sum_i w_i N(mean; x_i, self.covariance + cov)."""
        c, lower = linalg.cho_factor(self.covariance + cov)
        norm = (2 * math.pi) ** (self.d / 2) * jnp.prod(jnp.diag(c))
        diff = dataset - mean[:, None]
        arg = 0.5 * jnp.sum(diff * linalg.cho_solve((c, lower), diff), axis=0)
        return jnp.sum(jnp.exp(-arg) * weights) / norm

    def integrate_gaussian(self, mean, cov):
        mean, cov = jnp.atleast_1d(jnp.squeeze(jnp.asarray(mean))), jnp.atleast_2d(cov)
        if mean.shape != (self.d,) or cov.shape != (self.d, self.d):
            raise ValueError(f'gaussian_kde.integrate_gaussian: mean must have shape '
                             f'({self.d},) and cov ({self.d}, {self.d}); got {mean.shape} '
                             f'and {cov.shape}')
        return self._convolved(cov, self.dataset, self.weights, mean)

    def integrate_box_1d(self, low, high):
        if self.d != 1:
            raise ValueError('gaussian_kde.integrate_box_1d only handles 1-D densities')
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError('gaussian_kde.integrate_box_1d: the limits must be scalars')
        sigma = jnp.squeeze(jnp.sqrt(self.covariance))
        hi = jnp.squeeze((high - self.dataset) / sigma)
        lo = jnp.squeeze((low - self.dataset) / sigma)
        return jnp.sum(self.weights * (special.ndtr(hi) - special.ndtr(lo)))

    def integrate_kde(self, other):
        if other.d != self.d:
            raise ValueError('gaussian_kde.integrate_kde: the KDEs differ in dimension')
        small, large = (self, other) if self.n < other.n else (other, self)
        values = [large._convolved(small.covariance, large.dataset, large.weights,
                                   small.dataset[:, i]) for i in range(small.n)]
        return jnp.sum(jnp.stack(values) * small.weights)

    def resample(self, key, shape=()):
        ind_key, eps_key = random.split(key)
        ind = random.choice(ind_key, self.n, shape=shape, p=self.weights)
        eps = random.multivariate_normal(eps_key, jnp.zeros(self.d, self.covariance.dtype),
                                         self.covariance, shape=shape,
                                         dtype=self.dataset.dtype).T
        return self.dataset[:, ind] + eps
