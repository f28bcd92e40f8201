"""The verify API (FastAPI): resolves the QR code on an OCOP product to a verdict and its facts.

It only reads records (records.store.RecordReader) and sends events (scans, inspectors'
findings, alert closings) to Kafka; the processors store them. Run it with `ocop-api`.

- app: create_app(settings) with its lifespan; one error shape for every failure
- settings: OCOP_* variables; no default root key, no default device salt in production
- services: what the running app holds (store reader, trust list cache, resolver, Kafka)
- deps: typed dependencies (ServicesDep, StoreDep, CallerDep, CurrentInspector, ...)
- routes/: one APIRouter per concern (resolve, verify, products, batches, trust,
  inspectors, alerts, health)
- resolution: from a code to a verdict, in three layers it only orchestrates: facts (the
  one module that holds memory, under one budget), judgement (pure), views (every response
  body); ratings and story: a product's rating history and a batch's story
- schemas: the public request and response bodies; rendering, templates/, i18n: the
  consumer page in Vietnamese and English; negotiation: HTML or JSON, vi or en
- trustcache: the trust list checked against the pinned root
- events: the scan queue and the inspectors' acknowledged sends to Kafka
- guards: per-client rate limit and size limits in front of every route
"""
