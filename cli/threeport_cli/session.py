"""Builds an SDK client for a command from the selected context and the common flags."""

from __future__ import annotations

import argparse

from threeport.sdk import Client
from threeport_cli import config
from threeport_cli.config import Context


def add_context_flags(parser: argparse.ArgumentParser, *, project: bool = True) -> None:
    parser.add_argument("--context", help="use this context instead of the current one")
    if project:
        parser.add_argument("-p", "--project", help="the project (default: the context's project)")


def context_for(options: argparse.Namespace) -> Context:
    return config.resolve(config.load(), getattr(options, "context", None))


def project_for(options: argparse.Namespace, context: Context) -> str:
    return str(getattr(options, "project", None) or context.project or "")


def client_for(context: Context) -> Client:
    tls: bool | str = context.ca_file or context.tls
    return Client(context.server, token=context.token or None, tls=tls)
