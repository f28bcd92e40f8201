"""Keys and trust: Ed25519 key ids, the root → authority → producer hierarchy, the keystore,
certifications, revocations, the signed trust list and the offline verifier.

- ids: key ids and public key text; signing: SigningKey, LabelSigner, verify_document
- certs: key certificates, revocations, rotation, and issuing star certifications
- keystore: encrypted private keys on disk; registry: the issuing office's documents
- trustlist: the signed, expiring trust list; verifier: verify_label, verify_event
- cli (ocop-keys) and verify_cli (ocop-verify): thin command-line layers
"""
