"""Run many independent trials, in parallel worker processes, resumable from a cache.

A trial is a JSON-plain dict (its own description is its cache key); the function that
runs it is named by ``"module:function"`` so worker processes can import it. Results are
appended to a JSON-lines cache as they finish, so an interrupted benchmark loses at most
the trials in flight and ``--resume`` (the default) skips everything already in the cache.
Workers use one torch thread each and ``OMP_WAIT_POLICY=PASSIVE``: on a shared 2-core
machine two 1-thread processes beat one 2-thread process.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Trial = dict[str, Any]


def key(trial: Trial) -> str:
    return json.dumps(trial, sort_keys=True, separators=(",", ":"))


def _recorded_seconds(rec: dict[str, Any]) -> float | None:
    """A record's run time: its own field, else the time a result says it took (records
    written before the field existed)."""
    if isinstance(rec.get("seconds"), (int, float)):
        return float(rec["seconds"])
    res = rec.get("result")
    meta = res.get("meta") if isinstance(res, dict) else None
    wall = meta.get("wall_time_s") if isinstance(meta, dict) else None
    return float(wall) if isinstance(wall, (int, float)) else None


class Cache:
    """Append-only JSON-lines store of ``{"trial": ..., "result": ..., "seconds": ...}``
    records; :meth:`spent` sums the run times of the trials this invocation asked for,
    cached ones included, so a result file can say what it cost in all."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.done: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.asked: set[str] = set()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: that trial reruns
                    continue
                k = key(rec["trial"])
                self.done[k] = rec["result"]
                sec = _recorded_seconds(rec)
                if sec is not None:
                    self.seconds[k] = sec

    def spent(self) -> dict[str, Any]:
        """``{"trials", "seconds", "unrecorded"}`` over the trials asked for so far."""
        known = [self.seconds[k] for k in self.asked if k in self.seconds]
        return {"trials": len(self.asked), "seconds": sum(known),
                "unrecorded": len(self.asked) - len(known)}

    def get(self, trial: Trial) -> Any:
        return self.done.get(key(trial))

    def __contains__(self, trial: Trial) -> bool:
        return key(trial) in self.done

    def add(self, trial: Trial, result: Any, seconds: float | None = None) -> None:
        k = key(trial)
        self.done[k] = result
        rec = {"trial": trial, "result": result}
        if seconds is not None:
            self.seconds[k] = rec["seconds"] = float(seconds)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(rec, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def _init_worker() -> None:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch

    torch.set_num_threads(1)


def _call(item: tuple[str, Trial]) -> tuple[Trial, Any, float]:
    target, trial = item
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    t0 = time.perf_counter()
    result = fn(trial)
    return trial, result, time.perf_counter() - t0


def run_all(target: str, trials: Iterable[Trial], cache: Cache, *, workers: int = 2,
            say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every trial not in ``cache`` with ``target`` (``"module:function"``); return
    ``{key(trial): result}`` for all of them."""
    todo, seen = [], set()
    all_trials = list(trials)
    cache.asked.update(key(t) for t in all_trials)
    for t in all_trials:
        k = key(t)
        if k not in cache.done and k not in seen:
            todo.append(t)
            seen.add(k)
    say = say or (lambda m: print(m, file=sys.stderr, flush=True))
    if todo:
        say(f"{target}: {len(todo)} trials to run ({len(all_trials) - len(todo)} cached), "
            f"{workers} worker(s)")
    t_start = time.perf_counter()
    items = [(target, t) for t in todo]
    if workers <= 1 or len(todo) <= 1:
        _init_worker()
        results = map(_call, items)
        _drain(results, cache, len(todo), t_start, say)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            _drain(pool.imap_unordered(_call, items), cache, len(todo), t_start, say)
    return {key(t): cache.get(t) for t in all_trials}


def _drain(results: Iterable[tuple[Trial, Any, float]], cache: Cache, n: int, t0: float,
           say: Callable[[str], None]) -> None:
    last = time.perf_counter()
    for i, (trial, result, dt) in enumerate(results, 1):
        cache.add(trial, result, dt)
        now = time.perf_counter()
        if now - last > 30 or i == n:
            left = (now - t0) / i * (n - i)
            say(f"  {i}/{n} trials done, {now - t0:.0f} s so far, about {left:.0f} s left")
            last = now
