"""Why the recipe's momentum runs last a quarter of the budget, not one epoch (issue 7).

Runs ``onecycle.search.recipe`` for one seed on the 6000-image Fashion-MNIST setting of
``recipe_fashion.py`` (LeNet, 20 epochs), prints its weight-decay confirmation and
momentum tables, then repeats the momentum search with one-epoch runs (what the recipe
did before) from the same initial weights, data order, max_lr and weight decay. Writes
``results/recipe_momentum_seed<S>.md``.

    python benchmarks/recipe_momentum_evidence.py [--seed 4] [--subset 6000] [--epochs 20]
"""

from __future__ import annotations

import argparse
import importlib

import torch

from benchmarks.studies.legacy.common import setup_threads, write  # noqa: E402
from onecycle import data, models  # noqa: E402
from onecycle.search import momentum_search, recipe  # noqa: E402
from onecycle.search.factories import WithWeightDecay, initial_model, tensor_loaders  # noqa: E402

_tensors = importlib.import_module("benchmarks.studies.recipe-fashion.recipe_fashion")._tensors


def _table(rows: list[dict], key: str) -> list[str]:
    out = [f"| {key} | val loss | val accuracy | chosen |", "|---|---:|---:|:---:|"]
    for r in rows:
        label = (f"({r['high']}, {r['low']})" if key == "momentum" else f"{r['value']:g}")
        out.append(f"| {label} | {r['val_loss']:.4f} | {100 * r['val_accuracy']:.2f} % | "
                   f"{'✓' if r.get('selected') else ''} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--subset", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args()
    setup_threads(2)
    b = data.load("fashion-mnist")
    train, val = _tensors(b, "train", args.subset), _tensors(b, "val")
    loss_fn = torch.nn.CrossEntropyLoss()

    def make_model():
        return models.create("lenet", b.input_shape, b.num_classes)

    def make_opt(model):
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    r = recipe(make_model, make_opt, loss_fn, train, val, budget_epochs=args.epochs,
               seed=args.seed, progress=False)
    ev = r.evidence
    m_ev = ev["momentum"]
    # the same search with one-epoch runs, from the same start (what the recipe did before)
    tl, vl = tensor_loaders(train, val, r.batch_size, r.eval_batch_size, args.seed)
    one = momentum_search(initial_model(make_model, args.seed),
                          WithWeightDecay(make_opt, r.weight_decay), loss_fn, tl, vl,
                          max_lr=r.max_lr, epochs=1, schedule={"style": r.style},
                          seed=args.seed, metrics=["accuracy"], progress=False)
    n = m_ev["config"]["epochs"]
    md = [f"## Recipe momentum runs: {n} epochs against 1 (seed {args.seed})", "",
          f"`onecycle.search.recipe` on {len(train[1])} Fashion-MNIST images, LeNet, a "
          f"{args.epochs}-epoch budget, seed {args.seed}: {r}.", "",
          f"Weight decay, {ev['weight_decay'].get('confirm', {}).get('config', {}).get('epochs', '–')}"
          "-epoch confirmation runs:", ""]
    md += _table(ev["weight_decay"].get("confirm", {}).get("rows", []), "weight decay")
    md += ["", f"Momentum, the recipe's {n}-epoch runs (max_lr {r.max_lr:.3g}):", ""]
    md += _table(m_ev["rows"], "momentum")
    md += ["", "Momentum, the same search with 1-epoch runs (the recipe before this change):", ""]
    md += _table(one.rows, "momentum")
    md += ["", f"One-epoch runs pick {tuple(one.best)}; {n}-epoch runs pick {tuple(m_ev['best'])}."]
    write(f"recipe_momentum_seed{args.seed}",
          {"recipe": r.to_dict(evidence=False), "momentum_long": m_ev["rows"],
           "momentum_1ep": one.rows, "args": vars(args)}, "\n".join(md))


if __name__ == "__main__":
    main()
