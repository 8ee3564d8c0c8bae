"""Load test: devices post signed deliveries while trainers poll their dashboards.

    pip install -e '.[load]'
    vitaltrust sources create loadtest --kind standard --rate 5000 --burst 10000 \
        --account-rate 50 --account-burst 100              # prints the secret
    vitaltrust users create --email coach@example.org --role trainer
    vitaltrust users token --email coach@example.org      # a trainer's token
    vitaltrust users token --email admin@example.org      # an admin's token
    VT_SOURCE=loadtest VT_SECRET=whsec_... VT_TRAINER_TOKEN=vt_... VT_ADMIN_TOKEN=vt_... \
        locust -f bench/locustfile.py --host http://127.0.0.1:8000 \
        --users 200 --spawn-rate 50 --run-time 2m --headless

Devices post as provider accounts `dev-0` ... `dev-{VT_DEVICES-1}`; link some of them
(`vitaltrust sources link loadtest --external-id dev-0 --user EMAIL`) to exercise the
whole pipeline, unlinked ones end as `unmatched` events. Without locust installed this
module defines only the helpers (pytest never collects it: it lives outside tests/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime


def delivery(secret: str, account: str, value: float, now: float | None = None
             ) -> tuple[bytes, dict[str, str]]:
    """A native `samples` body and its Standard Webhooks headers."""
    now = time.time() if now is None else now
    body = json.dumps({"type": "samples", "user": account, "samples": [
        {"metric": "weight", "value": value, "unit": "kg",
         "measured_at": datetime.fromtimestamp(now, UTC).isoformat(),
         "device": {"type": "scale"}}]}, separators=(",", ":")).encode()
    msg_id, ts = f"msg_{uuid.uuid4().hex}", str(int(now))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return body, {"Content-Type": "application/json", "webhook-id": msg_id,
                  "webhook-timestamp": ts,
                  "webhook-signature": "v1," + base64.b64encode(mac).decode()}


try:
    from locust import HttpUser, between, task
except ImportError:  # the [load] extra is not installed
    HttpUser = None  # type: ignore[assignment,misc]

if HttpUser is not None:
    SOURCE = os.environ.get("VT_SOURCE", "loadtest")
    SECRET = os.environ.get("VT_SECRET", "")
    DEVICES = int(os.environ.get("VT_DEVICES", "1000"))
    _device_ids = itertools.count()

    class Device(HttpUser):  # type: ignore[misc,valid-type]
        """A scale posting a reading every few seconds."""
        weight = 10
        wait_time = between(1, 3)

        def on_start(self) -> None:
            self.account = f"dev-{next(_device_ids) % DEVICES}"
            self.value = random.uniform(55, 110)

        @task
        def post_reading(self) -> None:
            self.value += random.uniform(-0.3, 0.3)
            body, headers = delivery(SECRET, self.account, round(self.value, 1))
            with self.client.post(f"/webhooks/{SOURCE}", data=body, headers=headers,
                                  name="/webhooks/[source]", catch_response=True) as r:
                if r.status_code in (200, 202):
                    r.success()
                elif r.status_code == 429:  # the source's budget: expected under overload
                    r.failure(f"429 (Retry-After {r.headers.get('Retry-After')})")

    class Trainer(HttpUser):  # type: ignore[misc,valid-type]
        """A coach with the dashboard open (it refreshes every few seconds)."""
        weight = 1
        wait_time = between(3, 6)

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Bearer {os.environ['VT_TRAINER_TOKEN']}"

        @task(3)
        def clients(self) -> None:
            self.client.get("/api/clients")

        @task(1)
        def monitoring(self) -> None:
            self.client.get("/api/admin/monitoring")

    class Admin(HttpUser):  # type: ignore[misc,valid-type]
        """An operator watching the system-wide dashboard."""
        weight = 1
        fixed_count = 1
        wait_time = between(5, 10)

        def on_start(self) -> None:
            self.client.headers["Authorization"] = f"Bearer {os.environ['VT_ADMIN_TOKEN']}"

        @task
        def monitoring(self) -> None:
            self.client.get("/api/admin/monitoring")
            self.client.get("/api/clients")
