"""ncutils.runs.store: records are checked when read; a bad one is named, moved aside and recomputed."""

from __future__ import annotations

import json
import re

import pytest

from ncutils.runs import Grid, ResultStore, run_grid
from tests.runs.tasks import demo_task

CONFIG = {"start": 3, "steps": 5}


def _stored(tmp_path) -> tuple[ResultStore, str, Grid]:
    store = ResultStore(tmp_path / "store")
    grid = Grid("g", demo_task, [CONFIG])
    first = run_grid(grid, store=store, client="serial", progress=False)
    assert first.records[0]["status"] == "ok"
    return store, store._file(ResultStore.folder(grid.task), first.records[0]["key"]), grid


@pytest.mark.parametrize("damage,problem", [
    (lambda text: text[: len(text) // 2], "is not valid JSON"),
    (lambda text: "", "is not valid JSON"),
    (lambda text: "{}", "lacks the field(s)"),
    (lambda text: "[1, 2]", "holds a list"),
    (lambda text: json.dumps({**json.loads(text), "key": "0123456789abcdef-0123456789abcdef"}), "another run"),
    (lambda text: json.dumps({**json.loads(text), "config": {"start": 4, "steps": 5}}), "does not match its key"),
    (lambda text: json.dumps({**json.loads(text), "status": "ok", "result": None}), "with no result"),
    (lambda text: json.dumps({**json.loads(text), "status": "lost"}), "has status 'lost'"),
])
def test_a_bad_record_is_named_moved_aside_and_recomputed(tmp_path, damage, problem) -> None:
    store, path, grid = _stored(tmp_path)
    original = json.loads(open(path).read())
    with open(path, "w") as f:
        f.write(damage(json.dumps(original)))
    with pytest.warns(UserWarning, match=re.escape(problem)) as caught:
        again = run_grid(grid, store=store, client="serial", progress=False)
    assert path in str(caught[0].message) and "moved to" in str(caught[0].message)
    record = again.records[0]
    assert record["status"] == "ok" and not record["from_store"] and record["result"]["x"] == original["result"]["x"]
    assert len(list((tmp_path / "store").rglob("*.bad-*"))) == 1  # kept for inspection, out of the way
    assert json.loads(open(path).read())["result"]["x"] == original["result"]["x"]  # a good record in its place


def test_a_record_copied_from_another_run_is_not_served(tmp_path) -> None:
    store = ResultStore(tmp_path / "store")
    grid = Grid("g", demo_task, [CONFIG, {"start": 4, "steps": 5}])
    first = run_grid(grid, store=store, client="serial", progress=False)
    a, b = (store._file(ResultStore.folder(grid.task), r["key"]) for r in first.records)
    with open(a, "w") as f, open(b) as g:
        f.write(g.read())
    with pytest.warns(UserWarning, match="another run"):
        again = run_grid(grid, store=store, client="serial", progress=False)
    assert [r["result"]["x"] for r in again.records] == [r["result"]["x"] for r in first.records]


def test_failed_records_are_retried_on_request_only(tmp_path) -> None:
    store, path, grid = _stored(tmp_path)
    record = json.loads(open(path).read())
    with open(path, "w") as f:
        json.dump({**record, "status": "failed", "result": None, "error": "RuntimeError: a passing fault"}, f)
    kept = run_grid(grid, store=store, client="serial", progress=False)
    assert kept.records[0]["status"] == "failed" and kept.records[0]["from_store"]
    retried = run_grid(grid, store=store, client="serial", progress=False, retry_failed=True)
    assert retried.records[0]["status"] == "ok" and not retried.records[0]["from_store"]
    assert run_grid(grid, store=store, client="serial", progress=False).records[0]["from_store"]
