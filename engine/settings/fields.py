"""The value types every settings section is built from: bounded texts, e-mail addresses,
URLs that may carry a credential, secret references, and strict sections."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from engine.net.origins import INSECURE_MESSAGE, is_encrypted_or_local
from engine.settings.secrets import parse_secret_ref

_EMAIL = re.compile(r"^[^@\s\"<>,;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_TEXT_LENGTH = 256
MAX_EMAIL_LENGTH = 254
"""RFC 5321's limit on a forward path."""
MAX_RECIPIENTS = 100


class FieldRuleError(ValueError):
    """A rule across fields, reported against the one field the user should change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _check_email(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValueError(
            f"is too long for an e-mail address (at most {MAX_EMAIL_LENGTH} characters)"
        )
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like name@example.com")
    return value.lower()


def _check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL like https://mail.example.com/EWS/Exchange.asmx")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain spaces")
    if len(value) > 2048 or len(parts.hostname) > 253:
        raise ValueError("is too long for a URL (at most 2048 characters, host 253)")
    return value


def _check_credential_url(value: str) -> str:
    """A URL that receives a credential (a password, a client secret, a token, the PSA's
    API secret): https, or plain http to this machine only."""
    value = _check_url(value)
    if not is_encrypted_or_local(value):
        raise ValueError(INSECURE_MESSAGE)
    return value


def _check_https_url(value: str) -> str:
    """A URL Microsoft's servers call: https only, wherever it points."""
    value = _check_url(value)
    if urlsplit(value).scheme != "https":
        raise ValueError("must be an https URL: Microsoft Graph calls https URLs only")
    return value


def _check_listen_address(value: str) -> str:
    """``host:port`` (an IPv6 host in brackets) where a local server listens."""
    value = value.strip()
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535 or " " in host:
        raise ValueError("must be host:port, like 0.0.0.0:8443")
    return value


def _check_absolute_path(value: str) -> str:
    value = value.strip()
    if not value.startswith("/"):
        raise ValueError("must be an absolute path, like /etc/msext/receiver.pem")
    return value


def _check_secret_ref(value: str) -> str:
    """Only references are stored: the secret itself lives in the environment or a file."""
    parse_secret_ref(value)
    return value


Email = Annotated[str, AfterValidator(_check_email)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]
"""Names, ids and versions: bounded, so that no value makes the file too large to read."""
Url = Annotated[str, AfterValidator(_check_url)]
CredentialUrl = Annotated[str, AfterValidator(_check_credential_url)]
SecretRef = Annotated[str, AfterValidator(_check_secret_ref)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
ListenAddress = Annotated[str, AfterValidator(_check_listen_address)]
AbsolutePath = Annotated[Text, AfterValidator(_check_absolute_path)]


class Section(BaseModel):
    """Strict sections: an unknown key is a mistake worth reporting, not ignoring."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
