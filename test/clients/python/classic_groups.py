"""
Classic consumer-group scenarios driven by librdkafka (python confluent-kafka) for
test/clients/classic-groups.test.ts. Each mode prints one JSON line of findings on stdout
(the test asserts on it); every wait is a bounded poll loop.

  classic_groups.py cooperative BOOTSTRAP TOPIC GROUP RECORDS
  classic_groups.py static      BOOTSTRAP TOPIC GROUP
  classic_groups.py dead-leader BOOTSTRAP TOPIC GROUP
  classic_groups.py member      BOOTSTRAP TOPIC GROUP NAME SESSION_MS   (a plain member, for dead-leader)
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

SESSION_MS = 2000


def consumer(bootstrap, group, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": 200,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    conf.update(extra)
    return Consumer(conf)


def produce(bootstrap, topic, values, partitions=4):
    """Record i goes to partition i % partitions, so every member gets its share."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for v in values:
        p.produce(topic, value=str(v).encode(), partition=v % partitions)
    assert p.flush(30) == 0, "produce did not complete"


def poll_until(consumers, done, deadline_s, on_message):
    """Polls every consumer in turn until done() or the deadline; False on timeout."""
    end = time.time() + deadline_s
    while time.time() < end:
        for name, c in consumers:
            m = c.poll(0.05)
            if m is not None and not m.error():
                on_message(name, c, m)
        if done():
            return True
    return False


class Tracker:
    """Assignment events per member (librdkafka calls these from poll)."""

    def __init__(self, name):
        self.name = name
        self.owned = set()
        self.events = []

    def on_assign(self, c, parts):
        ps = sorted(p.partition for p in parts)
        self.events.append(["assign", ps])
        self.owned |= set(ps)

    def on_revoke(self, c, parts):
        ps = sorted(p.partition for p in parts)
        self.events.append(["revoke", ps])
        # Offsets of what is given away are committed before it goes (cooperative: only those).
        if ps:
            positions = [tp for tp in c.position(parts) if tp.offset >= 0]
            if positions:
                c.commit(offsets=positions, asynchronous=False)
        self.owned -= set(ps)

    def on_lost(self, c, parts):
        self.events.append(["lost", sorted(p.partition for p in parts)])
        self.owned -= set(p.partition for p in parts)


def cooperative(bootstrap, topic, group, records):
    half = records // 2
    produce(bootstrap, topic, range(half))
    seen = {"a": [], "b": []}
    last = {}
    ta, tb = Tracker("a"), Tracker("b")

    def record(name, c, m):
        seen[name].append(int(m.value()))
        last[m.partition()] = [name, m.offset()]
    extra = {"partition.assignment.strategy": "cooperative-sticky"}
    a = consumer(bootstrap, group, **extra)
    a.subscribe([topic], on_assign=ta.on_assign, on_revoke=ta.on_revoke, on_lost=ta.on_lost)
    ok1 = poll_until([("a", a)], lambda: len(seen["a"]) >= half, 30, record)
    a_before = sorted(ta.owned)
    b = consumer(bootstrap, group, **extra)
    b.subscribe([topic], on_assign=tb.on_assign, on_revoke=tb.on_revoke, on_lost=tb.on_lost)
    ok2 = poll_until([("a", a), ("b", b)], lambda: len(tb.owned) > 0 and len(ta.owned) + len(tb.owned) == len(a_before), 30, record)
    # The second half is produced after the rebalance: both members consume their share.
    produce(bootstrap, topic, range(half, records))
    ok3 = poll_until([("a", a), ("b", b)], lambda: len(set(seen["a"]) | set(seen["b"])) >= records, 30, record)
    for c in (a, b):
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            # Nothing consumed since the last commit is not a failure.
            if e.args[0].code() != KafkaError._NO_OFFSET:
                raise
    a_after, b_after = sorted(ta.owned), sorted(tb.owned)
    a_events, b_events = list(ta.events), list(tb.events)
    ends = {p: a.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in range(4)}
    a.close()
    b.close()
    everything = seen["a"] + seen["b"]
    print(json.dumps({
        "completed": ok1 and ok2 and ok3,
        "phases": [ok1, ok2, ok3],
        "aBefore": a_before,
        "aAfter": a_after,
        "bAfter": b_after,
        "aEvents": a_events,
        "bEvents": b_events,
        "consumed": len(everything),
        "distinct": len(set(everything)),
        "missing": sorted(set(range(records)) - set(everything))[:10],
        "bRecords": len(seen["b"]),
        "lastRead": last,
        "ends": ends,
    }))


def static(bootstrap, topic, group):
    produce(bootstrap, topic, range(100))
    ta, tb = Tracker("a"), Tracker("b")
    a = consumer(bootstrap, group, **{"group.instance.id": "static-a"})
    b = consumer(bootstrap, group, **{"group.instance.id": "static-b"})
    a.subscribe([topic], on_assign=ta.on_assign, on_revoke=ta.on_revoke, on_lost=ta.on_lost)
    b.subscribe([topic], on_assign=tb.on_assign, on_revoke=tb.on_revoke, on_lost=tb.on_lost)
    noop = lambda name, c, m: None
    ok1 = poll_until([("a", a), ("b", b)], lambda: len(ta.owned) > 0 and len(tb.owned) > 0 and len(ta.owned | tb.owned) == 4, 30, noop)
    # Settle: a few heartbeats with the assignment in place.
    poll_until([("a", a), ("b", b)], lambda: False, 0.6, noop)
    b_before = sorted(tb.owned)
    a_events_before = len(ta.events)
    # b's process restarts: a static member does not leave the group when it closes.
    b.close()
    tb2 = Tracker("b2")
    b2 = consumer(bootstrap, group, **{"group.instance.id": "static-b"})
    b2.subscribe([topic], on_assign=tb2.on_assign, on_revoke=tb2.on_revoke, on_lost=tb2.on_lost)
    ok2 = poll_until([("a", a), ("b2", b2)], lambda: len(tb2.owned) > 0, 30, noop)
    # A session timeout more: the replaced member id does not expire into a rebalance either.
    poll_until([("a", a), ("b2", b2)], lambda: False, SESSION_MS / 1000 + 0.5, noop)
    result = {
        "completed": ok1 and ok2,
        "bBefore": b_before,
        "b2": sorted(tb2.owned),
        "b2Events": list(tb2.events),
        "aEventsDuringRestart": ta.events[a_events_before:],
        "aOwned": sorted(ta.owned),
    }
    a.close()
    b2.close()
    print(json.dumps(result))


