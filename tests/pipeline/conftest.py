"""``tests/`` on ``sys.path`` for ``shared_documents``. The Pyodide run's ini file sits in
``tests/pyodide``, which makes it the conftest boundary: ``tests/conftest.py`` (which does this
for every other folder) is not loaded there, this one is."""

from __future__ import annotations

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
