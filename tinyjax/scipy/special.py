"""tinyjax.scipy.special."""
from tinyjax import lax
from tinyjax.nn import logsumexp  # noqa: F401
from tinyjax.numpy.conversion import promote_inexact


def erf(x):
    (x,) = promote_inexact(x)
    return lax.erf(x)


def erfinv(x):
    (x,) = promote_inexact(x)
    return lax.erf_inv(x)


def expit(x):
    (x,) = promote_inexact(x)
    return lax.logistic(x)


def logit(x):
    (x,) = promote_inexact(x)
    return lax.log(lax.div(x, lax.sub(_one(x), x)))


def _one(x):
    from tinyjax.ops.common import scalar
    return scalar(1, x.dtype)
