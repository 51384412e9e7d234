"""The demo's HTML: the header that states the models' accuracies once, the result cards of a
`Comparer.compare` result, and the page's CSS.

Pure string building (no Gradio), so the page is unit-tested with the
comparison and timed by `bench_serving` without a server. Every string that
comes from a user (file names) or a file (card texts) is escaped.
"""

from __future__ import annotations

import html
from typing import Any

from synth2real.serve.models import ROLES, TITLES, WHAT

e = html.escape

CSS = """
.s2r-head {font-size: 14px; line-height: 1.45;}
.s2r-models {margin: 6px 0 8px 0;}
.s2r-mrow {display: flex; flex-wrap: wrap; gap: 2px 12px; align-items: baseline; padding: 3px 0;
  border-bottom: 1px solid var(--border-color-primary);}
.s2r-mrow > b {min-width: 110px;} .s2r-mrow > .s2r-what {flex: 1 1 260px;}
.s2r-num {font-variant-numeric: tabular-nums; white-space: nowrap;}
.s2r-caution {padding: 8px 12px; border-radius: 8px; background: rgba(245,158,11,.14);
  border-left: 4px solid #f59e0b; margin: 6px 0;}
.s2r-domain {padding: 8px 12px; border-radius: 8px; background: rgba(99,102,241,.08); margin: 6px 0;}
.s2r-small {font-size: 12px; color: var(--body-text-color-subdued);}
.s2r-cards {display: flex; flex-direction: column; gap: 14px;}
.s2r-card {display: grid; grid-template-columns: 130px repeat(3, minmax(0, 1fr)); gap: 16px;
  align-items: start; padding: 14px 16px; border-radius: 12px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);}
.s2r-card.s2r-disagree {border: 2px solid #f59e0b;}
.s2r-thumb img {width: 130px; height: 130px; object-fit: cover; border-radius: 8px;
  display: block; background: #ddd; image-rendering: auto;}
.s2r-file {font-size: 12px; color: var(--body-text-color-subdued); margin-top: 6px;
  word-break: break-all;}
.s2r-label {font-size: 13px; margin-top: 4px;}
.s2r-model h4 {margin: 0 0 4px 0; font-size: 14px;}
.s2r-top {font-size: 20px; font-weight: 700; margin: 2px 0 8px 0;}
.s2r-top .s2r-conf {font-size: 13px; font-weight: 500; color: var(--body-text-color-subdued);}
.s2r-ok {color: #059669;} .s2r-wrong {color: #dc2626;}
.s2r-row {display: grid; grid-template-columns: 44px minmax(0, 1fr) 48px; gap: 6px;
  align-items: center; font-size: 12px; margin: 3px 0;}
.s2r-bar {height: 9px; border-radius: 5px; background: var(--border-color-primary); overflow: hidden;}
.s2r-bar > div {height: 100%; border-radius: 5px; background: #94a3b8;}
.s2r-row.s2r-first .s2r-bar > div {background: #6366f1;}
.s2r-verdict, .s2r-unsure {grid-column: 1 / -1; font-size: 14px; padding: 8px 12px;
  border-radius: 8px; background: rgba(148,163,184,.14);}
.s2r-disagree .s2r-verdict {background: rgba(245,158,11,.16); font-weight: 600;}
.s2r-unsure {border-left: 4px solid #6366f1; background: rgba(99,102,241,.10); font-weight: 600;}
.s2r-note {grid-column: 1 / -1; font-size: 13px; padding: 6px 10px; border-radius: 6px;
  background: rgba(245,158,11,.10);}
#s2r-examples .grid-wrap {height: auto !important; max-height: none !important;
  min-height: 0 !important; overflow: visible !important;}
#s2r-examples .grid-container {grid-template-columns: repeat(auto-fill, minmax(80px, 1fr)) !important;
  grid-auto-rows: auto !important;}
#s2r-examples .thumbnail-item {width: 100%; height: auto; aspect-ratio: 1 / 1;}
.s2r-error {display: block; padding: 10px 14px; border: 2px solid #ef4444;
  background: rgba(239,68,68,.06); font-size: 14px;}
.s2r-notice {padding: 10px 14px; border-radius: 8px; border: 2px solid #ef4444; font-size: 14px;}
.s2r-empty {color: var(--body-text-color-subdued); padding: 18px; text-align: center;}
@media (max-width: 720px) {
  /* Phone: the photo on its own row, the three models still side by side, each bar under
     its class and percentage. */
  .s2r-card {grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px; padding: 12px;}
  .s2r-thumb {grid-column: 1 / -1; display: flex; gap: 12px; align-items: center;}
  .s2r-thumb img {width: 96px; height: 96px;}
  .s2r-top {font-size: 17px;}
  .s2r-row {grid-template-columns: minmax(0, 1fr) auto; gap: 1px 4px; font-size: 11px;}
  .s2r-row .s2r-bar {order: 3; grid-column: 1 / -1;}
}
"""


