"""``onecycle search <what>``: the searches of :mod:`onecycle.search` from the shell.

Each target (:data:`SEARCHES`) calls one public function of :mod:`onecycle.search`
(looked up when the command runs) on the configured data and model, writes its JSON
and plot into ``--out`` and a ``config.toml`` with the choice filled in.

Example:
    >>> sorted(SEARCHES)
    ['batch-size', 'dropout', 'momentum', 'wd']
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._format import fmt_lr, fmt_num, fmt_value
from ..config import RunConfig
from .flags import Usage, allowed_imports, command_line, config_for, printer

__all__ = ["SEARCHES", "SearchSpec", "NotAvailable", "cmd_search"]


class NotAvailable(RuntimeError):
    """A command that needs a part of onecycle this installation does not have."""


@dataclass(frozen=True)
class SearchSpec:
    """One ``onecycle search`` target: what it tunes and the function that runs it."""

    label: str
    handler: Callable[[argparse.Namespace, RunConfig, Sequence[str]], int]


def _search_function(name: str, what: str) -> Callable[..., Any]:
    """``onecycle.search.<name>``, or :class:`NotAvailable` when this install lacks it."""
    try:
        mod = importlib.import_module("onecycle.search")
    except ModuleNotFoundError as err:
        if err.name != "onecycle.search":
            raise
        mod = None
    fn = getattr(mod, name, None)
    if fn is None:
        raise NotAvailable(f"'search {what}' is not available in this installation of "
                           f"onecycle (onecycle.search.{name} is missing)")
    return fn


class _Search:
    """What every search target needs: the configuration, the output folder, the
    prepared data and model, the optimizer factory, and progress."""

    def __init__(self, args: argparse.Namespace, cfg: RunConfig) -> None:
        from .._threads import torch_threads
        from ..pipeline import ensure_writable_dir, prepare

        self.cfg = cfg
        self.say = printer(cfg)
        self.out = ensure_writable_dir(cfg.out)
        self.progress = False if cfg.quiet else None
        self.threads = torch_threads(cfg.threads)
        with self.threads:
            self.setup = prepare(cfg, allow_imports=allowed_imports(args))
        self.make_opt = self.setup.optimizer_factory()
        self.train, self.val, _ = self.setup.loaders

    def task_options(self) -> dict[str, Any]:
        """The task's step and metrics for a search (its loss is ``setup.loss_fn``)."""
        return {"step_fn": self.setup.task.step_fn, "metrics": self.setup.metrics()}

    def finish(self, res: Any, stem: str, argv: Sequence[str], updates: dict[str, Any],
               data: dict[str, Any] | None = None,
               show: Callable[[Any], None] | None = None) -> int:
        """Write ``<stem>.json`` (and ``.png``) and the updated ``config.toml``; print the
        result (``show``, default: its table and choice) and what was written."""
        from .._io import save_figure, write_json_atomic

        body = data if data is not None else (res.to_dict() if hasattr(res, "to_dict") else {})
        write_json_atomic(self.out / f"{stem}.json", {**body, "command": command_line(argv)})
        wrote = [self.out / f"{stem}.json"]
        try:
            fig = res.figure() if hasattr(res, "figure") else res.plot()
        except Exception as err:  # a missing plot must not lose the numbers
            self.say(f"(no plot: {' '.join(str(err).split()) or type(err).__name__})")
        else:
            wrote.append(save_figure(fig, self.out / f"{stem}.png"))
        self.cfg.with_overrides(updates).save(self.out / "config.toml")
        (show or self.show)(res)
        self.say("wrote " + " and ".join(str(p) for p in wrote))
        return 0

    def show(self, res: Any) -> None:
        """A search result's table and choice."""
        if hasattr(res, "table"):
            self.say(res.table())
        self.say(f"chosen: {fmt_value(getattr(res, 'best', None))} "
                 f"({getattr(res, 'reason', '')})")


