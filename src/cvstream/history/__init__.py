"""The answer history: one SQLite database (the only user of sqlite3), its schema, recording and queries.

`db` opens it (location, permissions, WAL, migrations), `store` records answers as they stream, and
`queries` reads them back for `cvstream log` and `--continue`. Nothing here is imported by `--help`.
"""
