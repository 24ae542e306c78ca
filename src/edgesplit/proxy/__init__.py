"""The self-hosted shell: edgesplit's production reverse proxy on CPython (aiohttp), and its
adapters for the ports (``edgesplit.ports``). Not imported at the edge."""
