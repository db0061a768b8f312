"""Requests against the site in a process of its own, for tests that put its
database in a state a test process cannot share (a read-only folder, a lock
held by another connection): ``python -m tests.site_probe 'JSON'``, where the
JSON is a list of [method, path, body or null]; prints one JSON line of
[status, first 300 characters of the answer] per request. Before each request
it writes "probe: sending METHOD PATH" to stderr, for a test that changes the
database's state while a request is under way.

The visitor keeps its cookies across the requests, as a browser does. Every
setting comes from the environment, as for the site itself."""

import json
import sys


def main():
    import django

    django.setup()
    from tests.services import Browser

    browser = Browser()
    results = []
    for method, path, body in json.loads(sys.argv[1]):
        print(f"probe: sending {method} {path}", file=sys.stderr, flush=True)
        response = browser.open(path) if method == "GET" else browser.post_events(body)
        results.append([response.status_code, response.content[:300].decode("utf-8", "replace")])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
