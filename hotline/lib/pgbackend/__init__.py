"""Django's PostgreSQL backend with a leaner cursor execute (``ENGINE = "hotline.lib.pgbackend"``).

The server receives the same bytes as with Django's own cursor (psycopg's client-side binding); only the
client's way of sending them and reading the result is shorter. See :mod:`hotline.lib.pgbackend.cursor`.
"""
