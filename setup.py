"""Build glue that pyproject.toml cannot say: the top-level ``queries/`` and ``notebooks/`` folders ship
inside the package as ``forensics._queries`` and ``forensics._notebooks`` (docs/layout.md).

``[tool.setuptools] packages`` is either a fixed list or a find, not both; a fixed list would miss the
next subpackage someone adds, so the package's own subpackages are found here and the two mapped
folders appended. Everything else about the build is in pyproject.toml.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {"forensics._queries": "queries", "forensics._notebooks": "notebooks"}

setup(
    packages=[*find_packages(include=["forensics", "forensics.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
)
