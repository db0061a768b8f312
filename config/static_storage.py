"""Static-file storages that compute each file's URL once per process.

Every page asks for the same few URLs ({% static %} in the layout); the
manifest lookup, hashing and quoting behind each answer are the same every
time once the files are collected.
"""

from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class _RemembersUrls:
    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        urls = self.__dict__.setdefault("_urls", {})
        if name not in urls:
            urls[name] = super().url(name)
        return urls[name]


class CompressedManifestStorage(_RemembersUrls, CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed, compressed files (after collectstatic)."""


class PlainStorage(_RemembersUrls, StaticFilesStorage):
    """Files under their own names (a fresh checkout, tests)."""
