"""Formats for the outside world: what other GS1 systems read and write, kept apart from ours.

- `digital_link`: GS1 Digital Link URIs with primary key 01 (GTIN), parsed the way a
  GS1-conformant resolver and a shop till must (every refusal a reason), and written in
  their canonical forms (on our resolver's root, and on https://id.gs1.org for EPCIS).
- `linkset`: RFC 9264 linksets as GS1 resolver standard 1.2 serves them, the link types we
  use, the default link with its fallback up the levels, and the choice of a link for a
  request (linkType, Accept, Accept-Language).
- `event_hash`: the CBV 2.0 event hash, the eventID two organisations compute alike.
- `epcis`: one batch's EPCIS 2.0 JSON-LD document, built from its contract events.

Everything here is pure (no I/O, no clock): the verify API wires it to routes. This package
imports only `contract`, never a service, so any service may import it.
"""
