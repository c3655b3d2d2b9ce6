"""The command line: every user mistake is one line on stderr and exit 2, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ncutils.runs import GridError, connect

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ncutils.book", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def yaml_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return str(path)


BAD = [
    (("grid", "no_such_chapter", "--dry-run"), "chapter 'no_such_chapter' runs no grid"),
    (("grid", "a01_table1", "--dry-run"), "runs no grid"),
    (("grid",), "name a chapter with an experiment"),
    (("grid", "b08_imbalanced", "--profile", "bogus"), "unknown profile 'bogus'"),
    (("grid", "b08_imbalanced", "--profile", ""), "unknown profile ''"),
    (("grid", "b08_imbalanced", "--profile"), "expected one argument"),
    (("grid", "b08_imbalanced", "--workers", "0"), "must be a positive integer, got '0'"),
    (("grid", "b08_imbalanced", "--workers", "-1"), "must be a positive integer, got '-1'"),
    (("grid", "b08_imbalanced", "--workers", "two"), "must be a positive integer, got 'two'"),
    (("grid", "b08_imbalanced", "--scheduler", "notaurl"), "cannot reach the Dask scheduler at notaurl"),
    (("grid", "b08_imbalanced", "--scheduler", "tcp://a:1", "--jobqueue", "x.yaml"), "not both"),
    (("grid", "b08_imbalanced", "--jobqueue", "missing.yaml"), "does not exist"),
    (("grid", "b08_imbalanced", "-p", "repeats=two", "--dry-run"), "expected int"),
    (("grid", "b08_imbalanced", "-p", "bogus=1", "--dry-run"), "unknown parameter 'bogus'"),
    (("run", "a01_table1", "--profile", "smoke", "-p", "n_classes="), "n_classes has no value"),
    (("run", "a01_table1", "--profile", "smoke", "-p", "m_values=[12,"), "is not valid YAML"),
    (("run", "a01_table1", "--profile", "smoke", "-p", "novalue"), "must look like knob=value"),
    (("run", "a01_table1", "--profile", "smoke", "-p", "=3"), "must look like knob=value"),
    (("run", "a01_table1", "--profile", "turbo"), "unknown profile 'turbo'"),
    (("run", "no_such_chapter", "--profile", "smoke"), "unknown chapter 'no_such_chapter'"),
    (("run",), "the following arguments are required"),
    (("build", "--profile", "smoke", "-p", "bogus_knob=1"), "no chapter has such a knob"),
    (("frobnicate",), "invalid choice"),
    (("run", "a01_table1", "--seed", "x"), "invalid int value"),
]


def assert_one_line(proc: subprocess.CompletedProcess, phrase: str) -> None:
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(err) == 1 and err[0].startswith("error:") and phrase in err[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,phrase", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_command_line_is_one_line_and_exit_2(args, phrase) -> None:
    t0 = time.perf_counter()
    assert_one_line(cli(*args), phrase)
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize("text,phrase", [
    ("kind: [slurm", "is not valid YAML"),
    ("- kind: slurm\n- jobs: 2\n", "must be a mapping"),
    ("kind: lsf\n", "'kind' must be one of"),
    ("kind: slurm\njobs: -2\n", "'jobs' must be a positive integer"),
    ("kind: slurm\ncluster: [1, 2]\n", "'cluster' must be a mapping"),
    ("kind: slurm\njobs: 1\ncluster: {cores: 1, memory: 1GB}\n", "'sbatch' is not on this machine's PATH"),
    ("kind: pbs\njobs: 1\ncluster: {cores: 1, memory: 1GB}\n", "'qsub' is not on this machine's PATH"),
])
def test_a_bad_jobqueue_file_is_one_line_before_any_job(tmp_path, text, phrase) -> None:
    assert_one_line(cli("grid", "b08_imbalanced", "--jobqueue", yaml_file(tmp_path, text), env={"PATH": "/usr/bin:/bin"}),
                    phrase)


def test_a_bad_jobqueue_keyword_is_one_line(tmp_path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "sbatch").chmod(0o755)
    path = yaml_file(tmp_path, "kind: slurm\ncluster: {cores: 1, memory: 1GB, colour: red}\n")
    assert_one_line(cli("grid", "b08_imbalanced", "--jobqueue", path, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"}),
                    "bad cluster settings")


def test_a_port_that_is_not_a_dask_scheduler_fails_in_time() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = server.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(GridError, match="did not complete the handshake|cannot reach the Dask scheduler"):
        connect(f"tcp://127.0.0.1:{port}", timeout=3)
    assert time.perf_counter() - t0 < 15
    server.close()


def test_a_diverged_run_through_the_command_line_is_recorded_as_diverged(tmp_path) -> None:
    store = tmp_path / "store"
    proc = cli("grid", "a06_ntk_block_structure", "--profile", "smoke", "-p", "lr=1e12", "-p", "epochs=2", "-p",
               "resnet={}", "--store", str(store), "--workers", "1", timeout=240)
    assert proc.returncode == 1, proc.stderr  # a run that did not finish: exit 1, recorded
    (record,) = [json.loads(p.read_text()) for p in store.rglob("*.json")]
    assert record["status"] == "diverged" and "loss is" in record["error"], record