def pct(x: float) -> str:
    """A fraction as a percentage with two decimals."""
    return f"{x:.2%}"


def points(x: float) -> str:
    """A difference of fractions in percentage points, signed, two decimals."""
    return f"{x * 100:+.2f}"


def _on(m: dict[str, Any]) -> str:
    n = m.get("selection_real_labels")
    return f" on {n} labeled real photos" if n else ""


def real_labels_words(models: dict[str, Any]) -> str:
    """How many labeled real photos the models trained on (escaped HTML); '' for a card
    from before the count."""
    counts = {r: models[r].get("real_labels") for r in ROLES}
    if any(n is None for n in counts.values()):
        return ""
    if not any(counts.values()):
        words = "None of the three was trained on a labeled real photo (0 real labels each)"
    else:
        words = "Labeled real photos in training: " + ", ".join(
            f"{TITLES[r].lower()} {n}" for r, n in counts.items())
    chosen = models["adapted"].get("selection_real_labels")
    if chosen:
        words += (f"; the adapted model's choice read {chosen} labeled real photos, never the "
                  "test photos")
    return e(words) + "."


def render_header(info: dict[str, Any]) -> str:
    """What the three models are and how well each did on the run's real test photos, the
    differences with their intervals, the target domain: said once, above every card."""
    cls = "/".join(info["classes"])
    rows = []
    for role in ROLES:
        m = info["models"][role]
        lo, hi = m["test_accuracy_ci"]
        chosen = (f" · chosen by {e(m['selection_criterion'])}{_on(m)}"
                  if role == "adapted" and m.get("selection_criterion") else "")
        rows.append(f'<div class="s2r-mrow" data-role="{role}"><b>{TITLES[role]}</b>'
                    f'<span class="s2r-what">{e(WHAT[role])} (<code>{e(m["variant"])}</code>'
                    f'{chosen})</span><span class="s2r-num"><b>{pct(m["test_accuracy"])}</b> '
                    f'<span class="s2r-small">95% CI {pct(lo)}–{pct(hi)}</span></span></div>')
    diffs = []
    for role in ("adapted", "study"):
        d = info["differences"].get(role)
        if d:
            lo, hi = d["ci"]
            diffs.append(f'{TITLES[role]} − {TITLES[d.get("vs", "baseline")].lower()}: '
                         f'<b class="s2r-num">{points(d["diff"])} points</b> '
                         f'<span class="s2r-small">(95% CI {points(lo)} to {points(hi)})</span>')
    n = info["models"]["adapted"].get("test_images")
    over = f" on the run's {n} real test photos" if n else " on the run's real test photos"
    parts = [
        '<div class="s2r-head">',
        (f"<p>Three classifiers of <b>{e(cls)}</b>, each an ImageNet MobileNetV2 backbone with "
         f"a head trained for these classes. Accuracy{over}:</p>"),
        f'<div class="s2r-models">{"".join(rows)}</div>',
        f"<p>{'<br>'.join(diffs)}</p>",
    ]
    gap = info.get("gap_closure")
    if gap:
        ci = gap.get("ci95")
        span = f' <span class="s2r-small">(95% CI {pct(ci[0])}–{pct(ci[1])})</span>' if ci else ""
        claim = info.get("deployed_claim")
        verdict = (f'; the claim that it closes at least {claim["share"]:.0%}: '
                   f'<b>{e(claim["verdict"])}</b>' if claim else "")
        parts.append(f'<p data-gap>The adapted variant closes <b class="s2r-num">'
                     f'{pct(gap["mean"])}</b>{span} of the gap between the baseline and an '
                     f'oracle trained on labeled target photos, over {gap["seeds"]} training '
                     f'seeds{verdict}.</p>')
    labels = real_labels_words(info["models"])
    if labels:
        parts.append(f'<p class="s2r-small" data-real-labels>{labels}</p>')
    if info.get("interval"):
        parts.append(f'<p class="s2r-small">Intervals: {e(info["interval"])}.</p>')
    if not info["adaptation_helps"]:
        parts.append('<p class="s2r-caution" data-verdict="no-help"><b>On this run, adaptation '
                     "does not help:</b> the adapted model is not reliably more accurate than "
                     "the baseline on real photos (the interval of the difference includes zero "
                     "or lies below it).</p>")
    parts.append(f'<p class="s2r-domain"><b>Target domain</b> (what the study and adapted '
                 f'models were adapted to): {e(info["target_domain"].rstrip("."))}. Photos unlike '
                 "these (much larger, other subjects, drawings) may get less reliable answers. "
                 "When every model is below "
                 f'{info["unsure_threshold"]:.0%} confidence the photo is probably none of {e(cls)}: '
                 "the models can only pick among these.</p></div>")
    return "".join(parts)


