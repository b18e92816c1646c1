"""jax.typing: annotations for array arguments."""
from typing import Any, Union

import numpy as np

from tinyjax.core.array import Array

# What tinyjax functions accept as an array: its arrays and tracers, NumPy arrays and
# scalars, Python scalars.
ArrayLike = Union[Array, np.ndarray, np.bool_, np.number, bool, int, float, complex]
# A dtype, or anything np.dtype() accepts (a type, a name), as JAX allows.
DTypeLike = Union[str, type, np.dtype, Any]
