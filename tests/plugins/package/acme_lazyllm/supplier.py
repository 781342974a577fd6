"""``plugin_acme``: an OpenAI-compatible supplier whose endpoint comes from the environment
(a gateway the package's user runs), read when lazyllm first asks for the supplier."""
from __future__ import annotations

import os

import lazyllm

acme = lazyllm.online.Supplier('plugin_acme', os.environ['ACME_BASE_URL'],
                               models={'llm': os.environ['ACME_MODEL']},
                               protocols={'llm': 'openai'})
