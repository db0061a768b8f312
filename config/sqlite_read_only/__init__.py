"""SQLite read-only, the URI chosen per connection (config/env.py, sqlite_read_only_name)."""
