import pytest


@pytest.fixture(autouse=True)
def experiments_provider():
    """The app's provider for Top picks, as ready() registers it: a test
    elsewhere that registers its own and then unregisters it leaves none."""
    from experiments.provider import provide
    from predictors import surfaces

    surfaces.register_provider(surfaces.TOP_PICKS, provide(surfaces.TOP_PICKS))
