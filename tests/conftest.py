import os
import sys

from hypothesis import HealthCheck, settings

# Pyodide in Node is slower and single-threaded: fewer examples there, same properties.
IN_PYODIDE = sys.platform == "emscripten"
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "pyodide", deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("pyodide" if IN_PYODIDE else os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Shared helpers (tests/servers.py) are importable from every test folder.
sys_path_entry = os.path.dirname(os.path.abspath(__file__))
if sys_path_entry not in sys.path:
    sys.path.insert(0, sys_path_entry)
