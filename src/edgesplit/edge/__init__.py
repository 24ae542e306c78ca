"""The Cloudflare shell: thin glue between workerd and the pipeline.

``config_source`` is plain Python (tested on CPython); ``js_adapters`` and ``worker`` import
``js`` and the ``workers`` SDK and only run under Pyodide (tested there, in Node, against
stand-ins for what only workerd has).
"""
