"""A tuned version's Optuna trials on its admin page: a table and a plot."""

from tests.dashboard_helpers import admin_client_, admin_user, make_version, store  # noqa: F401

TUNING = {
    "best_value": 0.2345,
    "seconds": 61.0,
    "trials": [
        {"number": 0, "params": {"dim": 64, "lr": 0.01}, "value": 0.2001, "duration": 20.0, "state": "COMPLETE"},
        {"number": 1, "params": {"dim": 128, "lr": 0.003}, "value": 0.2345, "duration": 22.0, "state": "COMPLETE"},
        {"number": 2, "params": {"dim": "<b>x</b>", "lr": 0.02}, "value": None, "duration": 3.0, "state": "FAIL"},
    ],
}


def detail(client, version):
    return client.get(f"/admin/predictors/modelversion/{version.pk}/change/").content.decode()


def test_the_trials_of_a_tuned_version_are_shown_as_a_table_and_a_plot(admin_client_, store):
    version = make_version(store, hyperparameters={"dim": 128, "lr": 0.003, "tuning": TUNING})
    html = detail(admin_client_, version)
    section = html.split("Tuning: 3 trials on the validation split", 1)[1].split("</fieldset>", 1)[0]
    rows = section.split("<tbody>", 1)[1].split("<tr")[1:]
    assert len(rows) == 3
    assert "dim=64, lr=0.01" in rows[0] and "0.2001" in rows[0]
    assert "(best)" in rows[1] and "dim=128, lr=0.003" in rows[1] and "0.2345" in rows[1]
    assert "FAIL" in rows[2] and "–" in rows[2]
    # The plot: a dot per trial with a value and the best-so-far line, as server-drawn SVG.
    svg = section.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<circle") >= 2 and "<polyline" in svg and "trial 1: 0.2345" in svg
    assert "<script" not in section
    # Trial parameters are escaped, and the tuning record is not repeated among the hyper-parameters.
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<th>tuning</th>" not in html


def test_the_kept_epoch_is_shown_for_new_trials_and_for_ones_stored_as_best_epoch(admin_client_, store):
    trials = [
        {"number": 0, "params": {"dim": 64}, "value": 0.2001, "kept_epoch": 7, "state": "COMPLETE"},
        {"number": 1, "params": {"dim": 128}, "value": 0.2345, "best_epoch": 12, "state": "COMPLETE"},  # stored before
    ]
    version = make_version(store, hyperparameters={"dim": 128, "tuning": {**TUNING, "trials": trials}})
    section = detail(admin_client_, version).split("Tuning: 2 trials", 1)[1].split("</fieldset>", 1)[0]
    rows = section.split("<tbody>", 1)[1].split("<tr")[1:]
    assert "<th>kept epoch</th>" in section
    assert "<td>7</td>" in rows[0] and "<td>12</td>" in rows[1]


def test_an_untuned_version_has_no_tuning_section(admin_client_, store):
    html = detail(admin_client_, make_version(store))
    assert "Tuning:" not in html and "tuning-search" not in html
