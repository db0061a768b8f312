"""The event contract other apps rely on: client event ids, the like /
not_interested / rating_cleared / impression types, and bounded details;
inline here, through Kafka in test_kafka.py."""

import json
import uuid

import pytest

from events.history import delete_history, visitor_history, visitor_rating, visitor_ratings
from events.models import ClickEvent
from movie.models import Movie
from tests.services import Browser


@pytest.fixture
def browser(catalog):
    return Browser()


@pytest.fixture
def movies(catalog):
    return list(Movie.objects.filter(dataset=catalog).order_by("pk").values_list("pk", flat=True)[:3])


def test_a_retry_with_the_same_event_id_is_stored_once(browser, movies):
    event_id = str(uuid.uuid4())
    for _ in range(3):
        response = browser.post_events([{"type": "click", "movie_id": movies[0], "event_id": event_id}])
        assert response.status_code == 202 and response.json()["ids"] == [event_id]
    assert list(ClickEvent.objects.values_list("event_id", flat=True)) == [uuid.UUID(event_id)]


def test_another_visitor_reusing_an_id_neither_overwrites_nor_hides_the_first(browser, movies):
    event_id = str(uuid.uuid4())
    browser.post_events([{"type": "rating", "movie_id": movies[0], "rating": 4.5, "event_id": event_id}])
    attacker = Browser()
    attacker.post_events([{"type": "rating", "movie_id": movies[0], "rating": 0.5, "event_id": event_id}])
    assert visitor_ratings(browser.visitor_key()) == {movies[0]: 4.5}
    assert visitor_ratings(attacker.visitor_key()) == {movies[0]: 0.5}


def test_new_types_and_details_reach_the_history(browser, movies):
    shown = {"experiment": 7, "surface": "top_picks", "shown": movies, "credits": ["a", "b", "a"]}
    impression = browser.post_events([{"type": "impression", "details": shown}]).json()["ids"][0]
    browser.post_events(
        [
            {"type": "click", "movie_id": movies[1], "details": {"impression": impression}},
            {"type": "like", "movie_id": movies[0]},
            {"type": "not_interested", "movie_id": movies[2]},
        ]
    )
    key = browser.visitor_key()
    history = visitor_history(key)  # impressions only when asked for
    assert [(e.event_type, e.movie_id) for e in history] == [
        ("not_interested", movies[2]),
        ("like", movies[0]),
        ("click", movies[1]),
    ]
    assert history[2].details == {"impression": impression} and history[0].details == {}
    [stored] = visitor_history(key, event_types=("impression",))
    assert (stored.event_id, stored.movie_id, stored.details) == (impression, None, shown)


@pytest.mark.parametrize("details", ['{"q": "\\ud800"}', '{"\\udfff": 1}', '{"a": ["ok", {"b": "x\\udc00y"}]}'])
def test_details_with_half_a_surrogate_pair_are_a_400_on_every_database(browser, movies, details):
    # JSON can escape half of a UTF-16 pair; MySQL's JSON check refused it with a 500.
    body = '{"events": [{"type": "click", "movie_id": %d}, {"type": "click", "movie_id": %d, "details": %s}]}'
    answer = browser.post_events(body % (movies[0], movies[1], details))
    assert answer.status_code == 400
    assert "valid Unicode" in answer.json()["error"]
    assert visitor_history(browser.visitor_key()) == []  # the batch is refused whole


def test_a_cleared_rating_leaves_no_rating(browser, movies):
    browser.rate(movies[0], 4.0)
    browser.post_events([{"type": "rating_cleared", "movie_id": movies[0]}])
    key = browser.visitor_key()
    assert visitor_rating(key, movies[0]) is None and visitor_ratings(key) == {}
    browser.rate(movies[0], 2.0)
    assert visitor_rating(key, movies[0]) == 2.0


DEEP = {"a": {"b": {"c": {"d": 1}}}}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "click", "movie_id": 1, "event_id": "1234"}, "event_id must be a UUID"),
        ({"type": "click", "movie_id": 1, "event_id": 5}, "event_id must be a UUID"),
        ({"type": "click", "movie_id": 1, "details": [1]}, "details must be a JSON object"),
        ({"type": "click", "movie_id": 1, "details": DEEP}, "at most 3 levels deep"),
        ({"type": "click", "movie_id": 1, "details": {"x": "y" * 2100}}, "at most 2048 bytes"),
        ({"type": "like", "movie_id": 1, "rating": 4}, "carries no rating"),
        ({"type": "rating_cleared", "movie_id": 1, "rating": 4}, "carries no rating"),
        ({"type": "not_interested"}, "movie_id must be a positive whole number"),
        ('{"type": "click", "movie_id": ' + "9" * 5000 + "}", "numbers may have at most"),
        ('{"type": "rating", "movie_id": 1, "rating": ' + "9" * 5000 + "}", "numbers may have at most"),
        ('{"type": "rating", "movie_id": 1, "rating": NaN}', "not a JSON number"),
    ],
)
def test_bad_events_are_refused_with_a_sentence_and_nothing_stored(browser, event, message):
    body = event if isinstance(event, str) else json.dumps(event)
    response = browser.post_events('{"events": [' + body + "]}")
    assert response.status_code == 400 and message in response.json()["error"]
    assert ClickEvent.objects.count() == 0


def test_one_request_may_not_repeat_an_event_id(browser, movies):
    event_id = str(uuid.uuid4())
    same = [{"type": "click", "movie_id": movies[0], "event_id": event_id}] * 2
    assert browser.post_events(same).status_code == 400


def test_delete_history_removes_only_the_visitors_own_events(browser, movies):
    event_id = str(uuid.uuid4())
    browser.post_events([{"type": "click", "movie_id": movies[0], "event_id": event_id}])
    other = Browser()
    other.post_events([{"type": "click", "movie_id": movies[0], "event_id": event_id}])
    assert delete_history(browser.visitor_key(), [event_id]) == 1
    assert visitor_history(browser.visitor_key()) == [] and len(visitor_history(other.visitor_key())) == 1


def test_a_read_only_data_folder_is_reported_in_one_sentence(tmp_path):
    from pathlib import Path

    from events.data_folder import read_only_sentence

    assert read_only_sentence(tmp_path) is None
    sentence = read_only_sentence(Path("/proc"))  # writable by nobody, root included
    assert sentence.startswith("The data folder /proc is read-only") and sentence.count(". ") == 0
