"""tinyjax.numpy: JAX's NumPy API on tinyjax primitives."""
from tinyjax.numpy.conversion import (  # noqa: F401
    asarray, array, astype, copy, result_type, broadcast_shapes, broadcast_to)
from tinyjax.numpy.dtypes_api import *  # noqa: F401,F403
from tinyjax.numpy.dtypes_api import dtype, issubdtype, promote_types, finfo, iinfo  # noqa: F401
from tinyjax.numpy.ufuncs import *  # noqa: F401,F403
from tinyjax.numpy.ufuncs import abs, round, divmod, pow, where, clip  # noqa: F401
from tinyjax.numpy.reductions import *  # noqa: F401,F403
from tinyjax.numpy.reductions import sum, max, min, all, any  # noqa: F401
from tinyjax.numpy.creation import *  # noqa: F401,F403
from tinyjax.numpy.manipulation import *  # noqa: F401,F403
from tinyjax.numpy.manipulation import trace  # noqa: F401
from tinyjax.numpy.products import *  # noqa: F401,F403
from tinyjax.numpy.indexing import *  # noqa: F401,F403
from tinyjax.numpy.sorting import *  # noqa: F401,F403
from tinyjax.numpy.logic import *  # noqa: F401,F403
from tinyjax.numpy.composed_ufuncs import *  # noqa: F401,F403
from tinyjax.numpy.statistics import *  # noqa: F401,F403
from tinyjax.numpy.index_tricks import *  # noqa: F401,F403
from tinyjax.numpy.assembly import *  # noqa: F401,F403
from tinyjax.numpy.calculus import *  # noqa: F401,F403
from tinyjax.numpy.sets import *  # noqa: F401,F403
from tinyjax.numpy import linalg  # noqa: F401
from tinyjax.dlpack import from_dlpack  # noqa: F401
from tinyjax.core.array import Array as ndarray  # noqa: F401
from tinyjax.numpy import array_methods as _am

_am.install()
del _am
