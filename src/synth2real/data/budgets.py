"""The labeled-budget draws: which oracle photos a model of the budget track reads.

For each training seed s (its "draw"), every class's photos of the oracle split
are put in an order of their own, drawn from a generator seeded with
(data_seed, s); a budget of b photos per class is the first b of each class's
order. So budgets are nested (the 3 photos of a draw are among its 10), they
come from the oracle split only -- never a test, pool or target-validation photo
-- and which photos are drawn changes with the seed, as the training order does:
the spread over seeds carries both. Written once per run as
`results/data/target_budgets.csv` (path, label, draw, rank), an inspectable list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from synth2real.data.manifests import read_csv, write_csv
from synth2real.errors import DataError

FIELDS = ["path", "label", "draw", "rank"]


def draw(rows: Sequence[Mapping[str, str]], classes: Sequence[str], seeds: Sequence[int],
         data_seed: int) -> list[dict[str, object]]:
    """One ranked order of each class's oracle photos per seed (`rows`: the target_labeled
    manifest); the order depends on the photos' paths, not on the manifest's row order."""
    by_class: dict[str, list[str]] = {c: [] for c in classes}
    for r in rows:
        if r["split"] == "oracle":
            if r["label"] not in by_class:
                raise DataError(f"oracle photo {r['path']!r} has label {r['label']!r}, not one of "
                                f"the study's classes {list(classes)}; rebuild the manifests")
            by_class[r["label"]].append(r["path"])
    out: list[dict[str, object]] = []
    for seed in seeds:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([data_seed, seed])))
        for c in classes:
            paths = sorted(by_class[c])
            out += [{"path": paths[i], "label": c, "draw": seed, "rank": rank}
                    for rank, i in enumerate(rng.permutation(len(paths)))]
    return out


def budget_draws(target_labeled: str, draws: str, *, classes: list[str], seeds: list[int],
                 data_seed: int) -> None:
    """Stage `budget_draws`: every seed's nested draw of the oracle photos."""
    write_csv(draws, draw(read_csv(target_labeled), classes, seeds, data_seed), FIELDS)


def photos(rows: Sequence[Mapping[str, str]], seed: int, per_class: int | None,
           classes: Sequence[str], where: str) -> list[str]:
    """The paths of draw `seed`'s first `per_class` photos of each class (None: all), class by
    class, in rank order (`rows`: the draws file `where`). Fewer photos than asked is an error."""
    ranked: dict[str, list[tuple[int, str]]] = {c: [] for c in classes}
    for r in rows:
        if int(r["draw"]) == seed:
            ranked.setdefault(r["label"], []).append((int(r["rank"]), r["path"]))
    out = []
    for c in classes:
        chosen = sorted(ranked[c])
        if not chosen:
            raise DataError(f"{where}: no photo of class {c!r} in draw {seed}; rerun rule "
                            "budget_draws (it reruns when seeds or the manifests change)")
        if per_class is not None:
            if per_class > len(chosen):
                raise DataError(f"{where}: a budget of {per_class} photos per class, but class "
                                f"{c!r} has {len(chosen)} oracle photos; lower budgets.per_class "
                                "or raise real.oracle_per_class")
            chosen = chosen[:per_class]
        out += [p for _, p in chosen]
    return out