def _search_wd(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from ..pipeline import finder_options, schedule_options
    from ..search.rules import default_confirm_epochs

    fn = _search_function("choose_weight_decay", "wd")
    s = _Search(args, cfg)
    grid = list(args.grid) if args.grid else list(cfg.weight_decay.grid)
    epochs = default_confirm_epochs(cfg.epochs) if args.confirm else None
    s.say(f"weight decay: {s.setup.model_name} on {s.setup.bundle.name}, range tests at wd = "
          f"{', '.join(fmt_value(v) for v in sorted(set(grid), reverse=True))}"
          + (f", then {epochs}-epoch 1cycle runs at and below their bound" if epochs else ""))
    with s.threads:
        choice = fn(s.setup.model, s.make_opt, s.setup.loss_fn, s.train, s.val, grid=grid,
                    confirm_epochs=epochs, validate_sweeps=False,
                    options=finder_options(cfg), max_lr=cfg.schedule.max_lr,
                    schedule=schedule_options(cfg), grad_clip=cfg.grad_clip, seed=cfg.seed,
                    progress=s.progress, **s.task_options())
    return s.finish(choice, "weight_decay", argv,
                    {"weight_decay.value": choice.value, "weight_decay.grid": grid},
                    choice.to_dict(), lambda c: _print_wd(s.say, c))


def _print_wd(say: Callable[[str], None], choice: Any) -> None:
    say(f"{'weight decay':>12}  {'min loss':>9}  {'LR at min':>9}  {'max_lr':>9}  accepted")
    for r in choice.search.rows:
        mark = "  <- range tests" if r["selected"] else ""
        say(f"{fmt_lr(r['weight_decay']):>12}  {fmt_num(r['min_loss']):>9}  "
            f"{fmt_lr(r['lr_at_min']):>9}  {fmt_lr(r['suggested_lr']):>9}  "
            f"{'yes' if r['accepted'] else 'no':>8}{mark}")
    rows = choice.confirm_rows()
    if rows:
        say(f"{'weight decay':>12}  {'short-run loss':>14}  accuracy")
        for r in rows:
            mark = "  <- chosen" if r["weight_decay"] == choice.value else ""
            say(f"{fmt_lr(r['weight_decay']):>12}  {fmt_num(r['loss']):>14}  "
                f"{fmt_num(r['accuracy']):>8}{mark}")
    say(f"chosen weight decay: {fmt_lr(choice.value)}. {choice.how}")


def _search_momentum(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from ..pipeline import schedule_options
    from ..search.rules import default_confirm_epochs

    fn = _search_function("momentum_search", "momentum")
    s = _Search(args, cfg)
    sched = {k: v for k, v in schedule_options(cfg).items() if k != "momentum"}
    # the configured epochs stay the training budget (written to config.toml)
    epochs = args.short_epochs or default_confirm_epochs(cfg.epochs)
    s.say(f"momentum search: {s.setup.model_name} on {s.setup.bundle.name}, short 1cycle runs "
          f"of {epochs} epoch(s) per momentum pair")
    f = cfg.finder
    with s.threads:
        res = fn(s.setup.model, s.make_opt, s.setup.loss_fn, s.train, s.val,
                 max_lr=cfg.schedule.max_lr, pairs=args.pairs, epochs=epochs, schedule=sched,
                 grad_clip=cfg.grad_clip, num_iter=f.num_iter, start_lr=f.start_lr,
                 end_lr=f.end_lr, seed=cfg.seed, progress=s.progress, **s.task_options())
    best = res.best
    updates = ({"schedule.momentum": list(best)} if isinstance(best, (list, tuple))
               and len(best) == 2 else {})
    return s.finish(res, "momentum", argv, updates)


def _search_dropout(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from .. import _validate as check

    fn = _search_function("grid_search", "dropout")
    values = list(args.grid) if args.grid else [0.0, 0.1, 0.2, 0.3, 0.5]
    try:
        values = check.values("--grid", values, lambda n, v: check.in_range(
            n, v, 0.0, 1.0, high_open=True))
    except ValueError as err:
        raise Usage(f"dropout values: {err}") from None
    s = _Search(args, cfg)
    s.say(f"dropout search: {s.setup.model_name} on {s.setup.bundle.name}, one range test "
          f"per p in {', '.join(fmt_value(v) for v in values)}")
    f = cfg.finder
    with s.threads:
        res = fn("dropout", values, "dropout", s.setup.model, s.make_opt, s.setup.loss_fn,
                 s.train, val_loader=s.val, num_iter=f.num_iter, start_lr=f.start_lr,
                 end_lr=f.end_lr, seed=cfg.seed, progress=s.progress,
                 step_fn=s.setup.task.step_fn)
    updates = {"model_options.dropout": float(res.best)} if isinstance(res.best, float) else {}
    return s.finish(res, "dropout", argv, updates)


def _next_token_loss(outputs: Any, labels: Any) -> Any:
    """Cross-entropy of a language model's ``.logits`` against ``labels`` (the model's
    own loss, for a search that calls ``model(input_ids)`` and ``loss_fn(out, labels)``).

    >>> import torch, types
    >>> out = types.SimpleNamespace(logits=torch.zeros(1, 3, 4))
    >>> round(float(_next_token_loss(out, torch.zeros(1, 3).long())), 4)
    1.3863
    """
    import torch.nn.functional as F

    logits = getattr(outputs, "logits", outputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def _search_batch_size(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    fn = _search_function("batch_size_search", "batch-size")
    cands = None
    if args.grid:
        if any(v != int(v) or v < 1 for v in args.grid):
            raise Usage(f"batch sizes must be integers >= 1, got {args.grid}")
        cands = sorted({int(v) for v in args.grid})
    s = _Search(args, cfg)
    s.say(f"batch-size search: {s.setup.model_name} on {s.setup.bundle.name} ({s.setup.device})")
    kw: dict[str, Any] = {}
    if cfg.schedule.max_lr is not None:
        kw = {"base_lr": cfg.schedule.max_lr, "base_batch_size": cfg.batch_size}
    sample, loss_fn = s.setup.bundle.input_shape, s.setup.loss_fn
    if s.setup.task.name == "language_model":  # token ids in, the next characters' loss
        batch = next(iter(s.train))
        sample, loss_fn = (batch["input_ids"][:1], batch["labels"][:1]), _next_token_loss
    with s.threads:
        res = fn(s.setup.model, sample, loss_fn=loss_fn, device=s.setup.device,
                 candidates=cands, seed=cfg.seed, progress=s.progress, **kw)
    updates: dict[str, Any] = {"batch_size": int(res.best)}
    if getattr(res, "lr", None) is not None:
        updates["schedule.max_lr"] = float(res.lr)
    return s.finish(res, "batch_size", argv, updates)


#: ``onecycle search <what>`` dispatch table.
SEARCHES: dict[str, SearchSpec] = {
    "wd": SearchSpec("weight decay", _search_wd),
    "momentum": SearchSpec("momentum", _search_momentum),
    "batch-size": SearchSpec("batch size", _search_batch_size),
    "dropout": SearchSpec("dropout", _search_dropout),
}


def cmd_search(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle search <what>``: the target's handler on the configuration."""
    cfg = config_for(args, "onecycle-search")
    return SEARCHES[args.what].handler(args, cfg, argv)

