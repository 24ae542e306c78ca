def __getattr__(name: str) -> bool:
    # Compatibility flags the SDK asks about: all off, as for a plain python_workers Worker.
    if name.startswith("__"):
        raise AttributeError(name)
    return False
