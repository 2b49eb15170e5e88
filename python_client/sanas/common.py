"""`paddleslim.common.get_logger`, which PaddleSlim's NAS demos import: ported scripts keep
`from sanas.common import get_logger`."""

from __future__ import annotations

import logging

DEFAULT_FORMAT = "%(asctime)s-%(levelname)s: %(message)s"


def get_logger(name: str, level: int = logging.INFO, fmt: str = DEFAULT_FORMAT) -> logging.Logger:
    """A logger that prints to stderr at `level` in PaddleSlim's format, once: a second
    call for the same name adds no second handler (so no line is printed twice), and it
    does not propagate to the root logger (PaddleSlim's do not either)."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    if not any(getattr(h, "_sanas_common", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(fmt))
        handler._sanas_common = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger
