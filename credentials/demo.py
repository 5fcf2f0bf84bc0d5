"""Demo data of this app: a gate device waiting to be registered, with its one-time link."""

from ciie_portal.models import Edition

from .entry.models import GateDevice
from .entry.services import device_create, device_enrolment_token

DEVICE_NAME = "演示平板"


def load(context: dict) -> None:
    edition = Edition.objects.filter(is_current=True).first()
    if edition is None:
        return
    device = GateDevice.objects.filter(
        edition=edition, name=DEVICE_NAME, revoked_at__isnull=True
    ).first()
    if device is None:
        device, token = device_create(edition=edition, name=DEVICE_NAME, gate="1号门", actor=None)
    else:
        token = device_enrolment_token(device=device, actor=None)
    context["accounts"].append(
        ("入场设备 (gate device, once)", "—", "—", f"/gate/app/#enrol={token}")
    )
