"""WeChat mini-program: the API client (``client``), its errcode table (``errcodes``) and a
faithful local fake of the WeChat server (``fake_server``) for tests and ``make demo``.

Import the submodule you need; this package imports nothing, so the fake can run on its own.
"""
