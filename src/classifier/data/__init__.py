"""The library's own YAML files (rules, lexicon, domain words), and how they are parsed."""

from __future__ import annotations

from importlib import resources
from typing import Any


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml's C parser when PyYAML was built with it: the Python
    parser took 0.15 s on the rules file, a tenth of a one-message cold start. Both build the
    same plain data; an error is a `yaml.YAMLError` either way."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read(name: str) -> str:
    """The text of one of the packaged files."""
    return resources.files(__name__).joinpath(name).read_text("utf-8")
