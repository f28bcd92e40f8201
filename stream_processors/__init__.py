"""The Faust app: the only writer of records (ingest, certification, scan analytics)."""
