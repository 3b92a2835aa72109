"""Recipe benchmark (issue 7): onecycle.search.recipe on Fashion-MNIST vs torch's
OneCycleLR defaults at the same budget.

The recipe chains batch size -> LR range test -> weight decay -> momentum and returns a
1cycle configuration; ``Recipe.train`` runs it. The peer is the same model trained with
``torch.optim.lr_scheduler.OneCycleLR`` at its defaults (pct_start 0.3, cos, div 25,
final_div 1e4, momentum 0.85-0.95), SGD with momentum, at the same epochs and batch
size, with the peak LR a user would take from the same range test (our "auto"
suggestion; torch itself has no finder), and no weight-decay search (weight decay 0,
torch's default; a second row gives it the recipe's weight decay so the comparison
isolates the schedule). Several seeds; test accuracy mean +- std.

    python benchmarks/recipe_fashion.py [--quick] [--seeds 3] [--epochs 3] [--subset 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import mean_std, setup_threads, write  # noqa: E402
from onecycle import data, models  # noqa: E402
from onecycle.data import TensorLoader  # noqa: E402
from onecycle.search import recipe  # noqa: E402

WD_LABEL = "torch defaults (recipe's wd)"


def _tensors(bundle, split, n=None, seed=0):
    x, y = bundle.split(split)
    if n is not None and n < len(y):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(y), generator=g)[:n]
        x, y = x[idx], y[idx]
    return x, y


def _accuracy(model, x, y, bs=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), bs):
            correct += (model(x[i : i + bs]).argmax(1) == y[i : i + bs]).sum().item()
    return correct / len(y)


def torch_defaults_run(bundle, train, test, *, epochs, batch_size, max_lr, wd, seed):
    torch.manual_seed(seed)
    model = models.create("small_cnn", bundle.input_shape, bundle.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9, weight_decay=wd)
    loader = TensorLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs,
                                                steps_per_epoch=len(loader))
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    steps = 0
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            if steps < epochs * len(loader):
                sched.step()
    wall = time.perf_counter() - t0
    return _accuracy(model, *test), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--subset", type=int, default=20000, help="training samples used")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.subset = 1, 1, 4000
    setup_threads(2)
    bundle = data.load("fashion-mnist")
    train = _tensors(bundle, "train", args.subset)
    val = _tensors(bundle, "val")
    test = _tensors(bundle, "test")
    loss_fn = torch.nn.CrossEntropyLoss()

    def make_model():
        return models.create("small_cnn", bundle.input_shape, bundle.num_classes)

    def make_opt(model):
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    rows = {"recipe": [], "torch defaults (wd 0)": [], WD_LABEL: []}
    walls = {k: [] for k in rows}
    recipes = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        r = recipe(make_model, make_opt, loss_fn, train, val, budget_epochs=args.epochs,
                   seed=seed, quick=args.quick, progress=False)
        t_search = time.perf_counter() - t0
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        model = make_model()
        hist = r.train(model, make_opt, loss_fn, train, val, seed=seed, progress=False)
        t_train = time.perf_counter() - t0
        acc = _accuracy(model, *test)
        rows["recipe"].append(acc)
        walls["recipe"].append(t_train)
        recipes.append({"seed": seed, "search_s": t_search, "train_s": t_train,
                        "test_acc": acc, "config": r.to_dict(evidence=False),
                        "val_acc_last": hist[-1].get("val_accuracy")})
        for label, wd in (("torch defaults (wd 0)", 0.0), (WD_LABEL, r.weight_decay or 0.0)):
            acc_t, wall = torch_defaults_run(bundle, train, test, epochs=args.epochs,
                                             batch_size=r.batch_size, max_lr=r.max_lr,
                                             wd=wd, seed=seed)
            rows[label].append(acc_t)
            walls[label].append(wall)
        print(f"seed {seed}: recipe {acc:.4f} | torch {rows['torch defaults (wd 0)'][-1]:.4f} "
              f"| torch+wd {rows[WD_LABEL][-1]:.4f}", flush=True)

    md = ["## Recipe on Fashion-MNIST (issue 7)", "",
          f"`onecycle.search.recipe` (batch size → LR range test → weight decay → momentum) on "
          f"Fashion-MNIST ({args.subset} training samples, the standard 10k test set), small CNN, "
          f"{args.epochs} epochs, {args.seeds} seeds; the peer is torch's `OneCycleLR` at its "
          "defaults with the same model, batch size, epochs and peak LR.", "",
          "| run | test accuracy (mean ± std) | training wall time (s) |", "|---|---:|---:|"]
    for k, v in rows.items():
        m, s = mean_std(v)
        wm = statistics.median(walls[k])
        md.append(f"| {k} | {100 * m:.2f} ± {100 * s:.2f} % | {wm:.1f} |")
    better = mean_std(rows["recipe"])[0] > mean_std(rows["torch defaults (wd 0)"])[0]
    md += ["", f"Recipe beats torch's defaults at the same budget: **{'yes' if better else 'NO'}**.",
           "", "Chosen configurations (seed: batch size, max_lr, weight decay, momentum; search time):", ""]
    for rec in recipes:
        c = rec["config"]
        md.append(f"* seed {rec['seed']}: batch {c.get('batch_size')}, max_lr {c.get('max_lr'):.3g}, "
                  f"wd {c.get('weight_decay')}, momentum {c.get('momentum')}; "
                  f"search {rec['search_s']:.0f} s, training {rec['train_s']:.0f} s")
    write("recipe", {"rows": rows, "walls": walls, "recipes": recipes, "args": vars(args)},
          "\n".join(md))


if __name__ == "__main__":
    main()
