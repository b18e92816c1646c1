"""The package installs as a regular (non-editable) distribution and finds its kernels."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinyjax
from tinyjax import kernels_path

REPO = Path(__file__).resolve().parents[1]
PROBE = 'zz_packaging_probe.cuh'    # added to the copy only: proves *.cuh files ship


def test_kernels_dir_in_checkout():
    d = tinyjax.kernels_dir()
    assert d.is_dir()
    if kernels_path.INSTALLED.is_dir():     # running against an installed copy
        assert d == kernels_path.INSTALLED
    else:
        assert d.resolve() == (REPO / 'kernels').resolve()
    assert (d / 'README.md').is_file()
    assert kernels_path.kernel_headers() == sorted(p.name for p in d.glob('*.cuh'))


def test_kernels_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv('TINYJAX_KERNELS_DIR', str(tmp_path))
    assert tinyjax.kernels_dir() == tmp_path
    monkeypatch.setenv('TINYJAX_KERNELS_DIR', str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError):
        tinyjax.kernels_dir()


def _can_build_offline():
    """setuptools>=64 and wheel present: pip can build without an isolated env."""
    if importlib.util.find_spec('wheel') is None:
        return False
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split('.')[0]) >= 64


@pytest.mark.slow
def test_non_editable_install_ships_kernels(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md'):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '_kernels')
    shutil.copytree(REPO / 'tinyjax', src / 'tinyjax', ignore=ignore)
    shutil.copytree(REPO / 'kernels', src / 'kernels', ignore=ignore)
    (src / 'kernels' / PROBE).write_text('// packaging probe\n')
    expected = sorted(p.name for p in (src / 'kernels').iterdir() if p.is_file())

    site = tmp_path / 'site'
    cmd = [sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-compile',
           '--disable-pip-version-check', '--quiet', '--target', str(site), str(src)]
    if _can_build_offline():
        cmd.insert(4, '--no-build-isolation')
    env = {k: v for k, v in os.environ.items() if k != 'TINYJAX_KERNELS_DIR'}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (site / 'kernels').exists(), 'kernels/ must live inside the package'

    probe = (
        'import sys, tinyjax\n'
        'print(tinyjax.__file__)\n'
        'print(tinyjax.kernels_dir())\n'
        'print(",".join(sorted(p.name for p in tinyjax.kernels_dir().iterdir())))\n'
        'print(",".join(tinyjax.kernels_path.kernel_headers()))\n')
    env['PYTHONPATH'] = str(site)
    out = tmp_path / 'elsewhere'      # not the checkout, so nothing can come from there
    out.mkdir()
    r = subprocess.run([sys.executable, '-c', probe], cwd=out, capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    init, kdir, files, headers = r.stdout.strip().splitlines()[-4:]
    assert Path(init).resolve().is_relative_to(site.resolve())
    assert Path(kdir).resolve() == (site / 'tinyjax' / '_kernels').resolve()
    files = [f for f in files.split(',') if f and f != '__pycache__']
    assert files == expected
    assert PROBE in headers.split(',')
