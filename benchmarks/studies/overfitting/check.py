"""Does the report's overfitting note fire where a long cycle over-trains, and stay
silent where training is fine?

For each (setting, long budget) below, every grid max_lr of the suite setting and seeds
0-1: one 1cycle fit with the setting's validation split as the Trainer's val_loader,
then ``onecycle.overfitting.detect`` on its epoch records, and the test headline. A
note that fires should come with a test headline worse than the best of the grid at
that budget; a silent one on runs that are at the grid's best. Writes
``results/check.{md,json}``. Run from the repository root:

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.studies.overfitting.check
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import torch
from benchmarks.suite.settings import SETTINGS
from benchmarks.suite.trial import build, bundle

from onecycle import Trainer
from onecycle._io import write_json_atomic, write_text_atomic
from onecycle.overfitting import detect

CASES = (("mlp-diabetes", 20), ("mlp-diabetes", 80), ("mlp-digits-dropout", 10),
         ("cnn1d-mnist1d", 10))
SEEDS = (0, 1)
OUT = Path(__file__).parent / "results"


def run(name: str, epochs: int, seed: int, lr: float) -> dict:
    s = SETTINGS[name]
    model, opt, train, test, task = build(s, seed, lr / 10)
    _tr, val, _te = bundle(s).loaders(s.batch_size, seed=seed)
    t = Trainer(model, task.loss_fn, opt, train, val_loader=val, step_fn=task.step_fn,
                metrics=dict(task.metrics), progress=False, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = t.fit_one_cycle(epochs, max_lr=lr)
    ev = t.evaluate(test)
    score = task.score(ev.pop("loss"), ev)
    o = None if h.meta.get("diverged") else detect([r["val_loss"] for r in h.records],
                                                   [r["train_loss"] for r in h.records])
    return {"setting": name, "epochs": epochs, "seed": seed, "lr": lr, "test": score,
            "higher_is_better": task.higher_is_better, "fires": o is not None,
            "rise": None if o is None else o.rise,
            "low_epochs": None if o is None else [o.first + 1, o.last + 1]}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for name, epochs in CASES:
        for seed in SEEDS:
            for lr in SETTINGS[name].grid:
                t0 = time.perf_counter()
                rows.append(run(name, epochs, seed, lr))
                print(name, epochs, seed, f"{lr:.3g}", rows[-1]["fires"],
                      f"{rows[-1]['test']:.4f}", f"{time.perf_counter() - t0:.1f}s",
                      file=sys.stderr, flush=True)
    OUT.mkdir(exist_ok=True)
    write_json_atomic(OUT / "check.json", rows)
    write_text_atomic(OUT / "check.md", _table(rows))
    print(_table(rows))


def _table(rows: list[dict]) -> str:
    lines = ["| setting | epochs | seed | max_lr | test | note | rise | lowest epochs |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rise = "" if r["rise"] is None else f"{100 * r['rise']:.0f} %"
        low = "" if r["low_epochs"] is None else "-".join(map(str, r["low_epochs"]))
        lines.append(f"| {r['setting']} | {r['epochs']} | {r['seed']} | {r['lr']:.3g} | "
                     f"{r['test']:.4f} | {'fires' if r['fires'] else '-'} | {rise} | {low} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
