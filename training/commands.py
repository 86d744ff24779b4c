"""Training's commands of `complaints`: train, promote, rollback, model ensure/info/versions.

Imports of MLflow and scikit-learn's model selection stay inside the commands that use them, so
that `complaints classify` does not pay for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pettriage.classifier import artifact
from pettriage.classifier.commands import Commands
from pettriage.config import Settings


def add_commands(cli: Commands, settings: Settings) -> None:
    train = cli.command("train", "train, evaluate, log to MLflow and register")
    train.add_argument(
        "--folds",
        type=int,
        default=None,
        help="folds, each writer whole; 0: leave-one-writer-out (default: the settings')",
    )
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--note", default="", help="a tag on the MLflow run")
    train.set_defaults(handler=lambda args: cmd_train(args, settings))

    ensure = cli.subcommand("model", "ensure", "train the first model if none exists yet")
    ensure.set_defaults(handler=lambda args: cmd_model_ensure(args, settings))
    info = cli.subcommand("model", "info", "metadata of the champion model")
    info.set_defaults(handler=lambda args: cmd_model_info(args, settings))
    listing = cli.subcommand("model", "versions", "registered versions, their figures and gates")
    listing.set_defaults(handler=lambda args: cmd_model_versions(args, settings))

    promote = cli.command(
        "promote", "make VERSION the champion if the gate passes; prints the comparison"
    )
    promote.add_argument("version")
    promote.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"macro-F1 a head may lose (default: {settings.promote_tolerance})",
    )
    promote.set_defaults(handler=lambda args: cmd_promote(args, settings))
    rollback = cli.command("rollback", "give the champion alias back to the last one")
    rollback.set_defaults(handler=lambda args: cmd_rollback(args, settings))


def ensure_model(settings: Settings) -> None:
    """Train the first model from the corpus when there is none yet."""
    paths = settings.paths
    if artifact.champion_version(paths.models) is None:
        print(
            f"No trained model in {paths.models}; training one from {paths.data} first…",
            file=sys.stderr,
        )
        from .train import train

        train(settings)


def model_loader(settings: Settings):
    """How the library's commands get their model: a given file, or the champion (trained first
    when there is none)."""

    def load(path: Path | None):
        from pettriage.classifier import load_classifier

        if path is None:
            ensure_model(settings)
        return load_classifier(path or settings.models)

    return load


def cmd_train(args, settings: Settings) -> int:
    from .train import result_summary, train

    print(result_summary(train(settings, folds=args.folds, seed=args.seed, note=args.note)))
    return 0


def cmd_model_ensure(args, settings: Settings) -> int:
    ensure_model(settings)
    print(f"champion model: v{artifact.champion_version(settings.models)} in {settings.models}")
    return 0


def cmd_model_info(args, settings: Settings) -> int:
    version = artifact.champion_version(settings.models)
    if version is None:
        print(f"no champion model in {settings.models}; run `complaints train`", file=sys.stderr)
        return 1
    meta = artifact.read_metadata(artifact.model_path(settings.models, version))
    print(json.dumps(meta, ensure_ascii=False, indent=2))
    return 0


def cmd_model_versions(args, settings: Settings) -> int:
    from .registry import versions

    for row in versions(settings):
        test = row["test"]
        print(
            f"v{row['version']:>3} {'CHAMPION' if row['champion'] else '        '} "
            f"gate {row['gate'] or '-':8} category F1 {test.get('category_macro_f1', 0):.3f} "
            f"is_hard F1 {test.get('is_hard_f1', 0):.3f} critical recall "
            f"{test.get('critical_recall', 0):.3f} corrections {row['corrections_in_training']} "
            f"{row['created_at'][:19]} {row['note']}"
        )
    return 0


def cmd_promote(args, settings: Settings) -> int:
    from .registry import promote

    tolerance = settings.promote_tolerance if args.tolerance is None else args.tolerance
    result = promote(settings, args.version, tolerance)
    print(result.table())
    if not result.passed:
        print(f"v{args.version} was not promoted; the champion stays v{result.champion}")
        return 3
    print(f"v{args.version} is the champion; reload the service: POST /v1/admin/reload")
    return 0


def cmd_rollback(args, settings: Settings) -> int:
    from .registry import rollback

    current, previous = rollback(settings)
    print(f"champion moved back from v{current} to v{previous}; reload the service")
    return 0
