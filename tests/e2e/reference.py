"""The offline study's committed reference: every variant's real-test accuracy per seed.

`reference.json` (next to this file) holds, for each variant of `config/offline.yaml`
(the study's, then the labeled-budget track's `<method>@<b>`, read from their
metrics files beside the summary) and each training seed, the test accuracy with the counts it is read from (correct
predictions out of `n` test images, the trace and the total of that seed's confusion
matrix). The end-to-end test compares a fresh offline run with it.

When a change is meant to move numbers, rerun the offline study and regenerate,
then review the diff like any other change:

    python -m tests.e2e.reference runs/offline/results/summary.json

The output is deterministic (sorted keys, accuracies rounded to 6 decimals), so
regenerating from the same summary rewrites the same bytes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = Path(__file__).with_name("reference.json")
# Per seed, a variant may differ from the reference by at most this many test images
# (2 of 3000 = 0.07 points). Features come from onnxruntime and heads from seeded
# training, so two runs on this CPU agree to the last digit; the allowance only
# absorbs a borderline prediction flipped by float summation order on another CPU.
# It is far below anything a regression moves: distinct variants differ by >= 9
# images on some seed, the claims' margin is 30 images, a swapped label pair costs
# hundreds.
TOLERANCE_IMAGES = 2
DECIMALS = 6


def _counts(matrix: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(correct, n) of a confusion matrix: its trace and its total."""
    return sum(matrix[i][i] for i in range(len(matrix))), sum(map(sum, matrix))


def per_seed(summary: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """variant -> seed -> {"test_acc", "correct", "n"} from a summary, checked for agreement.

    Raises ValueError when a seed's accuracy does not equal its confusion matrix's
    trace over total: such a summary is itself wrong and cannot be a reference.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, v in summary["variants"].items():
        out[name] = {}
        for seed, acc in v["test_acc"]["per_seed"].items():
            correct, n = _counts(v["confusion"]["per_seed"][seed])
            if abs(correct / n - acc) > 1e-9:
                raise ValueError(f"{name} seed {seed}: test_acc {acc} is not its confusion "
                                 f"matrix's {correct}/{n}")
            out[name][seed] = {"test_acc": round(acc, DECIMALS), "correct": correct, "n": n}
    return out


def with_budget_track(summary: Mapping[str, Any], results: Path) -> dict[str, Any]:
    """The summary with the budget track's variants added (`results`: the run's results/
    folder): each seed's test accuracy and confusion from its metrics.json, the variants
    named by results/budgets.json. Unchanged for a run without the track."""
    path = results / "budgets.json"
    if not path.is_file():
        return dict(summary)
    variants = dict(summary["variants"])
    for method in json.loads(path.read_text())["methods"].values():
        for b in method["budgets"].values():
            tests = {str(seed): json.loads((results / "heads" / b["variant"] / f"seed{seed}"
                                            / "metrics.json").read_text())["test"]
                     for seed in summary["seeds"]}
            accs = {s: t["acc"] for s, t in tests.items()}
            variants[b["variant"]] = {
                "test_acc": {"per_seed": accs, "mean": float(np.mean(list(accs.values())))},
                "confusion": {"per_seed": {s: t["confusion"] for s, t in tests.items()}}}
    return {**summary, "variants": variants}


def reference(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The reference record of a finished run's summary."""
    return {
        "study": summary["study"], "classes": list(summary["classes"]),
        "seeds": list(summary["seeds"]),
        "generated_from": {"git_commit": summary.get("git_commit"),
                           "config_hash": summary.get("config_hash")},
        "variants": per_seed(summary),
    }


