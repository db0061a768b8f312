"""Users for the tests that sign up, log in and comment (a pytest plugin of the root conftest)."""

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "a-long-test-password-42"


@pytest.fixture
def fast_password_hashing(settings):
    """MD5 instead of PBKDF2's million rounds: these tests log in, they do not test hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(fast_password_hashing, db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)
