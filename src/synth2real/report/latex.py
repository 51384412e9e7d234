"""Building the paper PDF with latexmk, failing with the log's first error.

The LaTeX source lives in the repository (`paper/main.tex`); the generated
tables and figures live under the run's working directory (`paper/tables/`,
`paper/figures/`). latexmk runs inside the run's `paper/` folder so both are
found by their relative paths, and writes everything to `paper/build/`,
where `main.log` stays for auditing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from synth2real.errors import Synth2RealError

log = logging.getLogger(__name__)


class LatexError(Synth2RealError):
    """The paper did not compile; the message carries the log's first error."""


def first_error(log_text: str, context: int = 6) -> str | None:
    """The first TeX error of a log (the `! ...` line and the lines that locate it)."""
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("! ") or re.match(r"^\S+\.(tex|sty|cls):\d+: ", line):
            block = [line]
            for nxt in lines[i + 1:i + 1 + context]:
                block.append(nxt)
                if re.match(r"^l\.\d+", nxt):  # TeX's "l.<line> <source>" locator ends the block
                    break
            return "\n".join(block).rstrip()
    return None


def build(tex_source: str | Path, paper_dir: str | Path, out_pdf: str | Path,
          build_dir: str = "build", latexmk: str = "latexmk") -> Path:
    """Compile `tex_source` inside `paper_dir` (outputs in `paper_dir/build_dir`) to `out_pdf`.

    Returns the kept LaTeX log. Raises `LatexError` with the log's first error.
    """
    exe = shutil.which(latexmk)
    if exe is None:
        raise LatexError(
            "latexmk not found: the paper needs a TeX installation "
            "(Debian: `make system-deps`, i.e. apt-get install latexmk texlive-latex-extra)"
        )
    tex_source, paper_dir = Path(tex_source).resolve(), Path(paper_dir).resolve()
    job = tex_source.stem
    out = paper_dir / build_dir
    out.mkdir(parents=True, exist_ok=True)
    # The source folder stays on TeX's search path (for anything it \inputs
    # from the repository); the run's paper/ folder comes first.
    env = {**os.environ, "TEXINPUTS": f".:{tex_source.parent}//:"}
    cmd = [exe, "-pdf", "-g", "-interaction=nonstopmode", "-halt-on-error",
           f"-outdir={build_dir}", f"-jobname={job}", str(tex_source)]
    log.info("running %s (in %s)", " ".join(cmd), paper_dir)
    proc = subprocess.run(cmd, cwd=paper_dir, env=env, capture_output=True, text=True,
                          check=False)
    tex_log = out / f"{job}.log"
    if proc.returncode != 0:
        text = tex_log.read_text(errors="replace") if tex_log.is_file() else ""
        err = first_error(text) or (proc.stdout + proc.stderr)[-2000:]
        raise LatexError(f"LaTeX failed on {tex_source.name} (full log: {tex_log}):\n{err}")
    pdf = out / f"{job}.pdf"
    Path(out_pdf).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, out_pdf)
    warnings = [ln for ln in tex_log.read_text(errors="replace").splitlines()
                if "undefined" in ln and "Warning" in ln]
    for w in warnings:
        log.warning("%s", w)
    log.info("wrote %s (log kept at %s)", out_pdf, tex_log)
    return tex_log


def build_paper(tex: str, pdf: str, latex: str) -> None:
    """Rule paper: `pdf` from the LaTeX source `tex`, built in the folder of the LaTeX log
    `latex` (below `pdf`'s)."""
    paper_dir = Path(pdf).parent
    kept = build(tex, paper_dir, pdf, build_dir=str(Path(latex).parent.relative_to(paper_dir)))
    if kept.resolve() != Path(latex).resolve():
        shutil.copyfile(kept, latex)
