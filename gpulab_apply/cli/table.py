"""The command table: every command's name, module and short help, and the top-level help, static so that
``--help`` imports no command module (tests/cli/test_cli.py keeps the short help equal to each command's own). Read
by the group (:mod:`gpulab_apply.cli.group`) and the boundary (:mod:`gpulab_apply.cli`); imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

PROG_NAME = "gpulab-apply"


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, the module defining it (as an attribute of the same name), its short help."""

    name: str
    module: str
    short_help: str


#: every command, in the order ``--help`` lists them; the short help must equal the command's own
#: (tests/cli/test_cli.py checks it), and a new command is one line here
COMMANDS: tuple[Command, ...] = (
    Command("validate", "gpulab_apply.cli.validate", "Check job files against GPULab's rules, offline."),
    Command("fmt", "gpulab_apply.cli.fmt", "Rewrite job files into canonical form; --check for CI."),
    Command("plan", "gpulab_apply.cli.plan", "Show what apply would do, read-only."),
    Command("apply", "gpulab_apply.cli.apply", "Submit missing jobs, cancel removed ones, verify."),
    Command("show", "gpulab_apply.cli.show", "Print a saved plan (plan --out) in any format."),
    Command("status", "gpulab_apply.cli.status", "List the jobs of this set and their state."),
    Command("logs", "gpulab_apply.cli.logs", "Print a job's log; --follow until the job ends."),
    Command("wait", "gpulab_apply.cli.wait", "Wait until jobs run or end; exit 1 if one failed."),
    Command("whoami", "gpulab_apply.cli.whoami", "Show who the certificate says you are."),
    Command("render", "gpulab_apply.cli.render", "Print the jobs as they would be submitted."),
    Command("import", "gpulab_apply.cli.import_", "Write job files for jobs already on GPULab."),
    Command("schema", "gpulab_apply.cli.schema", "Print the JSON Schema of a job file."),
    Command("completion", "gpulab_apply.cli.completion", "Print the shell completion script."),
    Command("emulator", "gpulab_apply.cli.emulator", "Serve a local GPULab emulator until Ctrl-C."),
)
#: the top-level help's text and epilog
HELP = "Keep GPULab's jobs in line with a directory of job files (GitOps for GPU experiments)."
EPILOG = ("\b\nExample:\n  gpulab-apply validate jobs.d\n  gpulab-apply plan jobs.d\n"
          "  gpulab-apply apply jobs.d\n  gpulab-apply -C ~/experiments -v plan\n\nThe options above go before or "
          "after the command. Run 'gpulab-apply COMMAND --help' for a command's options; docs/commands.md has them "
          "all.")
