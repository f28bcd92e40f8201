"""Keys and trust: Ed25519 key ids, the root → authority → producer hierarchy, the keystore,
certifications, revocations, the signed trust list and the offline verifier."""
