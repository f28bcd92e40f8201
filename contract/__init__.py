"""The contract between the services: event and record formats, canonical encoding, label payload.

Producers, stream processors and the verify API all import this package; none of them
keeps a copy of a format. Nothing here does I/O or holds a key.

- encoding: the canonical bytes every signature covers and every hash is taken over
- fields, errors: shared field types; ContractError, listing every bad field
- gs1, identifiers: GTIN/GLN check digits, AI 10 lots, serials, product keys, batch ids
- label: the unit label's signed payload and its Digital Link URL
- events: the event types, their canonical bytes, content hash and Kafka key
- certification: star certifications and revocations under Decision 148/QĐ-TTg
- signed: the envelope of a signed document
- verdict: reason codes with Vietnamese and English sentences
- topics: Kafka topic names
- bilingual: the one-line Vietnamese and English error every command-line tool prints
"""
