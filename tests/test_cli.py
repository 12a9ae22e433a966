"""The command line (imcpnn/cli.py, dispatched by imcpnn/__main__.py): every bad input ends with a non-zero
status and ONE line on stderr that names the flag or file, never a traceback; the default run folder is keyed
by config, code and data.

The bad-input cases run as real subprocesses (``python -m imcpnn train ...``), all started at once, on a
synthetic Fashion-MNIST-format data folder (all-zero images; no download, no real data needed).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from imcpnn import cli, train
from imcpnn.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"train": 60000, "t10k": 10000}
BASE = [
    "train",
    "--epochs",
    "1",
    "--train-subset",
    "32",
    "--test-subset",
    "8",
    "--batch-size",
    "16",
    "--test-steps",
    "3",
    "--width",
    "0.05",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--no-progress",
]


def write_fake_fmnist(folder: Path, *, images_as_dir: bool = False) -> Path:
    """Fashion-MNIST's four IDX .gz files with all-zero images and labels 0..9 (the real sizes)."""
    d = folder / "fashion-mnist"
    d.mkdir(parents=True)
    for split, n in SIZES.items():
        img = d / f"{split}-images-idx3-ubyte.gz"
        if images_as_dir and split == "train":
            img.mkdir()
        else:
            with gzip.open(img, "wb", compresslevel=1) as f:
                f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(n * 784))
        with gzip.open(d / f"{split}-labels-idx1-ubyte.gz", "wb", compresslevel=1) as f:
            f.write(struct.pack(">II", 0x801, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
    return folder


def _swap(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, str]]:
    """Every bad-input case, run concurrently: name -> (result, what stderr must name)."""
    tmp = tmp_path_factory.mktemp("cli")
    data = write_fake_fmnist(tmp / "data")
    gz_dir = write_fake_fmnist(tmp / "data_gz_dir", images_as_dir=True)
    (tmp / "a_file").write_text("not a folder")
    corrupt = tmp / "corrupt_run"
    corrupt.mkdir()
    (corrupt / "checkpoint.pt").write_bytes(b"\x80\x04garbage")
    if os.geteuid() == 0:  # root writes into any folder: use one that cannot be created
        read_only = Path("/proc/imcpnn_cli_test")
    else:
        read_only = tmp / "read_only"
        read_only.mkdir(mode=0o555)
    out = str(tmp / "run")
    cases = {
        "missing data": (BASE + ["--out", out], {"IMCPNN_DATA": str(tmp / "nowhere")}, "train-images-idx3-ubyte"),
        ".gz path is a directory": (BASE + ["--out", out], {"IMCPNN_DATA": str(gz_dir)}, "train-images-idx3-ubyte"),
        "--out is a file": (BASE + ["--out", str(tmp / "a_file")], {}, "--out"),
        "--out read-only": (BASE + ["--out", str(read_only / "run")], {}, "--out"),
        "--out ''": (BASE + ["--out", ""], {}, "--out"),
        "--device mps": (_swap(BASE, "--device", "mps") + ["--out", out], {}, "--device"),
        "--device meta": (_swap(BASE, "--device", "meta") + ["--out", out], {}, "--device"),
        "corrupt checkpoint": (BASE + ["--out", str(corrupt)], {}, str(corrupt / "checkpoint.pt")),
        "--train-subset 0": (_swap(BASE, "--train-subset", "0") + ["--out", out], {}, "--train-subset"),
        "--train-subset too large": (_swap(BASE, "--train-subset", "60001") + ["--out", out], {}, "--train-subset"),
        "--test-subset too large": (_swap(BASE, "--test-subset", "10001") + ["--out", out], {}, "--test-subset"),
        "--erev 1e-40": (BASE + ["--erev", "1e-40", "--out", out], {}, "--erev"),
    }
    env0 = {
        **os.environ,
        "IMCPNN_DATA": str(data),
        "IMCPNN_CACHE": str(tmp / "cache"),
        "IMCPNN_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    with pytest.MonkeyPatch.context() as mp:  # decode the fake data once; the subprocesses read the cache
        mp.setenv("IMCPNN_CACHE", env0["IMCPNN_CACHE"])
        from imcpnn import data as data_module

        for split in ("train", "test"):
            data_module.load_fashion_mnist(split, root=data, download=False)
    procs = {}
    for name, (args, env, named) in cases.items():
        cwd = tmp / f"cwd_{len(procs)}"
        cwd.mkdir()
        p = subprocess.Popen(
            [sys.executable, "-m", "imcpnn", *args],
            cwd=cwd,
            env={**env0, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs[name] = (p, named, cwd)
    results = {}
    for name, (p, named, cwd) in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        results[name] = (subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), named, cwd)
    return results


@pytest.mark.parametrize(
    "case",
    [
        "missing data",
        ".gz path is a directory",
        "--out is a file",
        "--out read-only",
        "--out ''",
        "--device mps",
        "--device meta",
        "corrupt checkpoint",
        "--train-subset 0",
        "--train-subset too large",
        "--test-subset too large",
        "--erev 1e-40",
    ],
)
def test_bad_input_is_one_line_naming_the_flag_or_file(bad_runs, case):
    r, named, cwd = bad_runs[case]
    lines = r.stderr.strip().splitlines()
    assert r.returncode not in (0, None), (case, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("imcpnn") and named in lines[0], lines[0]
    assert r.stdout == "" and list(cwd.iterdir()) == [], "a failed command must not write into the cwd"


def test_specific_messages(bad_runs):
    assert "1e-06" in bad_runs["--erev 1e-40"][0].stderr  # the allowed range, not a NaN further down
    assert "at most 60000" in bad_runs["--train-subset too large"][0].stderr
    assert "delete" in bad_runs["corrupt checkpoint"][0].stderr
    assert bad_runs["corrupt checkpoint"][0].returncode == 1 and bad_runs["--out ''"][0].returncode == 2


@pytest.mark.parametrize(
    "args, named",
    [
        (["report"], "invalid choice: 'report'"),
        (["train", "--lr", "nan"], "argument --lr"),
        (["train", "--test-subset", "0"], "argument --test-subset"),
        (["train", "--threads", "0"], "argument --threads"),
        (["train", "--device", "cuda:x"], "argument --device"),
        (["train", "--erev", "4,1"], "argument --erev"),
    ],
)
def test_flag_errors_in_process_are_one_line(args, named, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and named in err[0], err


def test_the_cli_does_not_import_the_reproduction_harness():
    code = (
        "import sys, imcpnn.cli as m; m.build_parser()\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith('imcpnn.repro'))))"
    )
    r = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    assert json.loads(r.stdout) == []
    assert "imcpnn.repro" not in (ROOT / "imcpnn" / "cli.py").read_text().replace("python -m imcpnn.repro.report", "")


def test_default_run_folder_is_keyed_by_config_code_and_data(monkeypatch):
    from imcpnn.store import fingerprint

    c = TrainConfig(train_subset=32, test_subset=8)
    data = tuple(torch.zeros(4, 1, 28, 28) if i % 2 == 0 else torch.zeros(4, dtype=torch.long) for i in range(4))
    other = (data[0] + 1, *data[1:])
    a = cli._default_out(c, data, "cpu")
    assert a.parent == Path("runs") / "cli" and a == cli._default_out(c, data, "cpu")
    assert cli._default_out(c.replace(lr=1e-3), data, "cpu") != a
    assert cli._default_out(c, other, "cpu") != a
    monkeypatch.setattr(fingerprint, "_source_digest", lambda: "edited source")
    assert cli._default_out(c, data, "cpu") != a


def test_a_good_run_writes_only_its_folder(tmp_path, monkeypatch, capsys):
    data = write_fake_fmnist(tmp_path / "data")
    monkeypatch.setenv("IMCPNN_DATA", str(data))
    monkeypatch.setenv("IMCPNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    old = torch.get_num_threads()
    try:
        assert cli.main(BASE) == 0
    finally:
        torch.set_num_threads(old)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    out = Path(summary["out"])
    assert out.parent == Path("runs") / "cli" and (tmp_path / out / "checkpoint.pt").exists()
    config = TrainConfig.from_dict(json.loads((tmp_path / out / "config.json").read_text()))
    assert out == cli._default_out(config, train.load_data(config), "cpu")  # config + code + data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "data", "runs"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["train", "--erev", "2.8,-1.53"], "argument --erev"),
        (["sweep", "--erev", "4,2.8,-1.53", "--out", "unused"], "argument --erev"),
    ],
)
def test_the_old_asymmetric_spelling_fails_clearly(argv, flag, capsys):
    """One syntax for an asymmetric E in train and sweep: E+:E-. The old comma spelling names the new one."""
    from imcpnn.__main__ import main

    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2 and len(err) == 1, err
    assert flag in err[0] and "2.8:-1.53" in err[0] and "E+:E-" in err[0], err[0]


def test_train_and_sweep_read_the_same_asymmetric_spelling():
    from imcpnn import sweep
    from imcpnn.functional import format_erev, parse_erev

    args = cli.build_parser().parse_args(["train", "--erev", "2.8:-1.53"])
    assert args.erev == (2.8, -1.53)
    parser, actions = sweep.build_parser()
    configs = sweep.configs_from_args(parser.parse_args(["--erev", "4,2.8:-1.53", "--out", "x"]), actions)
    assert [c.e_rev for c in configs] == [4.0, (2.8, -1.53)]
    for e in (4.0, math.inf, (2.8, -1.53)):
        assert parse_erev(format_erev(e)) == e
