"""The run store's keys and entries (imcpnn.store.runs): reuse only when kind, config, code and data all match."""

import json

import pytest

from imcpnn.store import fingerprint, runs


def test_the_key_names_everything_a_result_depends_on(monkeypatch):
    k = runs.run_key("train", {"lr": 1e-4}, data="d1")
    assert k.digest() == runs.run_key("train", {"lr": 1e-4}, data="d1").digest()
    others = [
        runs.run_key("sweep", {"lr": 1e-4}, data="d1"),
        runs.run_key("train", {"lr": 1e-3}, data="d1"),
        runs.run_key("train", {"lr": 1e-4}, data="d2"),
        runs.run_key("train", {"lr": 1e-4}, data="d1", device="cuda"),
    ]
    assert len({k.digest(), *(o.digest() for o in others)}) == 5
    monkeypatch.setattr(runs, "code_fingerprint", lambda device="cpu": "other code")
    assert runs.run_key("train", {"lr": 1e-4}, data="d1").digest() != k.digest()
    assert k.code == fingerprint.code_fingerprint("cpu")


@pytest.mark.parametrize("kind", ["", "a/b", None])
def test_bad_kinds_are_refused(kind):
    with pytest.raises(ValueError, match="kind"):
        runs.run_key(kind, {})


def test_compute_or_load_reuses_only_a_matching_entry(tmp_path):
    calls = []

    def compute(v):
        def f():
            calls.append(v)
            return {"v": v}

        return f

    key = runs.run_key("square", {"x": 3})
    folder = tmp_path / key.digest()
    assert runs.compute_or_load(folder, key, compute(1)) == {"v": 1}
    assert runs.compute_or_load(folder, key, compute(2)) == {"v": 1} and calls == [1]
    assert runs.compute_or_load(folder, key, compute(3), recompute=True) == {"v": 3}
    other = runs.run_key("square", {"x": 4})
    assert runs.compute_or_load(folder, other, compute(4)) == {"v": 4}  # a foreign key in the folder: recomputed
    assert runs.key_matches(folder, other) and not runs.key_matches(folder, key)
    (folder / "result.json").write_text("{broken")
    assert runs.compute_or_load(folder, other, compute(5)) == {"v": 5}
    assert json.loads((folder / "result.json").read_text())["key"] == other.as_dict()
    assert calls == [1, 3, 4, 5]
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_claim_records_the_key_once(tmp_path):
    key = runs.run_key("train", {"seed": 0})
    folder = runs.claim(tmp_path / "run", key)
    stamp = (folder / "key.json").stat().st_mtime_ns
    assert runs.claim(folder, key) == folder and (folder / "key.json").stat().st_mtime_ns == stamp
    assert runs.key_matches(folder, key)
