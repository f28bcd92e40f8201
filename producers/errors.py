"""The errors the packing station raises; the CLI prints them as one line, never a traceback.

Bad input is refused before anything is written: every check runs before the SQLite
transaction that records the operation and its outbox event, or inside it, so a refusal
rolls it all back.
"""

from __future__ import annotations


class StationError(Exception):
    """Base of every refusal or failure of the station; the message says what to do."""


class UnknownProduct(StationError):
    """The product has no certification for this station's producer in the trust list."""


class BatchStateError(StationError):
    """The batch does not exist, or is not in a state that allows the operation."""


class InvalidInput(StationError):
    """Operator input that is malformed (a date, a quantity, a raw material line)."""


class IdentityError(StationError):
    """The station's key, trust list or root key cannot be loaded or do not fit together."""


class LabelError(StationError):
    """Labels cannot be rendered (no usable font, an unwritable folder)."""
