"""The fold-in quality benchmark's report: its table with and without the PseudoRec baseline."""

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_foldin_quality as bench  # noqa: E402


def report_for(baseline_users):
    """The report of a run where GMF ranks each user's test movie first and popularity never does."""
    args = SimpleNamespace(held_out=0.1, epochs=[], models=["gmf"], no_retrain=True)
    scores, seconds = bench.Scores(), {("gmf", "train"): 1.0}
    per_user = {n: {0: ([1], [2]), 1: ([1], [3])} for n in bench.REVEALED}
    for n in bench.REVEALED:
        seconds[("gmf", n)] = 0.001
        for _, test in per_user[n].values():
            scores.add("gmf", n, test + [9], test)
            scores.add("popularity", n, [7, 8, *test], test)
            if baseline_users:
                scores.add("pseudorec", n, test, test)
                seconds[("pseudorec", n)] = 0.5
    served = {n: list(per_user[n].values())[:baseline_users] for n in bench.REVEALED}
    text, _ = bench.report(args, 0, {"gmf": "defaults"}, scores, seconds, per_user, served)
    return text


def test_the_report_leaves_out_pseudorec_when_it_served_no_user():
    text = report_for(baseline_users=0)
    assert "pseudorec" not in text and "**gmf fold-in**" in text


def test_the_report_has_a_pseudorec_row_when_it_served_users():
    assert "pseudorec (fresh NGCF, 10 epochs)" in report_for(baseline_users=2)
