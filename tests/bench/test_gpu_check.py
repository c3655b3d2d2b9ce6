"""bench.gpu_check: the GPU script's own check on the CPU (``--device cpu --tiny``), and its bad input."""

from __future__ import annotations

import json

import pytest

from bench import gpu_check


def test_tiny_run_on_the_cpu_records_every_step(tmp_path) -> None:
    data = tmp_path / "mnist5k.npz"
    assert gpu_check.main(["--prepare-data", str(data)]) == 0
    out = tmp_path / "out"
    assert gpu_check.main(["--device", "cpu", "--tiny", "--epochs", "1", "--data", str(data), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {name: step["status"] for name, step in summary["steps"].items()} == {"tests": "ok", "bench": "ok", "a06": "ok"}
    assert "skipped" in summary["steps"]["tests"]["pytest"]  # no CUDA here: collected, then skipped
    assert [row["implementation"] for row in summary["steps"]["bench"]["rows"]] == ["ncutils.empirical_ntk"]
    assert (out / "bench" / "empirical_ntk_quick.csv").exists()
    a06 = summary["steps"]["a06"]
    assert len(a06["probe_seconds"]) == 2 and all(s > 0 for s in a06["probe_seconds"])  # epochs 0 and 1
    assert a06["train_seconds"][1] > 0
    assert (out / "a06_history.csv").exists() and "step a06: ok" in (out / "log.txt").read_text()


def test_a_failing_step_is_recorded_and_the_script_says_so(tmp_path) -> None:
    out = tmp_path / "out"
    code = gpu_check.main(["--device", "cpu", "--tiny", "--steps", "a06", "--data", str(tmp_path / "absent.npz"),
                           "--out", str(out)])
    assert code == 1
    step = json.loads((out / "summary.json").read_text())["steps"]["a06"]
    assert step["status"] == "failed" and "--prepare-data" in step["error"]


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cpu"])  # no --out
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cpu", "--out", str(tmp_path), "--steps", "tests,nope"])
