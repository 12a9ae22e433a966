import fmnist_tiny
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_layer(batch=8, n_in=30, n_out=5, scale=0.4, dtype=torch.float64, positive=False, generator=None):
    t = torch.rand(batch, n_in, dtype=dtype, generator=generator)
    if positive:
        w = torch.rand(n_out, n_in, dtype=dtype, generator=generator) * scale
    else:
        w = torch.randn(n_out, n_in, dtype=dtype, generator=generator) * scale
    return t, w


@pytest.fixture(scope="session")
def tiny_fmnist(tmp_path_factory):
    """A generated Fashion-MNIST stand-in (canonical file names and sizes; see :mod:`fmnist_tiny`)."""
    return fmnist_tiny.session_dataset(tmp_path_factory)


@pytest.fixture(scope="session")
def ray2():
    """ONE 2-CPU local Ray cluster for the whole session (its start is most of a Ray test's cost), stopped at the
    end; skipped without the cluster extra."""
    ray = pytest.importorskip("ray", reason="the cluster extra (pip install imcpnn[cluster]) is not installed")
    from imcpnn import executor

    started = executor.connect_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def one_thread():
    """One torch thread for the test (training results are compared bit for bit)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def isolated_runs(tmp_path, monkeypatch, one_thread):
    """Profile outputs under tmp_path, one torch thread, no IMCPNN_RECOMPUTE from the caller."""
    from imcpnn.repro import cache, profiles

    monkeypatch.setattr(profiles, "repo_root", lambda: tmp_path)
    monkeypatch.delenv(cache.ENV_RECOMPUTE, raising=False)
    return tmp_path