def dumps(ref: Mapping[str, Any]) -> str:
    """The reference as the committed text: sorted keys, one line per variant and seed
    (so a change that moves numbers reads as one diff line per moved number), accuracies
    with a fixed number of decimals."""
    def one(x: Any) -> str:
        return json.dumps(x, sort_keys=True)

    lines = ["{"]
    for key in sorted(ref):
        if key != "variants":
            lines.append(f" {one(key)}: {one(ref[key])},")
    lines.append(' "variants": {')
    for i, name in enumerate(sorted(ref["variants"])):
        seeds = ref["variants"][name]
        lines.append(f"  {one(name)}: {{")
        lines += [f'   {one(s)}: {{"correct": {e["correct"]}, "n": {e["n"]}, '
                  f'"test_acc": {e["test_acc"]:.{DECIMALS}f}}},'
                  for s, e in sorted(seeds.items(), key=lambda kv: int(kv[0]))]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("  }" + ("," if i < len(ref["variants"]) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def load(path: str | Path = REFERENCE) -> dict[str, Any]:
    """The committed reference."""
    return json.loads(Path(path).read_text())


def compare(ref: Mapping[str, Any], summary: Mapping[str, Any],
            tolerance: int = TOLERANCE_IMAGES) -> list[str]:
    """Every disagreement between a run's summary and the reference, one line each
    (variant, seed, expected, got); empty when every variant and seed is within
    `tolerance` test images."""
    problems = []
    if list(summary["seeds"]) != list(ref["seeds"]):
        problems.append(f"seeds: expected {ref['seeds']}, got {summary['seeds']}")
    want, got = set(ref["variants"]), set(summary["variants"])
    problems += [f"{v}: in the reference, missing from the run" for v in sorted(want - got)]
    problems += [f"{v}: in the run, missing from the reference" for v in sorted(got - want)]
    for name in sorted(want & got):
        v, expected = summary["variants"][name], ref["variants"][name]
        accs = v["test_acc"]["per_seed"]
        if set(accs) != set(expected):
            problems.append(f"{name}: seeds {sorted(accs)}, reference has {sorted(expected)}")
        for seed in sorted(set(accs) & set(expected), key=int):
            e, acc = expected[seed], accs[seed]
            correct, n = _counts(v["confusion"]["per_seed"][seed])
            off = acc * e["n"] - e["correct"]
            if n != e["n"] or abs(off) > tolerance + 1e-6:
                problems.append(
                    f"{name} seed {seed}: expected {e['test_acc']:.{DECIMALS}f} "
                    f"({e['correct']}/{e['n']}), got {acc:.{DECIMALS}f} ({correct}/{n}); "
                    f"{off:+.1f} images, tolerance {tolerance}")
            elif abs(correct / n - acc) > 1e-9:
                problems.append(f"{name} seed {seed}: test_acc {acc:.{DECIMALS}f} is not "
                                f"its confusion matrix's {correct}/{n}")
    return problems


def stream_change(ref: Mapping[str, Any], summary: Mapping[str, Any],
                  floor: float = 0.005, top: int = 5) -> tuple[list[dict[str, Any]], bool]:
    """Old (`ref`) vs new (`summary`) mean test accuracy of every variant in both, for a change
    of the random streams: each new mean must lie within the old seed interval (Student-t,
    95 %) or `floor` of the old mean, whichever is wider, and the `top` best variants must be
    the same set. Returns (one row per variant, whether all of it holds)."""
    from scipy import stats

    rows, ok = [], True
    for name in sorted(set(ref["variants"]) & set(summary["variants"])):
        old = np.array([e["test_acc"] for e in ref["variants"][name].values()])
        half = float(stats.t.ppf(0.975, len(old) - 1) * old.std(ddof=1) / np.sqrt(len(old)))
        new = float(summary["variants"][name]["test_acc"]["mean"])
        allowed = max(half, floor)
        rows.append({"variant": name, "old": float(old.mean()), "old_ci": half, "new": new,
                     "diff": new - float(old.mean()), "allowed": allowed,
                     "within": abs(new - old.mean()) <= allowed})
        ok &= rows[-1]["within"]
    best = {k: {r["variant"] for r in sorted(rows, key=lambda r: -r[k])[:top]}
            for k in ("old", "new")}
    return rows + [{"top": best}], ok and best["old"] == best["new"]


def stream_change_table(rows: list[dict[str, Any]]) -> str:
    """`stream_change`'s rows as a Markdown table (accuracies in percent)."""
    lines = ["| variant | old mean [seed 95% CI] | new mean | new - old | allowed | within |",
             "|---|---|---|---|---|---|"]
    for r in rows[:-1]:
        lines.append(f"| {r['variant']} | {100 * r['old']:.2f} [{100 * (r['old'] - r['old_ci']):.2f},"
                     f" {100 * (r['old'] + r['old_ci']):.2f}] | {100 * r['new']:.2f} | "
                     f"{100 * r['diff']:+.2f} | {100 * r['allowed']:.2f} | "
                     f"{'yes' if r['within'] else 'NO'} |")
    top = rows[-1]["top"]
    lines.append(f"\nfive best, old: {sorted(top['old'])}; new: {sorted(top['new'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the reference of a finished offline run (see the module docstring); with
    --stream-change, print old vs new means instead (and exit 1 if they disagree)."""
    p = argparse.ArgumentParser(prog="python -m tests.e2e.reference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("summary", type=Path, help="results/summary.json of a finished offline run "
                   "(the budget track's models are read from the results/ folder around it)")
    p.add_argument("--out", type=Path, default=REFERENCE, help="default: %(default)s")
    p.add_argument("--stream-change", action="store_true",
                   help="compare the run's means with the reference's (see stream_change)")
    args = p.parse_args(argv)
    summary = with_budget_track(json.loads(args.summary.read_text()), args.summary.parent)
    if args.stream_change:
        rows, ok = stream_change(load(args.out), summary)
        print(stream_change_table(rows))
        return 0 if ok else 1
    text = dumps(reference(summary))
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(json.loads(text)['variants'])} variants)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
