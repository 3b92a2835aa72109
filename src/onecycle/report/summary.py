"""What ``onecycle run`` writes: the summary built from the steps' results, and every
artefact next to it, each written atomically (a failed write leaves the previous file).

:class:`RunFacts` is what the run found (the steps' results as they came back);
:func:`summarize` turns it into the ``summary.json`` dict the HTML page reads
(:mod:`onecycle.report.html` lists its keys), and :func:`write_run` writes
``config.toml``, the histories, ``finder.json``, ``weight_decay.json``, the figures,
``summary.json`` and ``report.html``.

Example:
    >>> sorted(SUMMARY_KEYS)[:4]
    ['baseline_momentum', 'baseline_rule', 'batch_size', 'command']
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._format import fmt_lr

__all__ = ["RunFacts", "summarize", "write_run", "headline_numbers", "SUMMARY_KEYS"]

#: the top-level keys of a run's summary
SUMMARY_KEYS = (
    "name", "created", "versions", "device", "threads", "seed", "dataset", "model", "epochs",
    "batch_size", "steps_per_epoch", "total_steps", "max_lr", "finder", "weight_decay",
    "schedule", "runs", "baseline_rule", "baseline_momentum", "notes", "command", "task",
)


@dataclass
class RunFacts:
    """What a run found, step by step (see :func:`onecycle.pipeline.run`).

    ``first`` is the first range test (None: max_lr was given), ``choice`` the weight
    decay search (None: fixed by the configuration), ``max_lr`` the record of the peak
    LR (value, source, the pick's range/confidence/reason), ``curve`` the range test
    shown in the report, ``plan`` the 1cycle trained, ``cycle``/``baseline`` the
    trainings, ``started`` the run's ``time.perf_counter()`` at the start.
    """

    config: Any
    setup: Any
    first: Any
    weight_decay: float
    choice: Any
    max_lr: dict[str, Any]
    curve: Any
    plan: Any
    cycle: Any
    baseline: Any
    baseline_rule: str | None
    notes: list[str]
    command: str
    started: float

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch of the training loader."""
        return len(self.setup.loaders[0])

    @property
    def curve_weight_decay(self) -> float:
        """The weight decay the shown range test ran at: the first test's, or the chosen
        value's when the curve is the weight-decay search's."""
        if self.first is not None and self.curve is self.first.curve:
            wd = self.first.weight_decay
            return self.weight_decay if wd is None else wd
        return self.weight_decay

    def schedule(self) -> Any:
        """The :class:`~onecycle.schedule.OneCycleSchedule` the 1cycle run followed."""
        from ..schedule import OneCycleSchedule

        return OneCycleSchedule(self.plan.epochs * self.steps_per_epoch, self.plan.max_lr,
                                **self.plan.schedule)

    def resolved_config(self) -> Any:
        """The configuration with the run's choices filled in (``schedule.max_lr``,
        ``weight_decay.value`` with the search off, ``baseline.lr``): running it again
        trains the same 1cycle and baseline without the searches."""
        changes: dict[str, Any] = {"schedule.max_lr": self.plan.max_lr,
                                   "weight_decay.value": self.weight_decay,
                                   "weight_decay.check": False}
        if self.baseline is not None:
            changes["baseline.lr"] = self.baseline.lr
        return self.config.with_overrides(changes)

    @property
    def val_size(self) -> int:
        """Samples in the validation split."""
        return len(self.setup.bundle.val)

    @property
    def name(self) -> str:
        """The run's name (given, or dataset and model)."""
        cfg, s = self.config, self.setup
        if cfg.name:
            return cfg.name
        tail = "1cycle vs constant LR" if self.baseline is not None else "1cycle"
        return f"{s.bundle.name} · {s.model_name} · {tail}"


def _versions() -> dict[str, str]:
    import torch

    from .. import __version__

    return {"onecycle": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def _weight_decay_info(facts: RunFacts) -> dict[str, Any]:
    choice = facts.choice
    if choice is None:
        how = "Fixed by the configuration (weight_decay.check = false or --weight-decay)."
        return {"chosen": facts.weight_decay, "checked": False, "how": how, "rule": how}
    info = {"checked": True, **choice.record(), "wall_time": choice.wall_time}
    if info.get("confirm") is None:
        info.pop("confirm", None)
    return info


def headline_numbers(task: Any, run: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A training's ``final`` and ``best`` numbers with the task's headline added:
    ``final.val_headline``, ``final.test_headline`` and ``best.val_headline`` for every
    task, and under the headline's own name where it is not accuracy (``val_bpc``,
    ``test_rmse``, ...; classification has ``val_accuracy`` already). ``best`` is the
    best epoch by the headline's direction.

    >>> from onecycle.search import TrainedRun
    >>> from onecycle.tasks import TASKS
    >>> from onecycle.train import History
    >>> h = History(); h.add_record({"epoch": 0, "val_loss": 0.36})
    >>> final, best = headline_numbers(TASKS["regression"], TrainedRun("1cycle", h, 0.1, 1.0, {}))
    >>> round(final["val_rmse"], 3), round(best["val_headline"], 3)
    (0.6, 0.6)
    """
    final, best = dict(run.final), dict(run.best)
    values = [v for v in (task.of_record(r) for r in run.history.records) if v is not None]
    top = None if not values else max(values) if task.higher_is_better else min(values)
    heads = {"val": task.of_record(final, "val"), "test": task.of_record(final, "test")}
    for split, value in heads.items():
        final[f"{split}_headline"] = value
        if task.headline != "accuracy":
            final[f"{split}_{task.headline}"] = value
    best["val_headline"] = top
    if task.headline != "accuracy":
        best[f"val_{task.headline}"] = top
    return final, best


def _run_info(run: Any, description: str, epochs: int, task: Any) -> dict[str, Any]:
    final, best = headline_numbers(task, run)
    return {"final": final, "best": best, "wall_time": run.wall_time, "lr": run.lr,
            "description": description, "epochs": epochs}


def _schedule_info(facts: RunFacts, sched: Any) -> dict[str, Any]:
    mom = facts.plan.schedule.get("momentum")
    return {"style": sched.style, "max_lr": facts.plan.max_lr, "div": sched.div,
            "final_div": sched.final_div, "pct_start": sched.pct_start,
            "annihilate": getattr(sched, "annihilate", None),
            "momentum": list(mom) if mom else None, "total_steps": sched.total_steps,
            "spec": sched.to_dict()}


def _recovery_note(facts: RunFacts) -> str | None:
    """A caveat when the range test's loss recovered from the climb-back after the pick."""
    from ..finder.suggest import spike_recovery

    curve = facts.curve
    if curve is None or facts.max_lr.get("source") != "finder":
        return None
    rec = spike_recovery(curve.lrs, curve.losses)
    if rec is None:
        return None
    end = "blew up" if rec.blew_up else "the sweep ended"
    conf = facts.max_lr.get("confidence")
    sure = f" (confidence {conf:.2f} is about that minimum)" if conf is not None else ""
    return (f"The range test's loss climbed back at lr {fmt_lr(rec.spike_lr)}, then came down "
            f"again until lr {fmt_lr(rec.end_lr)}, where {end}. The max_lr used, "
            f"{fmt_lr(facts.plan.max_lr)}, is the minimum before that climb-back{sure}; a "
            "higher peak might train faster, and only a short run at it can tell.")


def _small_split_note(facts: RunFacts) -> str | None:
    n, task = facts.val_size, facts.setup.task
    if facts.baseline is None or not 0 < n <= 2000:
        return None
    if task.name == "classification":
        return (f"The validation split has {n} samples: one sample is {100 / n:.2g} points of "
                "accuracy, so differences of a few samples between the runs are within chance.")
    if task.name == "regression":
        return (f"The validation split has {n} samples, so its {task.label} is a noisy "
                f"estimate: a small difference between the runs may be chance; the test "
                f"{task.label} is a second opinion.")
    return None  # a language model's split counts every character it predicts


def _notes(facts: RunFacts) -> list[str]:
    notes = [n for n in (_recovery_note(facts), _small_split_note(facts)) if n]
    for label, run in (("1cycle run", facts.cycle), ("baseline", facts.baseline)):
        if run is not None and run.diverged is not None:
            notes.append(f"The {label} diverged: {run.diverged}")
    clipped = _clipping_note(facts)
    return notes + ([clipped] if clipped else []) + _overfit_notes(facts)


def _overfit_notes(facts: RunFacts) -> list[str]:
    """A note for each run whose validation loss rose well above its low
    (:func:`onecycle.overfitting.detect`)."""
    from ..overfitting import detect

    notes = []
    for label, run in (("1cycle run", facts.cycle), ("baseline", facts.baseline)):
        if run is None or run.diverged is not None:
            continue
        records = getattr(run.history, "records", None) or []
        found = detect([r.get("val_loss") for r in records],
                       [r.get("train_loss") for r in records])
        if found is None:
            continue
        notes.append(
            f"The {label} overfit: its validation loss averaged {found.low:.4g} over epochs "
            f"{found.first + 1}-{found.last + 1}, its lowest, and {found.final:.4g} over the "
            f"last {found.last - found.first + 1} epochs ({100 * found.rise:.0f} % higher), "
            f"while its training loss kept falling. A shorter cycle (about {found.last + 1} of "
            f"its {found.epochs} epochs), more weight decay or more dropout may do better: "
            "Smith's approach adds regularization until the validation loss stops rising.")
    return notes


def _clipping_note(facts: RunFacts) -> str | None:
    """How many steps gradient clipping cut in each run, when it cut any."""
    parts = []
    for label, run in (("1cycle run", facts.cycle), ("baseline", facts.baseline)):
        hist = getattr(run, "history", None)
        cut = int((getattr(hist, "meta", None) or {}).get("clipped_steps", 0) or 0)
        if cut:
            parts.append(f"{cut} of the {len(hist.lr)} steps of the {label}")
    if not parts:
        return None
    rule = facts.config.grad_clip
    how = ("spiked above 3x the median of their recent norms (grad_clip = \"auto\")"
           if rule == "auto" else f"exceeded grad_clip = {rule:g}")
    return f"Gradient clipping cut {' and '.join(parts)}: their gradient norm {how}."


def summarize(facts: RunFacts) -> dict[str, Any]:
    """The summary dict of a run (keys: :data:`SUMMARY_KEYS`)."""
    import torch

    cfg, s, plan = facts.config, facts.setup, facts.plan
    sched = facts.schedule()
    task = s.task
    runs = {"1cycle": _run_info(facts.cycle, f"1cycle, max_lr {fmt_lr(plan.max_lr)}, "
                                f"{cfg.schedule.style} style", plan.epochs, task)}
    notes = list(facts.notes) + _notes(facts)
    if facts.baseline is not None:
        runs["baseline"] = _run_info(facts.baseline, f"constant LR {fmt_lr(facts.baseline.lr)}",
                                     cfg.epochs, task)
    dataset = s.bundle.describe()
    dataset.pop("classes", None)
    return {
        "name": facts.name, "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "versions": _versions(), "device": str(s.device), "threads": torch.get_num_threads(),
        "seed": cfg.seed, "dataset": dataset,
        "model": {"name": s.model_name, "parameters": s.parameters},
        "epochs": plan.epochs, "batch_size": cfg.batch_size,
        "steps_per_epoch": facts.steps_per_epoch, "total_steps": sched.total_steps,
        "max_lr": facts.max_lr,
        "finder": facts.first.to_dict() if facts.first is not None else {"ran": False},
        "weight_decay": _weight_decay_info(facts), "schedule": _schedule_info(facts, sched),
        "runs": runs,
        "baseline_rule": facts.baseline_rule if facts.baseline is not None else None,
        "baseline_momentum": cfg.optimizer.momentum if facts.baseline is not None else None,
        "notes": notes, "command": facts.command, "task": task.describe(),
    }


def _write_artifacts(out: Path, facts: RunFacts) -> list[str]:
    from .._io import write_json_atomic

    files = ["config.toml", "history_1cycle.json"]
    facts.resolved_config().save(out / "config.toml")
    facts.cycle.history.save(out / "history_1cycle.json")
    if facts.baseline is not None:
        facts.baseline.history.save(out / "history_baseline.json")
        files.append("history_baseline.json")
    if facts.curve is not None:
        facts.curve.save(out / "finder.json")
        files.append("finder.json")
    if facts.choice is not None:
        write_json_atomic(out / "weight_decay.json", facts.choice.to_dict())
        files.append("weight_decay.json")
    return files


def write_run(out: Path, facts: RunFacts) -> tuple[Path, dict[str, Any], list[str]]:
    """Write every artefact of a run into ``out``; returns ``(report path, summary, the
    files written)``."""
    from .figures import run_figures
    from .html import write_report

    summary = summarize(facts)
    base = facts.baseline
    histories = {"1cycle": facts.cycle.history}
    if base is not None:
        histories["baseline"] = base.history
    figures = run_figures(facts.curve, facts.plan.max_lr, base.lr if base is not None else None,
                          facts.curve_weight_decay, facts.choice, facts.schedule(),
                          facts.config.schedule.style, histories, task=facts.setup.task)
    files = _write_artifacts(out, facts)
    summary["files"] = files
    summary["total_wall_time"] = time.perf_counter() - facts.started
    report = write_report(out, summary, figures, facts.resolved_config(), name=summary["name"],
                          command=summary["command"])
    for fig in figures.values():
        fig.clear()
    written = sorted(set(files) | {"report.html", "summary.json"} | {f"{k}.png" for k in figures})
    return report, summary, written
