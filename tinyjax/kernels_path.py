"""Where the hand-written CUDA headers (`kernels/*.cuh`) live.

In a source checkout (and an editable install) they sit in `kernels/` beside the
`tinyjax/` package; `pip install .` copies them into the package as `tinyjax/_kernels/`
(see `setup.py`). `TINYJAX_KERNELS_DIR` overrides both. Generated code is compiled with
`-I<kernels_dir()>`.
"""
import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
INSTALLED = _PACKAGE / '_kernels'          # what setup.py maps kernels/ to
CHECKOUT = _PACKAGE.parent / 'kernels'     # the top-level folder of a source checkout


def _is_checkout(root):
    # A bare `site-packages/kernels` could belong to another distribution: only trust the
    # sibling folder when it sits next to our setup.py.
    return (root / 'setup.py').is_file() and (root / 'kernels').is_dir()


def kernels_dir():
    """The folder holding tinyjax's `.cuh` headers, as a `pathlib.Path`.

    Raises FileNotFoundError when neither an installed copy nor a checkout is found.
    """
    override = os.environ.get('TINYJAX_KERNELS_DIR')
    if override:
        p = Path(override)
        if not p.is_dir():
            raise FileNotFoundError(f'TINYJAX_KERNELS_DIR={override!r} is not a directory')
        return p
    if INSTALLED.is_dir():
        return INSTALLED
    if _is_checkout(_PACKAGE.parent):
        return CHECKOUT
    raise FileNotFoundError(
        f'tinyjax kernels not found: looked in {INSTALLED} and {CHECKOUT}; reinstall the '
        'package (`pip install .`) or set TINYJAX_KERNELS_DIR')


def kernel_headers():
    """Names of the `.cuh` headers shipped with tinyjax, sorted."""
    return sorted(p.name for p in kernels_dir().glob('*.cuh'))
