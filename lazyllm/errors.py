"""Every error lazyllm raises, in one tree.

Catch ``LazyLLMError`` to catch them all. Each message names the cause and the fix.
Foreign exceptions (httpx, yaml, json, OS errors) are wrapped where they cross a layer seam,
with the original kept as ``__cause__``.

    LazyLLMError
    ├── ConfigError               a setting is missing or has a bad value
    ├── InputError                a public entry point got bad input (also a ValueError)
    │   ├── PromptError           a prompt placeholder has no value, or a bad history/message
    │   └── FormatError           a formatter could not parse the model's output
    ├── ModelNotFoundError        a model name or path resolves to no weights
    │   └── DownloadError         fetching it from a hub failed (network, token, disk, corrupt)
    ├── DeployError               an engine could not be deployed
    │   ├── StartError            start() of a module tree failed; ``.failures`` names each
    │   ├── WontFitError          the planner found too little free memory; ``.plan``
    │   └── LaunchError           a launcher or its scheduler (Slurm, Ray) refused or lost a job
    ├── FinetuneError             a finetune job failed
    ├── ConversionError           converting a model to another format (GGUF) failed
    └── EndpointError             talking to an endpoint (a URL) failed; ``.url``
        ├── EndpointConnectError  nothing answers at the URL (refused, unreachable, DNS)
        ├── EndpointTimeout       no complete answer within the timeout (also a TimeoutError)
        ├── StreamInterrupted     a stream was cut after output began; ``.received``
        ├── ProtocolError         the endpoint answered something that is not the protocol
        └── OnlineAPIError        the endpoint answered an error status; ``.status``, ``.body``
            ├── AuthenticationError   401 / 403
            ├── RateLimitError        429; ``.retry_after`` seconds when the server said
            └── ServerError           5xx

API keys never appear in these messages: the client redacts them before raising.
"""
from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    'LazyLLMError', 'ConfigError', 'InputError', 'PromptError', 'FormatError',
    'ModelNotFoundError', 'DownloadError', 'DeployError', 'StartError', 'WontFitError',
    'LaunchError', 'FinetuneError', 'ConversionError',
    'EndpointError', 'EndpointConnectError', 'EndpointTimeout', 'StreamInterrupted',
    'ProtocolError', 'OnlineAPIError', 'AuthenticationError', 'RateLimitError', 'ServerError',
]


class LazyLLMError(Exception):
    """Base of every lazyllm error."""


class ConfigError(LazyLLMError):
    """A setting is missing or has a value that cannot be used."""


class InputError(LazyLLMError, ValueError):
    """A public entry point was called with input it cannot use."""


class PromptError(InputError):
    """A prompt could not be built from the input (missing placeholder, bad history)."""


class FormatError(InputError):
    """A formatter could not turn the model's output into what was asked for."""


class ModelNotFoundError(LazyLLMError):
    """A model name or path resolves to no weights."""


class DownloadError(ModelNotFoundError):
    """A model could not be fetched from Hugging Face or ModelScope: no network, a gated repo
    without a token, not on the hub, disk full, or a file that stays corrupt. A subclass of
    ModelNotFoundError, so code that handles a missing model handles a failed download too."""


class DeployError(LazyLLMError):
    """An engine could not be deployed or did not become ready."""


class StartError(DeployError):
    """``start()`` of a module tree failed for one or more modules.

    ``failures`` maps a readable module name to the exception it raised; every failure is
    listed, not just the first.
    """

    def __init__(self, failures: Mapping[str, BaseException]):
        self.failures = dict(failures)
        lines = [f'{len(self.failures)} module(s) failed to start:']
        lines += [f'  - {name}: {type(e).__name__}: {e}' for name, e in self.failures.items()]
        lines.append('Fix the error of each module above, then call start() again.')
        super().__init__('\n'.join(lines))


class WontFitError(DeployError):
    """The model would not fit in the memory free where its engine would run: refused before
    any download or process start. ``.plan`` is the planner's table (``lazyllm.plan``)."""

    def __init__(self, message: str, plan: Any = None):
        super().__init__(message)
        self.plan = plan


class LaunchError(DeployError):
    """A launcher could not start or follow a job: its scheduler (Slurm, Ray) refused it, in
    the scheduler's own words, or cannot be reached."""


class FinetuneError(LazyLLMError):
    """A finetune job failed."""


class ConversionError(LazyLLMError):
    """Converting a model to another format (GGUF, with llama.cpp's converter) failed; the
    message quotes the converter's reason."""


class EndpointError(LazyLLMError):
    """Talking to an endpoint failed. ``url`` is the URL that was called (keys redacted)."""

    def __init__(self, message: str, *, url: str | None = None):
        self.url = url
        super().__init__(message)


class EndpointConnectError(EndpointError, ConnectionError):
    """Nothing answers at the URL: connection refused, host unreachable or unknown."""


class EndpointTimeout(EndpointError, TimeoutError):
    """The endpoint did not answer in full within the timeout."""


class StreamInterrupted(EndpointError):
    """A streamed answer was cut after output began. It is never retried (the caller has
    already seen part of it); ``received`` holds the text that did arrive."""

    def __init__(self, message: str, *, url: str | None = None, received: str = ''):
        self.received = received
        super().__init__(message, url=url)


class ProtocolError(EndpointError):
    """The endpoint answered, but not in the protocol expected of it (malformed JSON, wrong
    shape)."""


class OnlineAPIError(EndpointError):
    """The endpoint answered with an error status. ``status`` is the HTTP status and
    ``body`` an excerpt of what it sent back."""

    def __init__(self, message: str, *, url: str | None = None, status: int = 0,
                 body: Any = None):
        self.status = status
        self.body = body
        super().__init__(message, url=url)


class AuthenticationError(OnlineAPIError):
    """401 or 403: the API key is missing, wrong, or lacks access."""


class RateLimitError(OnlineAPIError):
    """429: too many requests. ``retry_after`` is the wait the server asked for, if any."""

    def __init__(self, message: str, *, url: str | None = None, status: int = 429,
                 body: Any = None, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, url=url, status=status, body=body)


class ServerError(OnlineAPIError):
    """5xx: the endpoint failed while handling the request."""
