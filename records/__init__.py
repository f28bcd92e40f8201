"""The records in Cassandra: the one package that talks to the records' tables.

Processors write through `RecordWriter`; the verify API reads through `RecordReader`, which
has no write method. Table layouts live in infra/migrations; rows come back as the small
frozen dataclasses of `records.rows`, never as driver rows, so callers do not depend on the
driver.
"""
