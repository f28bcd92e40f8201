"""The packing station: batches, unit labels, scans at packing, and the outbox to Kafka."""
