"""The audit log: a transparency log of our records, in the formats the wider world checks.

This package owns the pure core of the log and nothing that does I/O: the leaves and the
RFC 9162 Merkle tree over them, signed checkpoints of its head, inclusion and consistency
proofs, the C2SP tiles a static server publishes, witness cosignatures and the offline
proof bundle a phone or an inspector can check. Formats follow the C2SP specifications
(signed-note, tlog-checkpoint, tlog-cosignature, tlog-tiles, tlog-proof) so that Go's
sumdb/note, transparency-dev/merkle and the public witnesses read what we write.

The pure core imports contract/ and keys/ only; services import it, never the reverse.
Beside it, the log's services (docs/auditlog.md), which also use records/ and infra/:

- leaves: the entries the processors publish to the sequencer (pure)
- edge: the growing right edge of the tree the writer holds (pure)
- writer: `ocop-log`, the sequencer's one reader, building the tree in Cassandra
- witness: `ocop-witness`, checking and cosigning each new checkpoint
- settings: the OCOP_LOG_* and OCOP_WITNESS_* settings

- merkle: leaf and node hashes, roots, inclusion and consistency proofs and their checks
- note: signed notes, Ed25519 signers and verifier keys
- checkpoint: the log's signed tree head
- cosignature: witness cosignatures and the k-of-n witness policy
- tiles: tile and entry bundle paths and contents, and a tile-backed hash reader
- proof: the offline tlog-proof bundle

Checks that answer yes or no return a verdict carrying a reason code; functions that return
verified content raise an error carrying a reason code instead, and parsing errors (the
bytes are not what they claim to be) are ValueErrors, apart from failed cryptographic checks.
"""
