"""Join every benchmark's section (benchmarks/results/*.md) into benchmarks/RESULTS.md.

    python benchmarks/make_results.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["summary", "b0", "b1", "b2", "b3", "b2_caffe_mnist", "b2_paper_*", "b2_*", "b4", "b4_summary", "b4_*", "finder_*", "b5", "b6", "recipe",
         "recipe_summary", "recipe_*"]
#: sections shown only when they exist (cross-checks), no "not run yet" placeholder
OPTIONAL = {"b2_caffe_mnist", "b4_summary", "recipe_summary"}

INTRO = """# Benchmark results

Numbers measured on this project's own machine (a shared 2-core VM: timings are noisy,
so speed is reported as ratios measured side by side, medians over repetitions).
Every section names the command that produced it; rerun it to refresh the section,
then `python benchmarks/make_results.py`. Raw numbers: `benchmarks/results/*.json`.
Targets come from `shared/BENCHMARKS.md`; a missed target is reported as missed.
"""


def main() -> None:
    parts = [INTRO]
    found = {p.stem: p for p in (HERE / "results").glob("*.md")}
    names: list[str] = []
    for name in ORDER:  # "b4_*", "recipe_*": every other such section, in name order, here
        # a section matched by an earlier, narrower pattern ("b2_paper_*" before "b2_*") once
        names += (sorted(n for n in found
                         if n.startswith(name[:-1]) and n not in ORDER and n not in names)
                  if name.endswith("*") else [name])
    for name in names + sorted(set(found) - set(names)):
        if name in found:
            parts.append(found[name].read_text().rstrip() + "\n")
        elif name in ORDER and name not in OPTIONAL and not name.endswith("*"):
            parts.append(f"## {name.upper()}\n\n_Not run yet._\n")
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
