"""The demo's result cards: HTML for a `Comparer.compare` result, and the page's CSS.

Pure string building (no Gradio), so the cards are unit-tested with the
comparison and timed by `bench_serving` without a server.
"""

from __future__ import annotations

import html
from typing import Any

from synth2real.serve.compare import ROLES, pct_or_na

TITLES = {"baseline": "Baseline", "adapted": "Adapted"}

CSS = """
.s2r-cards {display: flex; flex-direction: column; gap: 14px;}
.s2r-card {display: grid; grid-template-columns: 150px 1fr 1fr; gap: 18px; align-items: start;
  padding: 14px 16px; border-radius: 12px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary);}
.s2r-card.s2r-disagree {border: 2px solid #f59e0b; box-shadow: 0 0 0 3px rgba(245,158,11,.15);}
.s2r-card.s2r-error {grid-template-columns: 1fr; border: 2px solid #ef4444;
  background: rgba(239,68,68,.06);}
.s2r-thumb img {width: 150px; height: 150px; object-fit: cover; border-radius: 8px;
  display: block; background: #ddd;}
.s2r-file {font-size: 12px; color: var(--body-text-color-subdued); margin-top: 6px;
  word-break: break-all;}
.s2r-model h4 {margin: 0 0 2px 0; font-size: 15px;}
.s2r-variant {font-size: 12px; color: var(--body-text-color-subdued); margin-bottom: 8px;}
.s2r-top {font-size: 22px; font-weight: 700; margin: 2px 0 8px 0;}
.s2r-top .s2r-conf {font-size: 14px; font-weight: 500; color: var(--body-text-color-subdued);}
.s2r-row {display: grid; grid-template-columns: 48px 1fr 52px; gap: 8px; align-items: center;
  font-size: 13px; margin: 3px 0;}
.s2r-bar {height: 10px; border-radius: 5px; background: var(--border-color-primary);
  overflow: hidden;}
.s2r-bar > div {height: 100%; border-radius: 5px; background: #94a3b8;}
.s2r-baseline .s2r-row.s2r-first .s2r-bar > div {background: #6366f1;}
.s2r-adapted .s2r-row.s2r-first .s2r-bar > div {background: #10b981;}
.s2r-verdict {grid-column: 1 / -1; font-size: 14px; padding: 8px 12px; border-radius: 8px;
  background: rgba(16,185,129,.10);}
.s2r-disagree .s2r-verdict {background: rgba(245,158,11,.16); font-weight: 600;}
.s2r-unsure {grid-column: 1 / -1; font-size: 14px; padding: 8px 12px; border-radius: 8px;
  border-left: 4px solid #6366f1;
  background: rgba(99,102,241,.10);}
.s2r-note {grid-column: 1 / -1; font-size: 12px; color: var(--body-text-color-subdued);}
.s2r-errmsg {font-size: 14px;}
.s2r-empty {color: var(--body-text-color-subdued); padding: 24px; text-align: center;}
@media (max-width: 720px) {.s2r-card {grid-template-columns: 1fr;}}
"""


def render_html(result: dict[str, Any]) -> str:
    """The result cards; every user-supplied string (file names, messages) is escaped."""
    rows = result.get("results") or []
    if not rows:
        return '<div class="s2r-empty">Upload photos (or click an example) to compare the models.</div>'
    cls = "/".join(result["classes"])
    cards = [_card(r, result, cls) for r in rows]
    return '<div class="s2r-cards">' + "".join(cards) + "</div>"


def _card(r: dict[str, Any], result: dict[str, Any], cls: str) -> str:
    e = html.escape
    if r["error"]:
        return (f'<div class="s2r-card s2r-error" data-file="{e(r["file"])}">'
                f'<div class="s2r-errmsg">⚠️ <b>Could not classify {e(r["file"])}</b><br>'
                f'{e(r["error"])}</div></div>')
    b, a = r["baseline"]["top_class"], r["adapted"]["top_class"]
    if r["disagree"]:
        verdict = (f"⚡ The models disagree: baseline says <b>{e(b)}</b>, "
                   f"adapted says <b>{e(a)}</b>.")
    else:
        verdict = f"✓ Both models say <b>{e(a)}</b>."
    parts = [
        (f'<div class="s2r-card{" s2r-disagree" if r["disagree"] else ""}" '
         f'data-file="{e(r["file"])}">'),
        (f'<div class="s2r-thumb"><img src="{r["thumbnail"]}" alt="{e(r["file"])}">'
         f'<div class="s2r-file">{e(r["file"])}</div></div>'),
        *(_model_column(role, r[role], result["models"][role]) for role in ROLES),
        f'<div class="s2r-verdict">{verdict}</div>',
    ]
    if r["unsure"]:
        parts.append(
            f'<div class="s2r-unsure"><b>Probably none of {e(cls)}</b>: both models are below '
            f'{result["unsure_threshold"]:.0%} confidence.</div>')
    parts += [f'<div class="s2r-note">{e(n)}</div>' for n in r["notes"]]
    parts.append("</div>")
    return "".join(parts)


def _model_column(role: str, pred: dict[str, Any], info: dict[str, Any]) -> str:
    e = html.escape
    ranked = sorted(pred["probabilities"].items(), key=lambda kv: -kv[1])  # top-k, all C here
    bars = "".join(
        f'<div class="s2r-row{" s2r-first" if i == 0 else ""}"><span>{e(c)}</span>'
        f'<div class="s2r-bar"><div style="width:{p * 100:.1f}%"></div></div>'
        f'<span>{p:.1%}</span></div>'
        for i, (c, p) in enumerate(ranked)
    )
    acc = pct_or_na(info["test_accuracy"])
    return (f'<div class="s2r-model s2r-{role}" data-role="{role}">'
            f'<h4>{TITLES[role]}</h4>'
            f'<div class="s2r-variant">{e(info["variant"])} · real-test accuracy {acc}</div>'
            f'<div class="s2r-top" data-top="{e(pred["top_class"])}">{e(pred["top_class"])} '
            f'<span class="s2r-conf">{pred["confidence"]:.1%}</span></div>{bars}</div>')
