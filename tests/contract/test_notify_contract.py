"""The Notifier contract: LocalOutbox read back directly, SnsNotifier (moto) read back from an SQS
queue subscribed to the topic, so messages go through boto3's real Publish call."""

from __future__ import annotations

import multiprocessing

import pytest

from dataplatform.resources.notify import LocalOutbox


def test_publish_round_trips_subject_and_message(notifier_and_inbox):
    notifier, inbox = notifier_and_inbox
    inbox.subscribe("ingest-events")
    inbox.subscribe("other-topic")
    sent = [
        ("Ingest finished: cloudfront", {"dataset": "cloudfront", "rows": 1234, "ratio": 0.5, "hours": ["00", "01"]}),
        ("Partitions registered", {"dataset": "vpc_flow", "partitions": [["2026-01-01", "03"]], "note": "ünïcode ✓"}),
    ]
    ids = [notifier.publish("ingest-events", subject, message) for subject, message in sent]
    assert len(set(ids)) == 2 and all(isinstance(i, str) and i for i in ids)
    elsewhere = notifier.publish("other-topic", "Elsewhere", {"n": 3})

    received = inbox.read("ingest-events", 3, timeout=2)  # asks for one more than was sent: none may leak in
    assert sorted((m["id"], m["subject"], m["message"]) for m in received) == sorted(
        (message_id, subject, message) for message_id, (subject, message) in zip(ids, sent)
    )
    assert [(m["id"], m["subject"], m["message"]) for m in inbox.read("other-topic", 2, timeout=2)] == [
        (elsewhere, "Elsewhere", {"n": 3})
    ]


def test_invalid_topics_subjects_and_messages_are_refused(notifier_and_inbox):
    notifier, _ = notifier_and_inbox
    for topic in ("", "../escape", "has space", "a" * 257):
        with pytest.raises(ValueError):
            notifier.publish(topic, "subject", {})
    for subject in ("", "line\nbreak", "x" * 100):
        with pytest.raises(ValueError):
            notifier.publish("t", subject, {})
    with pytest.raises(ValueError):
        notifier.publish("t", "too big", {"blob": "x" * (256 * 1024)})
    with pytest.raises(TypeError):
        notifier.publish("t", "not json", {"value": object()})


# Local only.


def test_local_messages_have_publication_time_and_order(tmp_path):
    outbox = LocalOutbox(tmp_path / "outbox")
    assert outbox.messages("nothing-yet") == []
    first = outbox.publish("t", "one", {"n": 1})
    second = outbox.publish("t", "two", {"n": 2})
    records = outbox.messages("t")
    assert [(r["id"], r["subject"], r["message"]) for r in records] == [(first, "one", {"n": 1}), (second, "two", {"n": 2})]
    assert all(r["published_at"].endswith("+00:00") for r in records)
    assert records[0]["published_at"] <= records[1]["published_at"]


def _publish_many(path, barrier, name, count):
    outbox = LocalOutbox(path)
    barrier.wait()
    for index in range(count):
        # Large records (bigger than a pipe buffer) would interleave without the lock.
        outbox.publish("shared", f"{name}-{index}", {"writer": name, "index": index, "pad": name * 70_000})


def test_local_outbox_is_safe_for_several_processes(tmp_path):
    path = tmp_path / "outbox"
    count = 20
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=_publish_many, args=(path, barrier, name, count)) for name in "ab"]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    records = LocalOutbox(path).messages("shared")
    assert len(records) == 2 * count and len({r["id"] for r in records}) == 2 * count
    for name in "ab":
        mine = [r["message"]["index"] for r in records if r["message"]["writer"] == name]
        assert mine == list(range(count))
        assert all(r["message"]["pad"] == name * 70_000 for r in records if r["message"]["writer"] == name)
