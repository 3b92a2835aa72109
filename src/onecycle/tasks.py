"""What differs between classification, regression and language modelling, in one table.

A :class:`Task` says how a model of that kind is trained and judged: its loss, its step
(how a batch becomes a loss), its metrics, the one *headline* number a report or the
command line shows (and how), whether higher is better, and the chance level that
number has to beat. :func:`task_for` picks the task from a bundle's ``task`` field
(:class:`onecycle.data.DatasetBundle`) and measures the chance level on its training
split.

======================  ===================  ===================  ==========================
task                    loss                 headline             chance level
======================  ===================  ===================  ==========================
``classification``      cross-entropy        accuracy (higher)    majority-class frequency
``regression``          MSE                  RMSE (lower)         RMSE of the training mean
``language_model``      the model's own      bits per character   unigram entropy (bits)
                        (``.loss``)          = loss / ln 2
======================  ===================  ===================  ==========================

Why these headlines:

* regression shows the **RMSE** (the square root of the MSE loss) rather than R^2: it
  follows from the loss alone, exactly (the Trainer's validation loss is the exact mean
  over the split, and a mean of per-batch R^2 is not the R^2), and with targets
  standardised on the training split it reads in standard deviations of the target:
  1.0 is what predicting the mean gets, 0 is perfect.
* a language model's loss is the mean cross-entropy per character in nats; divided by
  ``ln 2`` it is **bits per character** (bpc), the unit character-level results are
  given in. The model computes its own loss (``step_fn=model_step``, i.e.
  ``model(**batch)``), as a Hugging Face model does.
* a chance level is what the best *constant* prediction, fitted and scored on the
  training split, would get: the most frequent class, the training mean, or the
  character frequencies. A headline that does not beat it says the model learned
  nothing.

Example:
    >>> from onecycle.data import load
    >>> task = task_for(load("digits"))
    >>> task.name, task.headline, task.higher_is_better
    ('classification', 'accuracy', True)
    >>> task.show(task.score(0.1, {"accuracy": 0.9765}))
    '97.65 %'
    >>> TASKS["language_model"].show(TASKS["language_model"].score(1.0, {}))
    '1.443 bpc'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ._format import fmt_num, fmt_pct
from .step import StepFn, resolve_step
from .train import accuracy

__all__ = ["TASKS", "Task", "chance_level", "model_step", "task_for"]

MetricFn = Callable[[Any, Any], Any]


def model_step(model: torch.nn.Module, batch: Mapping[str, Any]) -> Any:
    """The step of models that compute their own loss: ``model(**batch)``.

    What a Hugging Face model expects (``{"input_ids", "labels"}`` in, an object with
    ``.loss`` and ``.logits`` out); a named function rather than a lambda, so a step
    can be pickled into worker processes.

    Example:
        >>> import torch
        >>> class M(torch.nn.Module):
        ...     def forward(self, x, labels):
        ...         return {"loss": (x - labels).pow(2).mean()}
        >>> float(model_step(M(), {"x": torch.ones(2), "labels": torch.zeros(2)})["loss"])
        1.0
    """
    if not isinstance(batch, Mapping):
        raise TypeError(
            "model_step calls model(**batch), so every batch must be a dict (e.g. "
            f"{{'input_ids': ..., 'labels': ...}}), got {type(batch).__name__}"
        )
    return model(**batch)


def _accuracy_score(loss: float, metrics: Mapping[str, float]) -> float | None:
    value = metrics.get("accuracy")
    return None if value is None else float(value)


def _rmse(loss: float, metrics: Mapping[str, float]) -> float | None:
    return math.sqrt(loss) if loss is not None and loss >= 0 else None


def _bpc(loss: float, metrics: Mapping[str, float]) -> float | None:
    return None if loss is None else loss / math.log(2)


@dataclass(frozen=True)
class Task:
    """How one kind of model is trained and judged (see the module docs for the table).

    Attributes:
        name: ``"classification"``, ``"regression"`` or ``"language_model"``.
        loss_fn: ``loss_fn(outputs, targets)`` for ``(inputs, targets)`` batches, or
            ``None`` when the model computes its own loss.
        step_fn: ``step_fn(model, batch)`` when batches are not ``(inputs, targets)``
            pairs (``None``: the default step over ``loss_fn``).
        metrics: ``{name: metric(outputs, targets)}`` for the Trainer's ``metrics=``.
        headline: the name of the number shown first (``"accuracy"``, ``"rmse"``,
            ``"bpc"``); :meth:`score` computes it, :meth:`show` formats it.
        higher_is_better: the direction of the headline.
        chance: the headline of the best constant prediction (set by
            :func:`task_for` from a bundle; ``None`` in the bare table).
        loss_name: what the loss is, for labels (``"cross-entropy"``, ``"MSE"``).
        unit: a suffix shown after the headline value (``"bpc"``), or ``""``.

    Example:
        >>> t = TASKS["regression"]
        >>> t.headline, t.show(t.score(0.25, {})), t.better(0.4, 0.5)
        ('rmse', '0.5', True)
    """

    name: str
    loss_fn: Callable[..., Any] | None
    step_fn: StepFn | None
    metrics: Mapping[str, MetricFn]
    headline: str
    higher_is_better: bool
    chance: float | None = None
    loss_name: str = "loss"
    unit: str = ""
    headline_of: Callable[[float, Mapping[str, float]], float | None] = field(
        default=_accuracy_score, repr=False
    )

    def step(self) -> StepFn:
        """The step function: ``step_fn``, or the default step over ``loss_fn``.

        Example:
            >>> import torch
            >>> step = TASKS["classification"].step()
            >>> out = step(torch.nn.Linear(2, 3), (torch.zeros(4, 2), torch.zeros(4).long()))
            >>> out["loss"].shape, out["outputs"].shape
            (torch.Size([]), torch.Size([4, 3]))
        """
        return resolve_step(self.loss_fn, self.step_fn)

    def score(self, loss: float | None, metrics: Mapping[str, float] | None = None) -> float | None:
        """The headline number from a split's mean loss and its metrics (None if missing).

        Example:
            >>> TASKS["language_model"].score(math.log(2))
            1.0
        """
        if loss is not None and not math.isfinite(float(loss)):
            return None
        return self.headline_of(None if loss is None else float(loss), dict(metrics or {}))

    def show(self, value: float | None) -> str:
        """The headline as text: a percentage for accuracy, else 4 significant digits.

        Example:
            >>> TASKS["classification"].show(0.5), TASKS["regression"].show(None)
            ('50.00 %', '—')
        """
        if self.headline == "accuracy":
            return fmt_pct(value)
        text = fmt_num(value)
        return f"{text} {self.unit}" if self.unit and value is not None else text

    def better(self, a: float, b: float) -> bool:
        """Whether headline ``a`` is better than ``b``.

        Example:
            >>> TASKS["classification"].better(0.9, 0.8)
            True
        """
        return a > b if self.higher_is_better else a < b

    @property
    def label(self) -> str:
        """The headline's name as text: ``"accuracy"``, ``"RMSE"``, ``"bpc"``.

        Example:
            >>> TASKS["regression"].label
            'RMSE'
        """
        return _LABELS.get(self.headline, self.headline)

    def of_record(self, record: Mapping[str, Any], split: str = "val") -> float | None:
        """The headline of ``split`` in a record with ``<split>_loss`` and
        ``<split>_<metric>`` keys (an epoch record of a History, a run's final numbers).
        A non-finite loss counts as missing: a headline computed from the loss is then
        None, a metric (accuracy) still shows.

        Example:
            >>> TASKS["language_model"].of_record({"val_loss": math.log(4)})
            2.0
            >>> TASKS["classification"].of_record({"test_loss": 0.1, "test_accuracy": 0.9},
            ...                                   "test")
            0.9
        """
        prefix = f"{split}_"
        metrics = {k[len(prefix):]: v for k, v in record.items()
                   if k.startswith(prefix) and isinstance(v, int | float)}
        loss = metrics.pop("loss", None)
        return self.score(loss if loss is not None and math.isfinite(loss) else None, metrics)

    def phrase(self, split: str, value: float | None) -> str:
        """``"<split> <label> <value>"``, as the command line and the report say it.

        Example:
            >>> TASKS["language_model"].phrase("val", 2.4132), TASKS["classification"].phrase(
            ...     "test", 0.5)
            ('val bpc 2.413', 'test accuracy 50.00 %')
        """
        text = self.show(value) if self.headline == "accuracy" else fmt_num(value)
        return f"{split} {self.label} {text}"

    def difference(self, a: float | None, b: float | None) -> str:
        """``a - b`` in the headline's units: accuracy points, else the headline's own
        (``""`` when either is missing).

        Example:
            >>> TASKS["classification"].difference(0.99, 0.98)
            '+1.0 pts'
            >>> TASKS["language_model"].difference(2.40, 2.45)
            '-0.05 bpc'
        """
        if a is None or b is None:
            return ""
        d = float(a) - float(b)
        if self.headline == "accuracy":
            return f"{100 * d:+.1f} pts"
        return f"{d:+.3g} {self.label}"

    def outputs_text(self, num_classes: int) -> str:
        """What ``num_classes`` counts for this task, in words.

        Example:
            >>> TASKS["language_model"].outputs_text(96), TASKS["regression"].outputs_text(1)
            ('a vocabulary of 96 characters', '1 target')
        """
        n = int(num_classes)
        if self.name == "regression":
            return f"{n} target{'' if n == 1 else 's'}"
        if self.name == "language_model":
            return f"a vocabulary of {n} characters"
        return f"{n} classes"

    def scores(self, final: Mapping[str, Any], sep: str = ", ") -> str:
        """The validation headline and loss and the test headline of a run's final
        numbers (``val_loss``, ``val_accuracy``, ``test_loss``, ...), as a log line.

        Example:
            >>> TASKS["regression"].scores({"val_loss": 0.25, "test_loss": 0.36})
            'val RMSE 0.5, val loss 0.25, test RMSE 0.6'
        """
        return sep.join([self.phrase("val", self.of_record(final, "val")),
                         f"val loss {fmt_num(final.get('val_loss'))}",
                         self.phrase("test", self.of_record(final, "test"))])

    def describe(self) -> dict[str, Any]:
        """What a report records about the task: name, headline, direction, chance level,
        loss and unit.

        Example:
            >>> TASKS["regression"].describe()["headline"]
            'rmse'
        """
        return {"name": self.name, "headline": self.headline, "label": self.label,
                "higher_is_better": self.higher_is_better, "chance": self.chance,
                "loss": self.loss_name, "unit": self.unit}


_LABELS = {"rmse": "RMSE"}


#: The three tasks; :func:`task_for` fills in ``chance`` for a bundle.
TASKS: dict[str, Task] = {
    "classification": Task(
        "classification", F.cross_entropy, None, {"accuracy": accuracy}, "accuracy", True,
        loss_name="cross-entropy", headline_of=_accuracy_score,
    ),
    "regression": Task(
        "regression", F.mse_loss, None, {}, "rmse", False, loss_name="MSE",
        headline_of=_rmse,
    ),
    "language_model": Task(
        "language_model", None, model_step, {}, "bpc", False,
        loss_name="cross-entropy per character (nats)", unit="bpc", headline_of=_bpc,
    ),
}


def chance_level(task: str, targets: torch.Tensor, num_classes: int) -> float | None:
    """The headline of the best constant prediction fitted and scored on ``targets``.

    Classification: the most frequent class's share; regression: the RMSE of the mean;
    language model: the entropy of the character frequencies in bits. ``None`` for no
    targets.

    Example:
        >>> chance_level("classification", torch.tensor([0, 0, 0, 1]), 2)
        0.75
        >>> chance_level("language_model", torch.tensor([[0, 1], [2, 3]]), 4)
        2.0
    """
    if targets.numel() == 0:
        return None
    if task == "regression":
        t = targets.double()
        return float((t - t.mean(0)).pow(2).mean().sqrt())
    counts = torch.bincount(targets.reshape(-1).long(), minlength=num_classes).double()
    p = counts / counts.sum()
    if task == "classification":
        return float(p.max())
    p = p[p > 0]
    return float(-(p * p.log2()).sum())


def task_for(bundle: Any) -> Task:
    """The :class:`Task` of a :class:`~onecycle.data.DatasetBundle`, chance level included.

    Reads ``bundle.task`` (``"classification"`` when the bundle has no such field) and
    the training split's targets.

    Example:
        >>> from onecycle.data import load
        >>> round(task_for(load("digits")).chance, 3)
        0.101
    """
    name = getattr(bundle, "task", "classification")
    if name not in TASKS:
        raise ValueError(f"bundle.task must be one of {', '.join(map(repr, TASKS))}, got {name!r}")
    targets = bundle.train.tensors[-1]
    chance = chance_level(name, targets, int(bundle.num_classes))
    return dataclasses.replace(TASKS[name], chance=chance)
