"""The one compute-or-load helper (imcpnn.repro.cache): a result is reused only when config, code fingerprint and
data identity all match. A source edit (in a temporary copy of the package) and a data swap each miss."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import imcpnn
from imcpnn.repro import cache, profiles
from imcpnn.repro.profiles import OutputDirs

PROBE = """
import json
from imcpnn.store.fingerprint import code_fingerprint
from imcpnn.repro import cache
calls = []
def compute():
    calls.append(1)
    return {"value": 42}
res = cache.compute_or_load("probe", {"a": 1}, compute, profile="quick")
print(json.dumps({"fingerprint": code_fingerprint(), "key": cache.key_for("probe", {"a": 1}).digest(),
                  "computed": bool(calls), "result": res, "module": cache.__file__}))
"""


@pytest.fixture()
def runs(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "output_dirs", lambda p: OutputDirs(tmp_path, tmp_path, tmp_path / "runs" / p))
    monkeypatch.delenv(cache.ENV_RECOMPUTE, raising=False)
    return tmp_path / "runs"


class Counter:
    def __init__(self, value=None):
        self.calls, self.value = 0, value

    def __call__(self):
        self.calls += 1
        return self.value if self.value is not None else {"n": self.calls}


def test_hit_when_nothing_changed(runs):
    c = Counter()
    first = cache.compute_or_load("k", {"a": 1}, c, profile="quick")
    again = cache.compute_or_load("k", {"a": 1}, c, profile="quick")
    assert c.calls == 1 and first == again == {"n": 1}
    cache.compute_or_load("k", {"a": 2}, c, profile="quick")  # another config misses
    assert c.calls == 2


def test_source_edit_in_a_copy_changes_the_fingerprint_and_misses(tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(Path(imcpnn.__file__).parent, root / "imcpnn", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(root), "IMCPNN_THREADS": "1"}
    env.pop(cache.ENV_RECOMPUTE, None)

    def probe() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=root, env=env, capture_output=True, text=True, timeout=300, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = probe()
    assert Path(first["module"]).is_relative_to(root)  # the copy, not the checkout, was imported
    assert first["computed"] is True and first["result"] == {"value": 42}
    second = probe()
    assert second["computed"] is False and second["fingerprint"] == first["fingerprint"]  # unchanged code: hit
    src = root / "imcpnn" / "_impl" / "dstd.py"
    src.write_text(src.read_text() + "\n# an edit\n")
    third = probe()
    assert third["fingerprint"] != first["fingerprint"] and third["key"] != first["key"]
    assert third["computed"] is True  # the edited code misses the old entry


def test_swapped_data_misses(runs):
    c = Counter()
    a, b = torch.arange(10.0), torch.arange(10.0).flip(0)
    assert cache.data_digest(a) != cache.data_digest(b)
    assert cache.data_digest(a) == cache.data_digest(a.clone())
    cache.compute_or_load("train", {"lr": 0.1}, c, profile="quick", data=cache.data_digest(a))
    cache.compute_or_load("train", {"lr": 0.1}, c, profile="quick", data=cache.data_digest(a.clone()))
    assert c.calls == 1
    cache.compute_or_load("train", {"lr": 0.1}, c, profile="quick", data=cache.data_digest(b))
    assert c.calls == 2
    assert cache.data_digest(a) != cache.data_digest(a.double())  # same values, other dtype: other data


def test_corrupt_entry_is_recomputed(runs):
    c = Counter()
    cache.compute_or_load("k", {"a": 1}, c, profile="quick")
    folder = cache.entry_dir(cache.key_for("k", {"a": 1}), "quick")
    (folder / "result.json").write_text("{truncated")
    assert cache.compute_or_load("k", {"a": 1}, c, profile="quick") == {"n": 2}
    assert json.loads((folder / "result.json").read_text())["result"] == {"n": 2}
    (folder / "key.json").write_text(json.dumps({"kind": "k", "config": {"a": 999}}))  # key of another entry
    assert cache.compute_or_load("k", {"a": 1}, c, profile="quick") == {"n": 3}


def test_recompute_flag_and_env(runs, monkeypatch):
    c = Counter()
    cache.compute_or_load("k", {}, c, profile="quick")
    cache.compute_or_load("k", {}, c, profile="quick", recompute=True)
    monkeypatch.setenv(cache.ENV_RECOMPUTE, "1")
    cache.compute_or_load("k", {}, c, profile="quick")
    assert c.calls == 3


def test_device_is_part_of_the_key():
    assert cache.key_for("k", {}, device="cpu").digest() != cache.key_for("k", {}, device="cuda").digest()
    with pytest.raises(ValueError, match="kind"):
        cache.key_for("a/b", {})
