"""Render REPRODUCTION.md from ``results/*.json`` (``python -m imcpnn.repro.report``; the last step of ``make all``).

Schema shared by every results file (written with :func:`imcpnn.repro.profiles.write_json`, which adds ``profile``
and ``machine``)::

    {"profile": "quick", "machine": {...}, "title": "...",            # title optional
     "paper_comparison": [{"figure": "Fig. 4f", "quantity": "...", "paper": 90.4, "ours": 88.1, "unit": "%",
                           "verdict": "partially", "ours_settings": "M = 3, |E| = 4, 4 epochs, 1 seed",
                           "paper_settings": "M = 10, 50 epochs, 5 seeds", "note": "..."}], ...}

Build rows with :func:`comparison_row`. ``verdict`` must be one of :data:`VERDICTS`, or
``"not comparable (different setting: <what differs>)"``. A row with a missing or invalid verdict makes
:func:`render_file` raise ValueError naming the file and the row; a file in which NO row has a verdict (a results
file from the schema before verdicts) renders as one error row instead, so that stale results show as stale.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imcpnn.repro.paper import Ref
from imcpnn.repro.profiles import repo_root
from imcpnn.store import source_fingerprint

__all__ = ["VERDICTS", "check_verdict", "comparison_row", "render_file", "render", "main"]

VERDICTS = (
    "reproduced",
    "partially",
    "not reproduced",
    "calibrated to the paper (not a reproduction)",
    "beyond the paper",
)
NOT_COMPARABLE = "not comparable (different setting: "
COLUMNS = ("Figure/table", "Quantity", "Paper", "Ours", "Verdict", "Our settings", "Paper settings", "Note")


def check_verdict(verdict: Any) -> str:
    """``verdict`` if it is one of :data:`VERDICTS` or ``"not comparable (different setting: ...)"``."""
    if isinstance(verdict, str):
        if verdict in VERDICTS:
            return verdict
        if verdict.startswith(NOT_COMPARABLE) and verdict.endswith(")") and len(verdict) > len(NOT_COMPARABLE) + 1:
            return verdict
    allowed = ", ".join(repr(v) for v in VERDICTS)
    raise ValueError(f"verdict must be one of {allowed} or 'not comparable (different setting: ...)', got {verdict!r}")


def comparison_row(
    figure: str,
    quantity: str,
    paper: Any,
    ours: Any,
    verdict: str,
    ours_settings: str,
    paper_settings: str | None = None,
    *,
    note: str = "",
    unit: str = "",
) -> dict[str, Any]:
    """One REPRODUCTION.md row; ``paper`` may be a :class:`imcpnn.repro.paper.Ref` (its setting then fills
    ``paper_settings`` unless given)."""
    if isinstance(paper, Ref):
        paper_settings = paper.setting if paper_settings is None else paper_settings
        paper = paper.value
    if not ours_settings:
        raise ValueError(f"ours_settings must name the settings that produced our number ({quantity!r})")
    return {
        "figure": figure,
        "quantity": quantity,
        "paper": paper,
        "ours": ours,
        "unit": unit,
        "verdict": check_verdict(verdict),
        "ours_settings": ours_settings,
        "paper_settings": paper_settings or "",
        "note": note,
    }


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return str(v)
        s = f"{v:.4g}" if isinstance(v, float) else str(v)
        return f"{s} {unit.strip()}" if unit.strip() and unit != "%" else f"{s}{unit.strip()}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def _esc(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _machine(m: dict[str, Any] | None) -> str:
    if not m:
        return "unknown"
    parts = [m.get("processor") or "", f"{m.get('cpu_count')} CPUs" if m.get("cpu_count") else ""]
    if m.get("cuda"):
        parts.append(f"GPU {m['cuda']}")
    parts.append(f"torch {m.get('torch')}" if m.get("torch") else "")
    parts.append(m.get("platform") or "")
    return ", ".join(p for p in parts if p)


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_esc(c) for c in cells) + " |"


def _error_row(text: str) -> list[str]:
    return [_table_row(("–", "–", "–", "–", "ERROR", "–", "–", text)), ""]


def _code_line(recorded: str | None) -> str:
    """Whether the file was written by the code of this tree (:func:`source_fingerprint`)."""
    if not recorded:
        return "Code: version not recorded (written before fingerprints were recorded; `make all` recomputes it)."
    if recorded == source_fingerprint():
        return f"Code: `{recorded}`, the current code."
    return (
        f"Code: `{recorded}`, an EARLIER version of the code than this tree's (`{source_fingerprint()}`); "
        "`make all` recomputes it."
    )


def render_file(name: str, payload: dict[str, Any], verdicts: Counter | None = None) -> str:
    """The Markdown section of one results file; counts its verdicts into ``verdicts`` (and ``"ERROR"``)."""
    verdicts = Counter() if verdicts is None else verdicts
    title = payload.get("title") or name
    lines = [f"## {_esc(str(title))} (`results/{name}`)", ""]
    machine = _esc(_machine(payload.get("machine")))
    lines.append(f"Profile: **{payload.get('profile', 'unknown')}**. Machine: {machine}.")
    lines.append(_code_line(payload.get("code_fingerprint")))
    for key in ("wall_time", "notes"):
        if payload.get(key):
            val = payload[key]
            if isinstance(val, dict):
                val = "; ".join(f"{k}: {_fmt(v)}" for k, v in val.items())
            lines.append(f"{key.replace('_', ' ').capitalize()}: {_esc(str(val))}.")
    lines.append("")
    rows = payload.get("paper_comparison")
    if not rows:
        lines += ["(no paper comparison in this file)", ""]
        return "\n".join(lines)
    lines += [_table_row(COLUMNS), "|" + "---|" * len(COLUMNS)]
    if not any(isinstance(r, dict) and "verdict" in r for r in rows):
        verdicts["ERROR"] += 1
        lines += _error_row(
            f"results/{name} was written by an older schema without verdicts ({len(rows)} rows not shown); "
            "rerun its notebook"
        )
        return "\n".join(lines)
    for i, r in enumerate(rows):
        try:
            verdict = check_verdict(r.get("verdict") if isinstance(r, dict) else None)
        except ValueError as err:
            what = r.get("quantity", "") if isinstance(r, dict) else r
            raise ValueError(f"results/{name}, paper_comparison row {i} ({what!r}): {err}") from None
        unit = r.get("unit", "")
        verdicts[verdict.split(" (")[0]] += 1
        lines.append(
            _table_row(
                (
                    str(r.get("figure", "")),
                    str(r.get("quantity", "")),
                    _fmt(r.get("paper"), unit),
                    _fmt(r.get("ours"), unit),
                    verdict,
                    str(r.get("ours_settings", "")),
                    str(r.get("paper_settings", "")),
                    str(r.get("note", "")),
                )
            )
        )
    lines.append("")
    return "\n".join(lines)


def _header(verdicts: Counter, profiles: Counter) -> str:
    order = [v.split(" (")[0] for v in VERDICTS]
    order.insert(3, "not comparable")
    counts = ", ".join(f"{verdicts[v]} {v}" for v in order if verdicts[v])
    n_err = verdicts["ERROR"]
    errors = f"; {n_err} results file(s) could not be tabled (see the ERROR rows)" if n_err else ""
    made = ", ".join(f"{n} in `{p}`" for p, n in sorted(profiles.items())) or "none"
    return f"""# Reproduction status

