"""Where notices go.

SMS providers in China (Aliyun, Tencent Cloud, ...) only send pre-registered templates: the
request carries a template code and its parameters, not free text. ``TemplateSmsBackend`` is that
interface; a real provider implements ``send_template``. The default ``OutboxSmsBackend`` renders
the text locally and writes it to the console and to ``var/outbox/sms/``.

Each notice passes its key as the provider's out-id (Aliyun ``OutId``, Tencent
``SessionContext``). When a worker dies between the provider's acceptance and recording it,
``lookup`` asks the provider whether a message with that out-id was accepted; a backend that
cannot tell raises ``NotImplementedError`` and the notice is left for a person to check rather
than sent twice on a guess. The outbox backends name their files by the key, so they can tell.
"""

import hashlib
import json
import logging
import os
import re
import sys
import uuid
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


# What ``lookup`` answers besides a message id.
NOT_SENT = None
UNKNOWN = object()


def _outbox_path(kind: str, suffix: str, key: str = "") -> Path:
    """A file of the outbox: named by the notice key when there is one (the same key always
    gives the same name, so a lookup is one ``exists``), else by the time."""
    folder = Path(settings.OUTBOX_DIR) / kind
    folder.mkdir(parents=True, exist_ok=True)
    if key:
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80]
        return folder / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}{suffix}"
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{stamp}-{uuid.uuid4().hex[:8]}{suffix}"


def _write_whole(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: the file exists whole or not at all."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class SmsBackend:
    def send(self, *, phone: str, template: str, params: dict, text: str, out_id: str = "") -> str:
        """Send one SMS; return the provider's message id. Raise on failure (it is retried).

        ``out_id`` is the notice key: pass it to the provider as its out-id."""
        raise NotImplementedError

    def lookup(self, *, out_id: str, phone: str) -> str | None:
        """The provider's message id if it accepted a message with ``out_id``, None if not.
        Raise NotImplementedError when the provider cannot tell."""
        raise NotImplementedError


class OutboxSmsBackend(SmsBackend):
    def send(self, *, phone, template, params, text, out_id=""):
        message_id = uuid.uuid4().hex
        record = {
            "id": message_id,
            "out_id": out_id,
            "to": phone,
            "template": template,
            "params": params,
            "text": text,
        }
        data = json.dumps(record, ensure_ascii=False, indent=2).encode()
        _write_whole(_outbox_path("sms", ".json", out_id), data)
        sys.stdout.write(f"[SMS to {phone}] {text}\n")
        sys.stdout.flush()
        return message_id

    def lookup(self, *, out_id, phone):
        path = _outbox_path("sms", ".json", out_id)
        if not out_id or not path.exists():
            return None
        return json.loads(path.read_text())["id"]


class TemplateSmsBackend(SmsBackend):
    """Base for gateways that send registered templates (template code + parameters).

    ``settings.SMS_TEMPLATE_CODES`` maps the portal's template keys to the provider's codes,
    e.g. ``SMS_TEMPLATE_CODES=verification_code=SMS_123,pay_now=SMS_456``.
    """

    phone_pattern = re.compile(r"^\+?\d{6,15}$")

    def send(self, *, phone, template, params, text, out_id=""):
        try:
            code = settings.SMS_TEMPLATE_CODES[template]
        except KeyError:
            raise ImproperlyConfigured(
                f"No provider template code for SMS template {template!r} in SMS_TEMPLATE_CODES."
            ) from None
        if not self.phone_pattern.match(phone):
            raise ValueError(f"Not a phone number: {phone!r}")
        return self.send_template(
            phone=phone,
            template_code=code,
            params={name: str(value) for name, value in params.items()},
            sign_name=settings.SMS_SIGN_NAME,
            out_id=out_id,
        )

    def send_template(
        self, *, phone: str, template_code: str, params: dict, sign_name: str, out_id: str
    ):
        raise NotImplementedError


def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


class OutboxEmailBackend(ConsoleEmailBackend):
    """Writes each email to the console and as an .eml file under var/outbox/email/ (named by
    its notice key, when it is a notice)."""

    def send_messages(self, email_messages):
        """Each message is built once (``message()`` is most of the cost of an email) and
        that one copy goes to the file and to the console."""
        if not email_messages:
            return 0
        built = []
        for message in email_messages:
            key = message.extra_headers.get("X-Notice-Key", "")
            mime = message.message()
            data = mime.as_bytes()
            _write_whole(_outbox_path("email", ".eml", key), data)
            charset = mime.get_charset().get_output_charset() if mime.get_charset() else "utf-8"
            built.append(data.decode(charset))
        count = 0
        with self._lock:
            try:
                stream_created = self.open()
                for text in built:
                    self.stream.write(f"{text}\n")
                    self.stream.write("-" * 79)
                    self.stream.write("\n")
                    self.stream.flush()  # after each message, as the console backend does
                    count += 1
                if stream_created:
                    self.close()
            except Exception:
                if not self.fail_silently:
                    raise
        return count

    @classmethod
    def lookup(cls, key: str) -> str | None:
        path = _outbox_path("email", ".eml", key)
        if not path.exists():
            return None
        headers = BytesParser().parsebytes(path.read_bytes(), headersonly=True)
        return headers.get("Message-ID", "")


def email_lookup(key: str) -> str | None:
    """The Message-ID of the notice email with ``key`` if it went, None if not.

    Asks the mail backend's ``lookup(key)`` class method; raises NotImplementedError when it
    has none (SMTP: the mail server keeps no index the portal can ask)."""
    lookup = getattr(import_string(settings.EMAIL_BACKEND), "lookup", None)
    if lookup is None:
        raise NotImplementedError
    return lookup(key)
