"""The loader contract's former home, kept only so that loaders written against it keep importing while
branches merge: new code imports ``forensics.sources.contract`` (or ``forensics.sources``)."""

from forensics.sources.contract import *  # noqa: F403 - the whole contract, under its old name
from forensics.sources.contract import __all__  # noqa: F401
