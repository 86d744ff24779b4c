"""The service's database: tables, migrations, reads and writes, and the corrections export.

SQLite by default (one embedded file), PostgreSQL through `DATABASE_URL`. Built on the library
and on training (the audit list), used by the service and the command line.
"""
