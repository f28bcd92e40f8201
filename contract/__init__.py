"""The contract between the services: event and record formats, canonical encoding, label payload.

Producers, stream processors and the verify API all import this package; none of them
keeps a copy of a format. Nothing here does I/O.
"""
