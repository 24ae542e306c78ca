"""The security suite: one test per attack in issue 13, each written to fail on the code before
the fix. Helpers live in ``proxy_support``."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