def render_html(result: dict[str, Any]) -> str:
    """The result cards (one per photo), or a hint when there is nothing to show."""
    rows = result.get("results") or []
    notice = result.get("notice")
    out = [f'<div class="s2r-notice">⚠️ {e(notice)}</div>'] if notice else []
    if not rows and not notice:
        return '<div class="s2r-empty">Upload photos, or click an example, to compare the models.</div>'
    out += [_card(r, result) for r in rows]
    return '<div class="s2r-cards">' + "".join(out) + "</div>"


def _card(r: dict[str, Any], result: dict[str, Any]) -> str:
    name = e(r["file"])
    if r["error"]:
        return (f'<div class="s2r-card s2r-error" data-file="{name}" data-error="{e(r["error_code"])}">'
                f'⚠️ <b>{name}</b>: {e(r["error"])}</div>')
    tops = [r[role]["top_class"] for role in ROLES]
    if r["disagree"]:
        said = ", ".join(f"{TITLES[role].lower()} <b>{e(t)}</b>" for role, t in zip(ROLES, tops))
        verdict = f"The models disagree: {said}."
    else:
        verdict = f"All three say <b>{e(tops[0])}</b>."
    parts = [f'<div class="s2r-card{" s2r-disagree" if r["disagree"] else ""}" data-file="{name}">']
    if r["unsure"]:
        # Leads the card: the models' top class means little when none of them is confident.
        parts.append(f'<div class="s2r-unsure">Probably none of {e("/".join(result["classes"]))}: '
                     f'every model is below {result["unsure_threshold"]:.0%} confidence.</div>')
    label = (f'<div class="s2r-label" data-label="{e(r["label"])}">True label: <b>{e(r["label"])}</b></div>'
             if r.get("label") else "")
    thumb = f'<img src="{r["thumbnail"]}" alt="{name}">' if r.get("thumbnail") else ""
    parts.append(f'<div class="s2r-thumb">{thumb}<div><div class="s2r-file">{name}</div>{label}</div></div>')
    parts += [_model_column(role, r[role]) for role in ROLES]
    parts.append(f'<div class="s2r-verdict">{verdict}</div>')
    parts += [f'<div class="s2r-note">{e(n)}</div>' for n in r["notes"]]
    parts.append("</div>")
    return "".join(parts)


def _model_column(role: str, pred: dict[str, Any]) -> str:
    ranked = sorted(pred["probabilities"].items(), key=lambda kv: -kv[1])
    bars = "".join(
        f'<div class="s2r-row{" s2r-first" if i == 0 else ""}"><span>{e(c)}</span>'
        f'<div class="s2r-bar"><div style="width:{p * 100:.1f}%"></div></div>'
        f'<span>{p:.1%}</span></div>'
        for i, (c, p) in enumerate(ranked)
    )
    mark = ""
    if "correct" in pred:
        ok = pred["correct"]
        mark = (f' <span class="{"s2r-ok" if ok else "s2r-wrong"}" data-correct="{str(ok).lower()}" '
                f'title="{"right" if ok else "wrong"}">{"✓" if ok else "✗"}</span>')
    return (f'<div class="s2r-model" data-role="{role}"><h4>{TITLES[role]}</h4>'
            f'<div class="s2r-top" data-top="{e(pred["top_class"])}">{e(pred["top_class"])}{mark} '
            f'<span class="s2r-conf">{pred["confidence"]:.1%}</span></div>{bars}</div>')
