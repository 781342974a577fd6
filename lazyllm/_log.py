"""The ``lazyllm`` logger. Its level follows ``config['log_level']`` (LAZYLLM_LOG_LEVEL),
read when the first message is logged, not at import."""
from __future__ import annotations

import logging

from ._config import config

_logger = logging.getLogger('lazyllm')
_logger.addHandler(logging.NullHandler())
_configured = False


def get_logger() -> logging.Logger:
    global _configured
    if not _configured:
        _configured = True
        if not any(not isinstance(h, logging.NullHandler) for h in _logger.handlers) \
                and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter('%(asctime)s lazyllm %(levelname)s: '
                                                   '%(message)s', '%H:%M:%S'))
            _logger.addHandler(handler)
        if _logger.level == logging.NOTSET:   # a level the application set wins
            _logger.setLevel(str(config['log_level']).upper())
    return _logger
