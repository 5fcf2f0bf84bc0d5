"""Where notices go.

SMS providers in China (Aliyun, Tencent Cloud, ...) only send pre-registered templates: the
request carries a template code and its parameters, not free text. ``TemplateSmsBackend`` is that
interface; a real provider implements ``send_template``. The default ``OutboxSmsBackend`` renders
the text locally and writes it to the console and to ``var/outbox/sms/``.
"""

import json
import logging
import re
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def _outbox_path(kind: str, suffix: str) -> Path:
    folder = Path(settings.OUTBOX_DIR) / kind
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{stamp}-{uuid.uuid4().hex[:8]}{suffix}"


class SmsBackend:
    def send(self, *, phone: str, template: str, params: dict, text: str) -> str:
        """Send one SMS; return the provider's message id. Raise on failure (it is retried)."""
        raise NotImplementedError


class OutboxSmsBackend(SmsBackend):
    def send(self, *, phone, template, params, text):
        message_id = uuid.uuid4().hex
        record = {
            "id": message_id,
            "to": phone,
            "template": template,
            "params": params,
            "text": text,
        }
        _outbox_path("sms", ".json").write_text(json.dumps(record, ensure_ascii=False, indent=2))
        sys.stdout.write(f"[SMS to {phone}] {text}\n")
        sys.stdout.flush()
        return message_id


class TemplateSmsBackend(SmsBackend):
    """Base for gateways that send registered templates (template code + parameters).

    ``settings.SMS_TEMPLATE_CODES`` maps the portal's template keys to the provider's codes,
    e.g. ``SMS_TEMPLATE_CODES=verification_code=SMS_123,pay_now=SMS_456``.
    """

    phone_pattern = re.compile(r"^\+?\d{6,15}$")

    def send(self, *, phone, template, params, text):
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
        )

    def send_template(self, *, phone: str, template_code: str, params: dict, sign_name: str):
        raise NotImplementedError


def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


class OutboxEmailBackend(ConsoleEmailBackend):
    """Writes each email to the console and as an .eml file under var/outbox/email/."""

    def send_messages(self, email_messages):
        for message in email_messages:
            _outbox_path("email", ".eml").write_bytes(message.message().as_bytes())
        return super().send_messages(email_messages)
