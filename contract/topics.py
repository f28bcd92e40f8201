"""Kafka topic names and the key of every message on them.

Part of the contract: producers send with these keys, processors consume these names.
The key decides the partition, and Kafka keeps order only within a partition, so a key is
chosen for the order that matters (all events of one batch, in the order they happened).
Partition counts, retention and replication are deployment settings (infra/topics.py).
"""

from __future__ import annotations

BATCH_EVENTS = "ocop.batch-events"
"""A batch's life (opened, units packed, closed, shipped, received, recalled). Key: batch id."""

AUTHORITY_EVENTS = "ocop.authority-events"
"""Registrations and star certifications from the authorities. Key: product or producer id."""

SCAN_EVENTS = "ocop.scan-events"
"""One per QR resolution at the verify API. Key: the unit's code, so one unit's scans meet."""

TRUST_LISTS = "ocop.trust-lists"
"""The root-signed trust lists, newest version wins. Key: b"trust-list". Compacted."""

ALERTS = "ocop.alerts"
"""Counterfeit analytics' findings for inspectors. Key: the unit's code."""

DEAD_LETTER = "ocop.dead-letter"
"""Events a processor refused, with the reason. Key: the original message's key."""

AUDIT_LEAVES = "ocop.audit-leaves"
"""The audit log's sequencer: one leaf (auditlog.leaves) per fact the processors stored, read
in order by the one log writer. ONE partition: its order is the log's. Key: the leaf's id."""
