"""The FastAPI app: QR resolution, consumer page, inspector API, trust list. Reads records only."""
