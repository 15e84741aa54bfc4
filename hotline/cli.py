"""The ``hotline`` command: every management command, with words instead of underscores.

``hotline audit verify`` runs the ``audit`` command; ``hotline import-csv f.csv`` runs ``import_csv``.

In a checkout where ``make demo`` ran, ``var/demo.env`` holds the demo's settings; when the environment
sets no ``HOTLINE_*`` variable and no ``DATABASE_URL``, the command uses them (and says so on stderr),
so ``.venv/bin/hotline ...`` works there without exporting anything (``HOTLINE_DEMO_ENV`` names another
file, or none when empty). A setting that is missing or wrong
ends the command with one line naming it and exit code 2, not a traceback. When the reader of the output
goes away (``hotline audit verify | head``), the command stops quietly with exit code 141, as the shell's
own tools do on SIGPIPE, and its ``finally`` blocks run (the demo stops its web server and worker).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

CHECKOUT = Path(__file__).resolve().parent.parent
DEMO_ENV = CHECKOUT / "var" / "demo.env"
HELP_WORDS = ("help", "--help", "-h")


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; blank lines and ``#`` comments skipped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def demo_env_path(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    named = environ.get("HOTLINE_DEMO_ENV")
    if named is None:
        return DEMO_ENV
    return Path(named) if named else None


def load_demo_env(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    """Use the demo's settings when the environment names none of its own; the file used, if any."""
    path = demo_env_path(environ)
    own = [name for name in environ if name.startswith("HOTLINE_") and name != "HOTLINE_DEMO_ENV"]
    if path is None or not path.exists() or environ.get("DATABASE_URL") or own:
        return None
    for name, value in read_env_file(path).items():
        environ.setdefault(name, value)
    return path


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if (demo_env := load_demo_env(os.environ)) is not None:
        print(f"hotline: using the demo's settings from {demo_env} (HOTLINE_DEBUG=true); "
              "set HOTLINE_* variables to use others", file=sys.stderr)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hotline.settings")
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    if len(args) > 2 and args[1] == "help" and not args[2].startswith("-"):
        args[2] = args[2].replace("-", "_")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        _check_settings()
        if len(args) == 1 or (len(args) == 2 and args[1] in HELP_WORDS):
            sys.stdout.write(main_help())
        else:
            execute_from_command_line(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then ours to handle below
    except BrokenPipeError:
        _output_closed()
    except ImproperlyConfigured as exc:
        hint = "" if os.environ.get("HOTLINE_DEBUG") else " (to try it out: make demo, or HOTLINE_DEBUG=true)"
        print(f"hotline: configuration error: {exc}{hint}", file=sys.stderr)
        sys.exit(2)


def _output_closed() -> NoReturn:
    """The output's reader went away: no traceback, no second error when Python flushes at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(128 + signal.SIGPIPE)


def _check_settings() -> None:
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 - imports the settings module, which checks the environment


def main_help() -> str:
    """The product's own commands first, each with its one-line description, then Django's."""
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    ours: list[tuple[str, str]] = []
    theirs: list[str] = []
    for name, app in sorted(get_commands().items()):
        if app.startswith("hotline."):
            text = str(load_command_class(app, name).help).strip()
            ours.append((name.replace("_", "-"), text.split(". ")[0].split("\n")[0].rstrip(".")))
        else:
            theirs.append(name.replace("_", "-"))
    width = max(len(name) for name, _ in ours)
    lines = ["Usage: hotline COMMAND [options]   (hotline help COMMAND: its options)", "", "Hotline commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in ours]
    lines += ["", "Django commands:", *_wrap(theirs), ""]
    return "\n".join(lines)


def _wrap(names: list[str], width: int = 78) -> list[str]:
    lines, line = [], " "
    for name in names:
        if len(line) + len(name) + 1 > width:
            lines.append(line)
            line = " "
        line += f" {name}"
    return [*lines, line]


if __name__ == "__main__":
    main()
