"""The demo: an origin that renders the variant it is told (and verifies the signature), a
vendor simulator that counts events, and the proxy between them, all on loopback."""

import os

DEMO_CONFIG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.json")
