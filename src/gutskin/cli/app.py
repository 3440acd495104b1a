"""The ``gutskin`` Typer app: root options, command registration and :func:`main`.

Every user error prints one line ``gutskin: error: ...`` to stderr and exits
with status 2, with no traceback and no half-written output folder.

Commands are registered here by explicit imports of their modules in this package. Those
modules import only typer, rich and :mod:`gutskin.cli.support` at module level; everything
heavy (numpy, pandas, the domain packages) is imported inside the command functions, so
``gutskin --version`` and ``gutskin --help`` start fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

from gutskin._version import __version__
from gutskin.cli import calibrate as _calibrate
from gutskin.cli import explore as _explore
from gutskin.cli import export as _export
from gutskin.cli import model as _model
from gutskin.cli import profile as _profile
from gutskin.cli import run as _run
from gutskin.cli import sensitivity as _sensitivity
from gutskin.cli import simulate as _simulate
from gutskin.cli import trial as _trial
from gutskin.cli.support import UserError

__all__ = ["app", "main"]

app = typer.Typer(
    name="gutskin",
    help="Quantitative modelling of the gut–skin axis in acne: simulate virtual patients, "
    "run in-silico trials, export the model.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"gutskin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show version and exit."),
    ] = False,
) -> None:
    """gutskin command-line interface."""


app.command("simulate")(_simulate.simulate)
app.add_typer(_trial.designs_app, name="designs")
app.command("trial")(_trial.trial)
app.command("power")(_trial.power)
app.command("params")(_model.params)
app.command("interventions")(_model.interventions)
app.command("strains")(_model.strains)
app.add_typer(_export.export_app, name="export")
app.command("profile")(_profile.profile)
app.command("sensitivity")(_sensitivity.sensitivity)
app.command("explore")(_explore.explore)
app.command("calibrate")(_calibrate.calibrate)
app.command("run")(_run.run_command)
app.command("export-petab", hidden=True)(_export.export_petab_deprecated)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that partial outputs are cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def print_error(message: str) -> None:
    """Print ``gutskin: error: MESSAGE`` on one line of stderr, control characters escaped.

    Messages quote input files (sample IDs, taxonomy, YAML); an escape sequence or a
    bell in them must not reach the terminal as such.
    """
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(message.split("\n")))
    print(f"gutskin: error: {text}", file=sys.stderr)


def _aborted(status: int) -> int:
    """Report an interrupted run once; a second signal no longer interrupts the exit."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("gutskin: aborted" + (" (terminated)" if status == 143 else ""), file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit 2.

    Interrupted runs exit 130 (SIGINT, Ctrl-C) or 143 (SIGTERM) with one line
    ``gutskin: aborted``; the partial output folder is removed on the way out (a resumable
    ``gutskin run`` store stays, marked incomplete) and replicate worker processes end
    with the command.
    """
    import signal
    import threading

    args = sys.argv[1:] if argv is None else argv
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rv = app(args=args, prog_name="gutskin", standalone_mode=False)
        if rv == 130:  # typer turns KeyboardInterrupt into Exit(130) and returns it
            return _aborted(130)
    except KeyboardInterrupt:
        return _aborted(130)
    except _Terminated:
        return _aborted(143)
    except OSError as exc:  # a full disk, an unusable cache folder, a vanished file
        import errno as _errno

        if exc.errno == _errno.ENOSPC:
            where = f" (writing {exc.filename})" if exc.filename else ""
            print_error(
                f"no space left on the device{where}; nothing was kept, "
                "free some space and run again"
            )
        else:
            what = exc.strerror or str(exc)
            print_error(what + (f": {exc.filename}" if exc.filename else ""))
        return 2
    except UserError as exc:
        print_error(str(exc))
        return 2
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        print("gutskin: aborted", file=sys.stderr)
        return 130
    except TyperException as exc:  # usage errors of the vendored click parser
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            print(ctx.get_help() if ctx is not None else "")
            return 0
        fmt = getattr(exc, "format_message", None)
        text = fmt() if callable(fmt) else str(exc)
        print_error(" ".join(str(text).split()))
        return 2
    except Exception as exc:
        from gutskin.io.outdir import OutputDirError

        if isinstance(exc, OutputDirError):  # e.g. --out changed while the command ran
            print_error(" ".join(str(exc).split()))
            return 2
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
