"""`sanas`: look at and manage the searches of a running controller.

sanas [--address HOST:PORT] [--tls-ca F] [--tls-cert F --tls-key F] [--token-file F] CMD
studies | status STUDY | trials STUDY | best STUDY | watch STUDY | plot STUDY [-o F.png]
import-paddleslim CHECKPOINT --study ID | delete STUDY --yes
backup STUDY|--all --to DIR | restore DIR [--as ID] | export STUDY [-o FILE]
dashboard [--port 8080] [--host 127.0.0.1] [--dashboard-token-file F] [--allow-delete]
          [--max-watches N] [--idle-seconds S]
port SCRIPT [-o OUT | --in-place] [--legacy]   (no controller needed)
"""

from __future__ import annotations

from .program import main, parser

__all__ = ["main", "parser"]
