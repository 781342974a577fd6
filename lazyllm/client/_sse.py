"""An incremental, bytes-level Server-Sent Events decoder.

The network hands us arbitrary slices of the stream: an event may span many reads and one
read may hold many events. ``SSEDecoder.feed`` takes each slice as it arrives and returns the
``data`` of every event it completes, so the sync and async clients share one parser and
neither waits for more than the next read. It works on bytes (no text decoding, no regex):
``json.loads`` accepts the UTF-8 bytes of each event directly, which keeps streaming within a
few percent of reading the raw socket.

Handled: ``data:`` lines (a space after the colon is optional), events of several ``data``
lines (joined by newlines), ``\\r\\n`` line ends, comment / keep-alive lines (``: ping``),
``event:``/``id:``/``retry:`` fields (an ``event: error`` is passed on as ``{"error": …}``).
"""
from __future__ import annotations

__all__ = ['SSEDecoder', 'DONE']

DONE = b'[DONE]'


class SSEDecoder:
    """Feed bytes, get the data (bytes) of each complete event, in order."""

    __slots__ = ('_tail', '_data', '_event')

    def __init__(self) -> None:
        self._tail = b''         # an incomplete last line, kept until its newline arrives
        self._data: list[bytes] = []  # data lines of the event being read
        self._event = b''        # its ``event:`` name, if any

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._tail:
            chunk = self._tail + chunk
        lines = chunk.split(b'\n')
        self._tail = lines.pop()
        out: list[bytes] = []
        data = self._data
        for line in lines:
            if line[-1:] == b'\r':
                line = line[:-1]
            if not line:  # a blank line ends the event
                if data:
                    out.append(self._emit(data))
                    data = self._data = []
            elif line[:5] == b'data:':
                data.append(line[6:] if line[5:6] == b' ' else line[5:])
            elif line[:6] == b'event:':
                self._event = line[6:].strip()
            # ':' comments / keep-alives, id:, retry: and unknown fields are ignored
        return out

    def flush(self) -> list[bytes]:
        """The data of an event the stream ended in without its blank line (lenient)."""
        out = self.feed(b'\n') if self._tail else []
        if self._data:
            data, self._data = self._data, []
            out.append(self._emit(data))
        return out

    def _emit(self, data: list[bytes]) -> bytes:
        payload = data[0] if len(data) == 1 else b'\n'.join(data)
        if self._event:
            if self._event == b'error' and payload[:1] == b'{':
                payload = b'{"error":' + payload + b'}'
            self._event = b''
        return payload
