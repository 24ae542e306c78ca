"""The local shell: the self-hosted reverse proxy on CPython (aiohttp), its adapters for the
pipeline's ports, and the demo. Not imported at the edge."""
