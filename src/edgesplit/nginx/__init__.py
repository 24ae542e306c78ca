"""Self-hosting behind nginx: the decision service nginx asks with ``auth_request``, and the
nginx configuration that goes with it (docs/nginx.md)."""
