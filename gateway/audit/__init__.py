"""Audit: one durable, hash-chained record per call and per policy reload.

* :mod:`record`   the record and its canonical JSON form
* :mod:`chain`    the hash chain and its verification
* :mod:`journal`  the local SQLite journal (WAL, group commit); :mod:`reader` reads it
* :mod:`sink`     what the pipeline writes to: journal first, then the JSON log line
* :mod:`postgres` the background shipper to PostgreSQL; :mod:`migrate` its schema
* :mod:`verify`   ``labgate audit verify|tail``
"""

from __future__ import annotations

__all__: list[str] = []
