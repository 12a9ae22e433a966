"""A folder that :mod:`imcpnn.executor` puts on PYTHONPATH of the Ray processes it starts (see sitecustomize)."""
