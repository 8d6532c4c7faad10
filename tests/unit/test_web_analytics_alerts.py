"""An anomaly alert is published once per minute, and a failed publish is retried."""

import pytest

from assets.web_analytics.assets import ALERT_TOPIC, ALERTS_TABLE, _alert_once
from dataplatform.resources.kv import SqliteKeyValueStore
from dataplatform.resources.notify import LocalOutbox


class FlakyOutbox(LocalOutbox):
    failures = 1

    def publish(self, topic, subject, message):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS unavailable")
        return super().publish(topic, subject, message)


def test_alert_is_sent_exactly_once_even_after_a_failed_publish(tmp_path):
    kv, outbox = SqliteKeyValueStore(tmp_path / "kv.sqlite"), FlakyOutbox(tmp_path / "outbox")
    kv.ensure_table(ALERTS_TABLE)
    with pytest.raises(ConnectionError):
        _alert_once(kv, outbox, "2026-11-24T12:11", 900, 100.0, 10.0)
    assert outbox.messages(ALERT_TOPIC) == []
    assert _alert_once(kv, outbox, "2026-11-24T12:11", 900, 100.0, 10.0) == 1  # the next materialisation
    assert _alert_once(kv, outbox, "2026-11-24T12:11", 900, 100.0, 10.0) == 0  # and never again
    (message,) = outbox.messages(ALERT_TOPIC)
    assert message["message"]["minute"] == "2026-11-24T12:11" and message["message"]["events"] == 900
