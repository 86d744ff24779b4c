"""Training's commands of `complaints`: train, promote, rollback, model ensure/info/versions,
rescore.

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
    train.add_argument(
        "--force",
        action="store_true",
        help="register a new version even when the corpus, the code and the settings are "
        "those of a registered one",
    )
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

    rescore = cli.command(
        "rescore", "the champion over a JSONL or Parquet archive on Spark, answers into Parquet"
    )
    rescore.add_argument(
        "--input",
        type=Path,
        required=True,
        help='.jsonl (one {"id", "text", "channel"?, "received_at"?} a line) or .parquet',
    )
    rescore.add_argument(
        "--output", type=Path, required=True, help="Parquet folder: the id and the whole answer"
    )
    rescore.add_argument("--master", default="local[*]", help="Spark master (default: local[*])")
    rescore.add_argument("--model-uri", help="an MLflow model (default: the registry's champion)")
    rescore.add_argument("--overwrite", action="store_true", help="replace an earlier --output")
    rescore.set_defaults(handler=lambda args: cmd_rescore(args, settings))


def ensure_model(settings: Settings) -> None:
    """Train the first model from the corpus when there is none yet. When the registry has a
    champion that this disk lacks (a new host of a shared MLflow server, or models/ deleted),
    it is fetched instead: a host serves what the registry names, it does not train a rival."""
    paths = settings.paths
    if artifact.champion_version(paths.models) is not None:
        return
    from .registry import RegistryRefusal, fetch_champion

    try:
        fetched = fetch_champion(settings)
    except RegistryRefusal:  # the registry has no champion yet: train the first
        pass
    else:
        artifact.load(fetched.path, None, fetched.sha256)  # whole and the one registered
        artifact.set_champion(paths.models, fetched.version, fetched.sha256)
        print(f"Fetched the registry's champion v{fetched.version}", file=sys.stderr)
        return
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
    """Prints the new version's summary; or, when nothing changed since a registered version,
    says so on stderr and prints that version ({"version", "unchanged": true}), exit 0."""
    from .lineage import Unchanged
    from .train import result_summary, train

    try:
        result = train(settings, folds=args.folds, seed=args.seed, note=args.note, force=args.force)
    except Unchanged as same:
        print(same, file=sys.stderr)
        print(json.dumps({"version": same.version, "run_id": same.run_id, "unchanged": True}))
        return 0
    print(result_summary(result))
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


def cmd_rescore(args, settings: Settings) -> int:
    from .rescore import rescore

    result = rescore(settings, args.input, args.output, args.master, args.model_uri, args.overwrite)
    for number, problem in result.invalid:
        print(f"{args.input}:{number}: {problem}", file=sys.stderr)
    if result.invalid:
        lines = result.count + len(result.invalid)
        print(f"{len(result.invalid)} of {lines} lines were not classified", file=sys.stderr)
    print(result.summary())
    return 1 if result.invalid else 0
