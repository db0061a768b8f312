"""Generated posters tell movies apart without repeating the card's text."""

from movie.posters import render_poster


def test_posters_differ_per_movie_and_do_not_repeat_the_card_title():
    trilogy = ["Action", "Adventure", "Romance", "Sci-Fi", "War"]
    posters = [
        render_poster(title, year, trilogy)
        for title, year in [("Star Wars", 1977), ("Empire Strikes Back, The", 1980), ("Return of the Jedi", 1983)]
    ]
    # Same genres, yet each film has its own composition (emblem, backdrop, colours).
    assert len({poster.split("</defs>", 1)[1].split("<text", 1)[0] for poster in posters}) == 3
    visible_text = posters[0].split("</defs>", 1)[1]
    assert "Star Wars" not in visible_text and ">SW<" in visible_text
    assert 'aria-label="Star Wars (1977)"' in posters[0]
