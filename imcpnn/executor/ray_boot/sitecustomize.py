"""Loaded at start-up by the Ray processes :func:`imcpnn.executor.connect_ray` starts (their PYTHONPATH).

jsonschema, which Ray imports, compiles the ``rfc3987_syntax`` IRI grammar at import time when that package is
installed (it comes with Jupyter): about 5 s of CPU in every Ray process, enough on a busy 2-core machine for the
raylet to give up waiting for its agents. Ray never validates IRIs, so the import is made to fail (ImportError,
which jsonschema handles by leaving out that one format checker).
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
