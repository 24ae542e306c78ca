"""The decision core: pure, standard library only, identical on CPython and Pyodide.

It reads no clock, no randomness and no files: callers hand it ``now`` and ids.
"""

from .assignment import Assignment
from .bucketing import bucket_ranges, choose_variation, effective_weights
from .config import Config, ConfigHolder, Overrides, parse_config, parse_config_text
from .decision_token import DecisionClaims, Verification, sign_token, verify_token
from .errors import ConfigError, EdgesplitError, KeyringError, Problem
from .evaluate import assign, assign_control, is_targeted, parse_forced_variants
from .experiments import Experiment, Namespace, Variant
from .hashing import fnv1a32, growthbook_hash, make_hasher, native_hash
from .keys import HmacKey, Keyring, browser_keys, parse_keyring, parse_keyring_text
from .manifest import Manifest, ManifestBook

__all__ = [
    "Assignment",
    "Config",
    "ConfigError",
    "ConfigHolder",
    "DecisionClaims",
    "EdgesplitError",
    "Experiment",
    "HmacKey",
    "Keyring",
    "KeyringError",
    "Manifest",
    "ManifestBook",
    "Namespace",
    "Overrides",
    "Problem",
    "Variant",
    "Verification",
    "assign",
    "assign_control",
    "browser_keys",
    "bucket_ranges",
    "choose_variation",
    "effective_weights",
    "fnv1a32",
    "growthbook_hash",
    "is_targeted",
    "make_hasher",
    "native_hash",
    "parse_config",
    "parse_config_text",
    "parse_forced_variants",
    "parse_keyring",
    "parse_keyring_text",
    "sign_token",
    "verify_token",
]
