"""
A consume-transform-produce loop with exactly-once semantics, as confluent-kafka documents
it: read `in_topic` read_committed, write each record transformed to `out_topic` inside a
transaction, commit the consumed offsets with send_offsets_to_transaction in the same
transaction. One transaction in the middle is aborted on purpose and its input re-read from
the last committed positions. Then `out_topic` is read read_committed and checked: every
input exactly once. Prints one JSON line with the findings.

usage: eos_transform.py BOOTSTRAP IN_TOPIC OUT_TOPIC RECORDS WITH_OFFSETS(0|1)
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

bootstrap, in_topic, out_topic, records, with_offsets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
DEADLINE = time.monotonic() + 120

# The input, written plainly.
feeder = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
for i in range(records):
    feeder.produce(in_topic, key=str(i), value="in-%d" % i)
    if i % 1000 == 0:
        feeder.poll(0)
if feeder.flush(30) != 0:
    raise SystemExit("feeder could not deliver")

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "eos-transform",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
})
consumer.subscribe([in_topic])
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "eos-transform", "linger.ms": 5})
producer.init_transactions(30)

consumed = set()
committed_positions = {}
transactions = 0
aborted_on_purpose = False
while len(consumed) < records:
    if time.monotonic() > DEADLINE:
        raise SystemExit("transform loop did not finish: %d of %d consumed" % (len(consumed), records))
    batch = consumer.consume(num_messages=700, timeout=0.5)
    batch = [m for m in batch if m.error() is None]
    if not batch:
        continue
    producer.begin_transaction()
    for m in batch:
        producer.produce(out_topic, key=m.key(), value=b"out-" + m.value())
    positions = consumer.position(consumer.assignment())
    if with_offsets:
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
    transactions += 1
    if transactions == 3 and not aborted_on_purpose:
        # Abort this one: its output must never be read committed; its input is read again.
        aborted_on_purpose = True
        producer.abort_transaction(30)
        for tp in consumer.assignment():
            consumer.seek(TopicPartition(tp.topic, tp.partition, committed_positions.get((tp.topic, tp.partition), 0)))
        continue
    producer.commit_transaction(30)
    for tp in positions:
        committed_positions[(tp.topic, tp.partition)] = tp.offset
    for m in batch:
        consumed.add(int(m.key()))

group_offsets = {}
if with_offsets:
    for tp in consumer.committed(consumer.assignment(), timeout=10):
        group_offsets["%s-%d" % (tp.topic, tp.partition)] = tp.offset
consumer.close()

# The output, read committed.
reader = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": "eos-verify",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
})
reader.subscribe([out_topic])
seen = {}


def read_everything():
    """Every data record is read once the position of each partition is past its last data
    record: the last thing in every output partition is the commit marker at high watermark - 1."""
    assignment = reader.assignment()
    if len(seen) < records or not assignment:
        return False
    for tp in reader.position(assignment):
        low, high = reader.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=5, cached=False)
        if high > 0 and tp.offset < high - 1:
            return False
    return True


while not read_everything():
    if time.monotonic() > DEADLINE:
        raise SystemExit("output not read in time: %d distinct of %d" % (len(seen), records))
    for m in reader.consume(num_messages=1000, timeout=0.5):
        if m.error() is not None:
            continue
        if m.value() != b"out-in-" + m.key():
            raise SystemExit("unexpected output record %r=%r" % (m.key(), m.value()))
        k = int(m.key())
        seen[k] = seen.get(k, 0) + 1
reader.close()

print(json.dumps({
    "transactions": transactions,
    "abortedOnPurpose": aborted_on_purpose,
    "outputRecords": sum(seen.values()),
    "distinct": len(seen),
    "duplicates": sorted(k for k, n in seen.items() if n > 1)[:20],
    "missing": sorted(set(range(records)) - set(seen))[:20],
    "groupOffsets": group_offsets,
}))
