import pytest
import torch


@pytest.fixture
def model_store(settings, tmp_path):
    """Artifacts under the test's own folder; training on one torch thread, as the commands set it."""
    settings.MODEL_STORE_URI = str(tmp_path / "models")
    settings.MODEL_TRAINING_THREADS = 1
    yield
    torch.set_num_threads(1)


@pytest.fixture
def fresh_predictors():
    """Each test's database reuses primary keys: forget what earlier tests loaded."""
    from django.core.cache import cache

    from predictors import home_rows, serving

    serving.reset_predictors()
    home_rows.reset_cache()
    cache.clear()
    yield
    serving.reset_predictors()
    home_rows.reset_cache()
