"""The demo (README's main job) trains to a useful accuracy in a few seconds."""
import os
import subprocess
import sys

import tinyjax
from tinyjax.examples import demo


def test_demo_learns_spirals(capsys):
    x, y, _ = demo.spirals(n_per_class=100)
    assert x.shape == (300, 2) and set(y.tolist()) == {0, 1, 2}
    acc = demo.main(['--steps', '150', '--hidden', '32'])
    out = capsys.readouterr().out
    assert 'backend=' in out and 'final:' in out
    assert acc > 0.8


def test_demo_runs_as_module():
    env = dict(os.environ, TINYJAX_PLATFORM='cpu')
    env['PYTHONPATH'] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(tinyjax.__file__)), env.get('PYTHONPATH', '')])
    r = subprocess.run([sys.executable, '-m', 'tinyjax.examples.demo', '--steps', '20'],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'backend=cpu' in r.stdout and 'test accuracy' in r.stdout
