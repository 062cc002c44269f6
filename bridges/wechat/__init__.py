"""WeChat mini-program: the API client (``client``), its errcode table (``errcodes``) and the
worker's WeChat channel (``deliver``: subscribe messages to residents).

The local fake WeChat server used by the tests and ``make demo`` lives in ``bridges/fakes/``.
Import the submodule you need; this package imports nothing.
"""
