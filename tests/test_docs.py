"""Docs that must match the code."""

from __future__ import annotations

import re

from click.testing import CliRunner

from conftest import REPO
from phantom_pipeline import schema
from phantom_pipeline.cli import main


def test_records_doc_is_generated_from_the_current_schema() -> None:
    committed = (REPO / "docs" / "records.md").read_text()
    assert committed == schema.markdown(), (
        "docs/records.md is stale: python -m phantom_pipeline.schema > docs/records.md"
    )


def test_every_cli_command_and_option_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for name, cmd in main.commands.items():
        assert f"phantom-pipeline {name}" in readme, f"README lacks `phantom-pipeline {name}`"
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert re.search(re.escape(opt) + r"\b", readme), (
                        f"README lacks {opt} of `phantom-pipeline {name}`"
                    )


def test_cli_help_lists_only_commands_that_exist() -> None:
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0
    commands_section = r.output.split("Commands:", 1)[1]
    listed = set(re.findall(r"^  (\w[\w-]*)", commands_section, flags=re.M))
    assert listed == set(main.commands)
