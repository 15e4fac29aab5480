"""`logwarden deploy render`: write systemd units, compose, k8s manifests or an agent installer."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from logwarden.deploy.render import TARGETS, render


@click.group()
def deploy() -> None:
    """Render deployment files for the scaled-out form (Kafka + Elasticsearch)."""


@deploy.command("render")
@click.option("--target", required=True, type=click.Choice(TARGETS), help="What to render.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="logwarden.yml whose settings the rendered files carry.")
def render_cmd(target: str, out_dir: str, config_file: str | None) -> None:
    """Render TARGET's files into --out, with a logwarden.yml for the stages."""
    from logwarden.cli import resolve

    cfg = resolve(config_file)
    for r in render(cfg, target, Path(out_dir)):
        click.echo(str(r.path))
    sys.exit(0)