def member(bootstrap, topic, group, name, session_ms):
    """A plain member that reports its assignments on stdout and librdkafka's group debug log on stderr."""
    t = Tracker(name)
    c = consumer(bootstrap, group, debug="cgrp,protocol", **{"session.timeout.ms": session_ms})

    def on_assign(c_, parts):
        t.on_assign(c_, parts)
        print(json.dumps({"assigned": sorted(t.owned)}), flush=True)

    def on_revoke(c_, parts):
        t.on_revoke(c_, parts)
        print(json.dumps({"assigned": sorted(t.owned)}), flush=True)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=t.on_lost)
    end = time.time() + 60
    while time.time() < end:
        c.poll(0.1)
    c.close()


class Proc:
    """A member process whose stdout (assignments) and stderr (debug log) lines are collected by threads."""

    def __init__(self, bootstrap, topic, group, name, session_ms):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "member", bootstrap, topic, group, name, str(session_ms)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        threading.Thread(target=lambda: collect(self.p.stdout, self.out, lambda l: json.loads(l)["assigned"]), daemon=True).start()
        threading.Thread(target=lambda: collect(self.p.stderr, self.err, lambda l: l), daemon=True).start()

    def assigned(self):
        return self.out[-1] if self.out else []

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)


# Notified whenever a member process prints a line: waits are on its output, not on a timer.
output_changed = threading.Condition()


def collect(stream, into, parse):
    for line in stream:
        with output_changed:
            into.append(parse(line))
            output_changed.notify_all()


def wait_for(cond, seconds):
    with output_changed:
        return output_changed.wait_for(cond, timeout=seconds)


def dead_leader(bootstrap, topic, group):
    """
    The leader dies (SIGKILL, no LeaveGroup) with its JoinGroup in the broker's hands: the join
    phase completes with it, the follower gets its JoinGroup answer and sends SyncGroup, and
    waits for an assignment the dead leader never sends. That SyncGroup must be answered
    (REBALANCE_IN_PROGRESS) once the leader's session expires, and the follower takes over.

    To hold the join phase open while the leader is killed, a third member is frozen
    (SIGSTOP) with a longer session: the rebalance waits for it until its session expires.
    """
    leader = Proc(bootstrap, topic, group, "leader", SESSION_MS)
    frozen = follower = None
    try:
        assert wait_for(lambda: len(leader.assigned()) == 4, 30), "leader never got the partitions"
        frozen = Proc(bootstrap, topic, group, "frozen", 2 * SESSION_MS)
        assert wait_for(lambda: len(frozen.assigned()) > 0 and len(leader.assigned()) < 4, 30), "second member never got partitions"
        frozen.signal(signal.SIGSTOP)
        joins_before = sum("-> wait-join" in l for l in leader.err)
        sent_before = sum("Sent JoinGroupRequest" in l for l in leader.err)
        follower = Proc(bootstrap, topic, group, "follower", SESSION_MS)
        # The leader learns of the rebalance by heartbeat and sends its JoinGroup, which the broker holds
        # until the frozen member's session expires.
        assert wait_for(lambda: sum("-> wait-join" in l for l in leader.err) > joins_before, 30), "leader never rejoined"
        rejoined_at = time.time()
        log_at_rejoin = len(leader.err)
        # Killed once its JoinGroup is on the wire (on loopback: in the broker's socket buffer).
        assert wait_for(lambda: sum("Sent JoinGroupRequest" in l for l in leader.err) > sent_before, 30), "leader never sent its JoinGroup"
        leader.signal(signal.SIGKILL)
        killed_at = time.time()
        took_over = wait_for(lambda: len(follower.assigned()) == 4, 30)
        takeover = time.time()
    finally:
        for p in (leader, frozen, follower):
            if p is not None:
                p.signal(signal.SIGKILL)
                p.p.wait()
    sync_answers = [l.split("SyncGroup response: ", 1)[1].strip() for l in follower.err if "SyncGroup response: " in l]
    print(json.dumps({
        # The leader's JoinGroup was never answered while it lived: it died before it could sync.
        "killedWithJoinPending": not any("JoinGroup response" in l for l in leader.err[log_at_rejoin:]),
        "killedWithinMs": round((killed_at - rejoined_at) * 1000),
        "tookOver": took_over,
        "takeoverSeconds": round(takeover - killed_at, 3),
        "followerSyncAnswers": sync_answers,
    }))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "cooperative":
        cooperative(args[0], args[1], args[2], int(args[3]))
    elif mode == "static":
        static(args[0], args[1], args[2])
    elif mode == "dead-leader":
        dead_leader(args[0], args[1], args[2])
    elif mode == "member":
        member(args[0], args[1], args[2], args[3], int(args[4]))
    else:
        raise SystemExit("unknown mode " + mode)
