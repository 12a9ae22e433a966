"""REPRODUCTION.md rendering (imcpnn.repro.report): verdicts are required and checked, old schemas show as errors,
the header counts only what the rows show."""

import json

import pytest

from imcpnn.repro import report
from imcpnn.repro.paper import DSTD_COST, Ref


def _row(**kw):
    base = dict(
        figure="Fig. 3d",
        quantity="exact / DSTD time",
        paper=30.0,
        ours="60x",
        verdict="reproduced",
        ours_settings="N_in = 1000, CPU",
        paper_settings="V100",
    )
    return {**base, **kw}


def test_allowed_verdicts():
    for v in report.VERDICTS:
        assert report.check_verdict(v) == v
    assert report.check_verdict("not comparable (different setting: CPU vs GPU)")
    for bad in ("ok", "Reproduced", "not comparable", "not comparable (different setting: )", None, 1):
        with pytest.raises(ValueError, match="verdict must be one of"):
            report.check_verdict(bad)


def test_comparison_row_takes_the_papers_setting_from_a_ref():
    r = report.comparison_row("Fig. 3d", "q", DSTD_COST["rc_exact_over_dstd_time"], "60x", "partially", "ours")
    assert r["paper"] == 30.0 and "V100" in r["paper_settings"]
    r2 = report.comparison_row("Fig. 1", "q", Ref(1.0, "Fig. 1", "a"), 2.0, "partially", "ours", "given")
    assert r2["paper_settings"] == "given"
    with pytest.raises(ValueError, match="verdict"):
        report.comparison_row("Fig. 1", "q", 1.0, 2.0, "great", "ours")
    with pytest.raises(ValueError, match="ours_settings"):
        report.comparison_row("Fig. 1", "q", 1.0, 2.0, "partially", "")


def test_render_file_has_all_columns():
    text = report.render_file("x.json", {"profile": "quick", "paper_comparison": [_row()]})
    header = next(line for line in text.splitlines() if line.startswith("| Figure/table"))
    assert [c.strip() for c in header.strip("|").split("|")] == list(report.COLUMNS)
    assert "| reproduced | N_in = 1000, CPU | V100 |" in text


def test_invalid_or_missing_verdict_raises_naming_file_and_row():
    with pytest.raises(ValueError, match=r"results/x\.json, paper_comparison row 1 \('second'\)"):
        report.render_file("x.json", {"paper_comparison": [_row(), _row(quantity="second", verdict="good")]})
    with pytest.raises(ValueError, match=r"row 1"):
        bad = _row(quantity="no verdict")
        del bad["verdict"]
        report.render_file("x.json", {"paper_comparison": [_row(), bad]})


def test_old_schema_renders_as_an_error_row(tmp_path):
    old = {"profile": "quick", "paper_comparison": [{"figure": "Fig. 4f", "quantity": "acc", "paper": 90, "ours": 88}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps({"profile": "quick", "paper_comparison": [_row()]}))
    text = report.render(tmp_path)
    assert "| ERROR |" in text and "older schema without verdicts" in text
    assert "| 88 |" not in text  # the unverdicted number is not shown as if it were a result
    assert "Verdicts: 1 reproduced; 1 results file(s) could not be tabled" in text


def test_header_counts_the_rows(tmp_path):
    rows = [
        _row(),
        _row(verdict="partially"),
        _row(verdict="not comparable (different setting: CPU)"),
        _row(verdict="calibrated to the paper (not a reproduction)"),
    ]
    (tmp_path / "a.json").write_text(json.dumps({"profile": "quick", "paper_comparison": rows}))
    text = report.render(tmp_path)
    assert "Verdicts: 1 reproduced, 1 partially, 1 not comparable, 1 calibrated to the paper." in text
    assert "all" not in text.split("Verdicts:")[0].lower().split()  # no blanket claim in the header


def test_unreadable_file_and_main(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    out = report.main(["--results", str(tmp_path), "--out", str(tmp_path / "R.md")])
    text = out.read_text()
    assert "unreadable" in text and "| ERROR |" in text


def test_rendered_once_by_make_not_by_a_notebook():
    from imcpnn.repro.profiles import repo_root

    root = repo_root()
    for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")):
        text = nb.read_text()
        assert "report.main(" not in text and "report.render(" not in text, nb.name
    make = (root / "Makefile").read_text()
    all_rule = make.split("\nall:", 1)[1].split("\n\n", 1)[0]
    assert "imcpnn.repro.report" in all_rule  # the last step of `make all`


def test_results_record_their_code_and_the_report_tells_current_from_earlier(tmp_path):
    from imcpnn.repro.profiles import write_json
    from imcpnn.store.fingerprint import source_fingerprint

    path = write_json(tmp_path / "x.json", {"paper_comparison": []}, profile="smoke")
    recorded = json.loads(path.read_text())["code_fingerprint"]
    assert recorded == source_fingerprint() and len(recorded) == 16
    assert "the current code" in report.render_file("x.json", {"code_fingerprint": recorded})
    older = report.render_file("x.json", {"code_fingerprint": "0123456789abcdef"})
    assert "EARLIER version" in older and "make all" in older
    assert "not recorded" in report.render_file("x.json", {})
