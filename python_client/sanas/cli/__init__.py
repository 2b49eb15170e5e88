"""`sanas`: look at and manage the searches of a running controller (usage: program.py).

program: the parser, the connection and main; commands: the study commands; backup:
backup, restore and export; views: what the commands print.
"""

from __future__ import annotations

from .program import main, parser

__all__ = ["main", "parser"]
