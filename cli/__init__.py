"""`complaints`: the command line, composed from the commands each layer contributes.

    complaints classify --input in.jsonl [--output out.jsonl]   |   complaints classify --text "…"
    complaints evaluate --input labelled.jsonl
    complaints train   |   complaints promote VERSION   |   complaints rollback
    complaints model ensure | info | versions
    complaints data check | audit [--store] | export-corrections
    complaints rules explain "текст"   |   complaints rules test --input labelled.jsonl
    complaints mailbox [--once]

This is the one place that sees every layer: the settings are read here, once, and each layer's
`add_commands` gets what it needs (the library a `Context`, training, the store and the service
the settings).
"""

from __future__ import annotations

import argparse
import os
import sys

from pettriage.api import commands as service
from pettriage.classifier import commands as library
from pettriage.config import Settings
from pettriage.store import commands as store
from pettriage.training import commands as training

GROUPS = {"model": "the saved models", "data": "the annotated corpus", "rules": "the safety rules"}


class CommandLine:
    """The parser every layer adds to (`classifier.commands.Commands`)."""

    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(prog="complaints", description=__doc__.split("\n")[0])
        self._commands = self.parser.add_subparsers(metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, name: str, help: str) -> argparse.ArgumentParser:
        return self._commands.add_parser(name, help=help)

    def subcommand(self, group: str, name: str, help: str) -> argparse.ArgumentParser:
        if group not in self._groups:
            parent = self._commands.add_parser(group, help=GROUPS[group])
            self._groups[group] = parent.add_subparsers(metavar="ACTION")
        return self._groups[group].add_parser(name, help=help)


def build(settings: Settings) -> CommandLine:
    cli = CommandLine()
    context = library.Context(
        data=settings.paths.data,
        models=settings.models,
        load_model=training.model_loader(settings),
    )
    library.add_commands(cli, context)
    training.add_commands(cli, settings)
    store.add_commands(cli, settings)
    service.add_commands(cli, settings)
    return cli


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    try:
        settings = settings or Settings()
    except (ValueError, OSError) as error:  # a broken COMPLAINTS_* value or config file
        print(f"error: configuration: {error}", file=sys.stderr)
        return 2
    parser = build(settings).parser
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `complaints … | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
