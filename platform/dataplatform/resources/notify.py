"""Notification port: publish a JSON message with a subject to a named topic.
`local` = an append-only JSON-lines outbox per topic, `aws` = SNS (one topic per name).

Both adapters accept the same topics, subjects and messages, so nothing that works locally
is refused by SNS: topic names as SNS allows them, subjects of 1-99 printable ASCII
characters without line breaks, messages that serialise to at most 256 KiB of JSON.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_SUBJECT = re.compile(r"^[\x20-\x7e]{1,99}$")  # SNS: "less than 100 characters"
MAX_MESSAGE_BYTES = 256 * 1024


def _check_topic(topic: str) -> None:
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise ValueError(f"invalid topic {topic!r}: 1-256 letters, digits, '_' or '-'")


def _serialise(subject: str, message: Mapping) -> str:
    if not isinstance(subject, str) or not _SUBJECT.match(subject) or not subject.strip():
        raise ValueError(f"invalid subject {subject!r}: 1-99 printable ASCII characters, no line breaks")
    body = json.dumps(dict(message), sort_keys=True, allow_nan=False)
    if len(body.encode()) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message is {len(body.encode())} bytes of JSON, more than {MAX_MESSAGE_BYTES}")
    return body


class Notifier(ABC):
    @abstractmethod
    def publish(self, topic: str, subject: str, message: Mapping) -> str:
        """Publish a JSON-serialisable message. Returns the message id."""


class LocalOutbox(Notifier):
    """`<path>/<topic>.jsonl`, one record per line: id, subject, message, published_at (UTC ISO-8601).
    Each record is written whole under an exclusive flock to an O_APPEND descriptor, so several
    processes can publish to one topic without interleaving; readers take a shared lock."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _file(self, topic: str) -> Path:
        _check_topic(topic)
        return self.path / f"{topic}.jsonl"

    def publish(self, topic: str, subject: str, message: Mapping) -> str:
        file = self._file(topic)
        body = _serialise(subject, message)
        message_id = str(uuid.uuid4())
        record = {
            "id": message_id,
            "subject": subject,
            "message": json.loads(body),
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
        data = (json.dumps(record, sort_keys=True) + "\n").encode()
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(data)
            while view:  # a single write normally; loop in case the kernel takes less
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)  # releases the lock
        return message_id

    def messages(self, topic: str) -> list[dict]:
        """Every record published to `topic`, oldest first (empty if none)."""
        file = self._file(topic)
        try:
            handle = file.open("rb")
        except FileNotFoundError:
            return []
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            lines = handle.read().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class SnsNotifier(Notifier):
    """One SNS topic per name: `<topic_prefix><topic>`, created on first use (CreateTopic is idempotent)."""

    def __init__(self, client, topic_prefix: str = ""):
        self.client = client
        self.topic_prefix = topic_prefix
        self._arns: dict[str, str] = {}

    def topic_arn(self, topic: str) -> str:
        _check_topic(topic)
        name = self.topic_prefix + topic
        _check_topic(name)
        if name not in self._arns:
            self._arns[name] = self.client.create_topic(Name=name)["TopicArn"]
        return self._arns[name]

    def publish(self, topic: str, subject: str, message: Mapping) -> str:
        arn = self.topic_arn(topic)
        body = _serialise(subject, message)
        return self.client.publish(TopicArn=arn, Subject=subject, Message=body)["MessageId"]
