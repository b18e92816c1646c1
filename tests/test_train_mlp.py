"""The main job: the MLP trainer on scikit-learn's digits, and its checkpoints."""
import os

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.examples import checkpoint

pytest.importorskip('sklearn')
from tinyjax.examples import train_mlp  # noqa: E402


def test_trains_digits_to_97_percent(capsys):
    acc = train_mlp.main(['--epochs', '10', '--quiet'])
    out = capsys.readouterr().out
    assert acc >= 0.97, out
    assert 'final test accuracy' in out and 'time per step' in out


def test_checkpoint_round_trip_and_resume(tmp_path, capsys):
    path = str(tmp_path / 'ckpt.npz')
    train_mlp.main(['--epochs', '3', '--hidden', '64', '--quiet', '--save', path])
    tree = ({'w': jnp.ones((2, 3)), 'b': jnp.arange(3)}, [jnp.zeros(()), jnp.asarray(5)])
    p2 = str(tmp_path / 'tree.npz')
    checkpoint.save(p2, tree, epoch=3)
    loaded, meta = checkpoint.load(p2, tree)
    assert meta == {'epoch': 3}
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(tree)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    acc = train_mlp.main(['--epochs', '6', '--hidden', '64', '--quiet', '--resume', path])
    assert 'resumed from' in capsys.readouterr().out
    assert acc > 0.9


def test_bad_checkpoints_are_refused(tmp_path):
    tree = {'w': jnp.ones((2, 3))}
    path = str(tmp_path / 'c.npz')
    checkpoint.save(path, tree)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(checkpoint.CheckpointError, match='truncated or corrupt'):
        checkpoint.load(path, tree)
    checkpoint.save(path, tree)
    with pytest.raises(checkpoint.CheckpointError, match='expects'):
        checkpoint.load(path, {'w': jnp.ones((3, 3))})
    with pytest.raises(checkpoint.CheckpointError, match='tree'):
        checkpoint.load(path, {'v': jnp.ones((2, 3))})
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.ckpt-')]


def _single_and_parallel(epochs, *flags):
    """The trainer on one device and with `flags` over 4 CPU devices, same seed. Full
    float32 matmuls: on a GPU, TF32 rounding lets the two runs drift apart."""
    common = ['--epochs', str(epochs), '--hidden', '64', '--quiet', '--seed', '1']
    jax.config.update('jax_num_cpu_devices', 4)
    with jax.default_matmul_precision('highest'):
        try:
            return train_mlp.train(common), train_mlp.train(common + list(flags))
        finally:
            jax.config.update('jax_num_cpu_devices', 1)


def test_data_parallel_matches_single_device(capsys):
    # pmean of the shards' gradients is the gradient of the whole batch: the same curve.
    one, four = _single_and_parallel(3, '--devices', '4')
    np.testing.assert_allclose(four['history']['loss'], one['history']['loss'], rtol=1e-3)
    for a, b in zip(jax.tree_util.tree_leaves(four['params']), jax.tree_util.tree_leaves(one['params'])):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    assert abs(one['test_acc'] - four['test_acc']) < 0.01


def test_mesh_data_parallel_matches_single_device():
    # --mesh data=4: one jit step on a batch split over a mesh axis, parameters replicated;
    # the partitioned step all-reduces the gradients, so the curve is the single device's.
    one, mesh = _single_and_parallel(2, '--mesh', 'data=4')
    np.testing.assert_allclose(mesh['history']['loss'], one['history']['loss'], rtol=1e-4)
    for a, b in zip(jax.tree_util.tree_leaves(mesh['params']),
                    jax.tree_util.tree_leaves(one['params'])):
        assert a.sharding.spec == jax.P() and len(a.addressable_shards) == 4
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(SystemExit, match='data=N'):
        train_mlp.train(['--epochs', '1', '--mesh', 'model=2'])


def test_runs_as_module_with_plot(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, TINYJAX_PLATFORM='cpu')
    env['PYTHONPATH'] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(jax.__file__)), env.get('PYTHONPATH', '')])
    png = str(tmp_path / 'curves.png')
    r = subprocess.run([sys.executable, '-m', 'tinyjax.examples.train_mlp', '--epochs', '2',
                        '--hidden', '32', '--plot', png], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'final test accuracy' in r.stdout and 'steps/s' in r.stdout and 'cpu' in r.stdout
    pytest.importorskip('matplotlib')
    assert os.path.getsize(png) > 1000
