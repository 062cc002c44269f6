"""The project's metadata installs without warnings: ``project.license`` is an SPDX
expression (PEP 639), not the deprecated table that setuptools ≥ 77 warns about."""
from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_licence_is_an_spdx_expression_that_the_build_backend_reads():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    licence = data["project"]["license"]
    assert isinstance(licence, str), "a table here is deprecated: use an SPDX string"
    assert canonicalize_license_expression(licence) == licence
    assert not [c for c in data["project"].get("classifiers", []) if c.startswith("License ::")]
    backend = next(Requirement(r) for r in data["build-system"]["requires"] if r.startswith("setuptools"))
    assert not backend.specifier.contains("76.9"), "setuptools < 77 cannot read a licence expression"
