"""Reference tables generated from the code, spliced into docs/ between markers.

    <!-- BEGIN GENERATED: <table> -->  ...  <!-- END GENERATED: <table> -->

``python -m gateway.reference`` (``make docs``) rewrites every marked block; ``--check`` exits 1
naming each block that differs (``tests/test_docs_generated.py`` runs it). Tables: settings
(from the pydantic models), reason and error codes (from :mod:`gateway.reference.catalog`),
the CLI (from the argparse parser), and the ``labgate doctor`` codes.
"""

from __future__ import annotations
