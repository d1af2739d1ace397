"""What happened on the wire during one send: sent, refused (it never reached the provider), or ambiguous.

    with transport.watch() as seen:
        accepted = plugin.notify(body=..., title=...)
    outcome = seen.outcome(accepted)         # Outcome.sent / .refused / .ambiguous

Apprise answers True or False and nothing more, so a timeout after the request was written looks the same as
a refused connection. A send that may have reached the provider must not be repeated (DESIGN.md rule 12), so
while `watch()` is open this thread's HTTP requests (requests → urllib3) and SMTP conversations (smtplib) are
recorded, one `Exchange` each:

- HTTP: `written` once bytes of the request went out on a connected socket. An answer classifies itself
  (2xx sent, 5xx ambiguous, anything else refused); no answer is ambiguous when something was written,
  refused when not (DNS failure, connection refused, connect timeout, TLS handshake failure).
- SMTP: only the end of DATA (the lone `.`) can deliver a message. After it, a 2xx reply is sent, any other
  reply refused (the server said it did not take it), no reply ambiguous; everything before it is refused.

The hooks are installed once, on first use, and do nothing in a thread that is not watching. Exchanges
record status codes and exception types, never a URL, an address or an exception's text.
"""

from __future__ import annotations

import enum
import smtplib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests.adapters
import urllib3.connection

_local = threading.local()
_install_lock = threading.Lock()
_installed = False
DATA_END = b"\r\n.\r\n"


class Outcome(enum.StrEnum):
    sent = "sent"
    refused = "refused"  # provably never reached the provider, or it answered that it did not take it
    ambiguous = "ambiguous"  # may have reached it: never send it again


@dataclass
class Exchange:
    protocol: str  # "http" or "smtp"
    written: bool = False  # HTTP: bytes of the request went out; SMTP: the end of DATA went out
    status: int | None = None  # the answer's status (HTTP) or reply code to the end of DATA (SMTP)
    error: str | None = None  # the exception's type name, when there was no answer

    @property
    def outcome(self) -> Outcome:
        if self.status is not None:
            if 200 <= self.status < 300:
                return Outcome.sent
            if self.protocol == "http" and self.status >= 500:
                return Outcome.ambiguous
            return Outcome.refused
        return Outcome.ambiguous if self.written else Outcome.refused

    def describe(self) -> str:
        label = "HTTP" if self.protocol == "http" else "SMTP"
        if self.status is not None:
            return f"{label} {self.status}"
        if self.written:
            return f"no answer after the {'request' if self.protocol == 'http' else 'message'} was sent ({self.error})"
        return f"never reached the server ({self.error or 'refused before sending'})"


@dataclass
class Recording:
    exchanges: list[Exchange] = field(default_factory=list)

    def outcome(self, accepted: bool, *, observable: bool = True) -> Outcome:
        """The send's outcome given Apprise's answer. Something that may have arrived (an ambiguous exchange, or
        a piece already sent before a later one failed) makes the whole send ambiguous. `observable` says the
        plugin talks through the hooked transports; a refusal from one that does not cannot be proven."""
        if accepted:
            return Outcome.sent
        outcomes = {e.outcome for e in self.exchanges}
        if outcomes & {Outcome.ambiguous, Outcome.sent}:
            return Outcome.ambiguous
        return Outcome.refused if observable else Outcome.ambiguous

    def describe(self) -> str:
        return "; ".join(e.describe() for e in self.exchanges) or "nothing was sent"


def _recording() -> Recording | None:
    return getattr(_local, "recording", None)


def _exchange() -> Exchange | None:
    return getattr(_local, "exchange", None)


@contextmanager
def watch() -> Iterator[Recording]:
    """Record this thread's HTTP and SMTP exchanges until the block ends."""
    _install()
    outer = _recording()
    recording = Recording()
    _local.recording = recording
    try:
        yield recording
    finally:
        _local.recording = outer


@contextmanager
def _exchange_for(protocol: str) -> Iterator[Exchange | None]:
    recording = _recording()
    if recording is None:
        yield None
        return
    exchange = Exchange(protocol)
    recording.exchanges.append(exchange)
    outer, _local.exchange = _exchange(), exchange
    try:
        yield exchange
    except BaseException as exc:
        exchange.error = exchange.error or type(exc).__name__
        raise
    finally:
        _local.exchange = outer


def _wrap_adapter_send(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        with _exchange_for("http") as exchange:
            response = original(self, request, *args, **kwargs)
            if exchange is not None:
                exchange.status = response.status_code
            return response

    return send


def _wrap_http_write(original: Callable[..., Any]) -> Callable[..., Any]:
    def write(self: Any, data: Any) -> Any:
        exchange = _exchange()
        connected = self.sock is not None
        try:
            result = original(self, data)
        except BaseException:
            # On a socket connected before this write, earlier bytes (or part of these) may be out. On a fresh one
            # the failure was the connect, or the very first bytes, which can never form a whole request.
            if exchange is not None and connected:
                exchange.written = True
            raise
        if exchange is not None:
            exchange.written = True
        return result

    return write


def _wrap_smtp_data(original: Callable[..., Any]) -> Callable[..., Any]:
    def data(self: Any, msg: Any) -> Any:
        with _exchange_for("smtp") as exchange:
            code, reply = original(self, msg)
            if exchange is not None and exchange.written:
                exchange.status = code
            return code, reply

    return data


def _wrap_smtp_send(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, s: Any) -> Any:
        exchange = _exchange()
        ends_data = exchange is not None and isinstance(s, bytes | bytearray) and bytes(s).endswith(DATA_END)
        result = original(self, s)
        # Only after a whole write: a failed one left its last bytes, the terminator among them, unsent.
        if ends_data and exchange is not None:
            exchange.written = True
        return result

    return send


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        adapter = requests.adapters.HTTPAdapter
        adapter.send = _wrap_adapter_send(adapter.send)  # type: ignore[method-assign]
        connection = urllib3.connection.HTTPConnection
        connection.send = _wrap_http_write(connection.send)  # type: ignore[method-assign]
        smtplib.SMTP.data = _wrap_smtp_data(smtplib.SMTP.data)  # type: ignore[method-assign]
        smtplib.SMTP.send = _wrap_smtp_send(smtplib.SMTP.send)  # type: ignore[method-assign]
        _installed = True