Numbers of arXiv 2412.09010v1 beside ours, generated by `python -m imcpnn.repro.report` from the results files
as the last step of `make all`; do not edit by hand. Each row carries a verdict and the settings that produced our
number beside the paper's; a row says "reproduced" only where its own settings support it. `smoke` = seconds-sized
problems, `quick` = reduced epochs / seeds / data on a 2-core CPU, `paper` = the paper's settings.

Results files by profile: {made}. Verdicts: {counts or "none"}{errors}.
"""


def render(results_dir: Path) -> str:
    """REPRODUCTION.md text from every ``*.json`` in ``results_dir``."""
    files = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    verdicts: Counter = Counter()
    profiles: Counter = Counter()
    parts = []
    for f in files:
        try:
            payload = json.loads(f.read_text())
        except json.JSONDecodeError as err:
            verdicts["ERROR"] += 1
            table = [_table_row(COLUMNS), "|" + "---|" * len(COLUMNS), *_error_row(f"unreadable: {err}")]
            parts.append(f"## `results/{f.name}`\n\n" + "\n".join(table))
            continue
        if isinstance(payload, dict):
            profiles[str(payload.get("profile", "unknown"))] += 1
            parts.append(render_file(f.name, payload, verdicts))
    if not files:
        parts.append("No results yet.\n")
    return "\n".join([_header(verdicts, profiles), *parts]).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> Path:
    p = argparse.ArgumentParser(prog="python -m imcpnn.repro.report", description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=repo_root() / "results")
    p.add_argument("--out", type=Path, default=repo_root() / "REPRODUCTION.md")
    args = p.parse_args(argv)
    text = render(args.results)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
