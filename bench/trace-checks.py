#!/usr/bin/python3
"""Where a check's time goes, from an execution trace of the server.

Usage: go tool trace -d=parsed TRACE | bench/trace-checks.py

Reads `go tool trace -d=parsed` (Go 1.22 or later) of `semnat serve` under
bench/side-mpower.sh (SIDE_MPOWER_PPROF writes PREFIX.trace) and prints:
  - per check, as the server sees it: from the connection goroutine's wake
    on the network (a request arrived) to its next wait on the network
    (the reply written), the quantiles, and for all checks, the slowest 1%
    and those around the median, the mean time in each state: Runnable
    (waiting for a P: the scheduler), Running, Syscall, and each kind of
    wait, named by reason and by the first non-runtime function (the audit
    log's group commit is store.(*Store).appendGuarded);
  - the audit writer goroutine (store's batcher loop): its time per state,
    the length of its single stretches (Runnable/yield is the wait after
    runtime.Gosched while a batch gathers), and its batches from wake to
    wait, with the five longest;
  - the syscalls of 2 ms or more of goroutines that are not serving a
    connection, with their stacks (an fsync in a commit shows here);
  - stalls: how the slowest 1% of checks were woken (checks the poller
    made runnable at the same instant count as one wake) and how long they
    then waited to run; and every stretch of 1 ms or more that one
    goroutine was Running. A check's CPU is tens of µs, so such a stretch
    is its thread taken off the CPU (by the kernel, for another thread or
    process: the load generator's, on a machine it shares) while holding
    a P: the goroutines queued on that P wait with it.
The load generator's own latency is not in the trace: a check slow at the
load generator and quick here waited in the kernel or in the load
generator.
"""
import collections
import re
import sys

EVENT = re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+) ?(.*)$')
TRANSITION = re.compile(r'GoID=(\d+) (\w+)->(\w+) Reason="([^"]*)"')


def read(f):
    """State transitions: [time, goroutine, from, to, reason, frames]."""
    events, cur, stack = [], None, False
    for line in f:
        m = EVENT.match(line)
        if m:
            cur = None
            if m.group(4) == 'StateTransition':
                s = TRANSITION.search(m.group(6))
                if s:
                    cur = [int(m.group(5)), int(s.group(1)), s.group(2), s.group(3), s.group(4), []]
                    events.append(cur)
            continue
        if line.startswith('TransitionStack='):
            stack = True
        elif line.startswith('Stack='):
            stack = False
        elif cur is not None and stack and line.startswith('\t') and not line.startswith('\t\t') and len(cur[5]) < 40:
            cur[5].append(line.strip().split(' @')[0])
    events.sort(key=lambda e: e[0])
    return events


def ours(frames):
    return next((f for f in frames if not f.startswith(('runtime.', 'internal/', 'sync.', 'syscall.'))), '?')


def serving(frames):
    s = ' '.join(frames)
    return ('(*conn).serve' in s or 'readRequest' in s) and 'backgroundRead' not in s


def ms(ns):
    return '%.3f' % (ns / 1e6)


def quantiles(label, values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        print('%s: none' % label)
        return
    print('%s: n=%d mean %s p50 %s p90 %s p99 %s max %s ms' % (
        label, n, ms(sum(values) / n), ms(values[n // 2]), ms(values[int(n * .9)]),
        ms(values[min(n - 1, int(n * .99))]), ms(values[-1])))


def checks(events):
    """Prints the checks' quantiles and parts; returns the checks, slowest
    last, as (duration, parts, wake time, first run time)."""
    state, open_, done = {}, {}, []
    for t, g, a, b, reason, frames in events:
        prev = state.get(g)
        if prev and g in open_:
            st, since, why, pf = prev
            key = st if st != 'Waiting' else 'wait %s in %s' % (why, ours(pf))
            open_[g][1][key] += t - since
        if a == 'Runnable' and b == 'Running' and g in open_ and open_[g][2] is None:
            open_[g][2] = t
        if a == 'Running' and b == 'Waiting' and reason == 'network' and serving(frames) and g in open_:
            start, parts, first = open_.pop(g)
            done.append((t - start, parts, start, first or t))
        if a == 'Waiting' and b == 'Runnable' and prev and prev[2] == 'network' and serving(prev[3]):
            open_[g] = [t, collections.Counter(), None]
        state[g] = (b, t, reason if b == 'Waiting' else '', frames or (prev[3] if prev else []))
    done.sort(key=lambda d: d[0])
    n = len(done)
    quantiles('checks (server side)', [d[0] for d in done])
    if n == 0:
        return done

    def parts(label, sel):
        tot = collections.Counter()
        for d in sel:
            tot.update(d[1])
        print('  %s (%d): mean %s ms' % (label, len(sel), ms(sum(d[0] for d in sel) / len(sel))))
        for k, v in tot.most_common(6):
            print('    %-72s %s ms' % (k[:72], ms(v / len(sel))))
    parts('all', done)
    parts('slowest 1%', done[int(.99 * n):])
    parts('around the median', done[max(0, n // 2 - n // 100):n // 2 + n // 100 + 1])
    return done


def writer(events):
    ids = {g for t, g, a, b, r, f in events if a == 'Running' and b == 'Waiting' and any('batcher' in x and 'loop' in x for x in f)}
    for g in sorted(ids):
        stretches = collections.defaultdict(list)
        batches, start, prev = [], None, None
        for t, gg, a, b, reason, frames in events:
            if gg != g:
                continue
            if prev:
                stretches[prev[0]].append(t - prev[1])
                if start is not None:
                    start[1][prev[0]] += t - prev[1]
            idle = prev and prev[0] == 'Waiting/select' and not any('writeSlot' in x for x in prev[2])
            if a == 'Waiting' and b == 'Runnable' and idle:
                start = (t, collections.Counter())
            if a == 'Running' and b == 'Waiting' and start and not any('appendBatch' in x or 'writeSlot' in x for x in frames):
                batches.append((t - start[0], start[1]))
                start = None
            st = b
            if a == 'Running' and b == 'Runnable':
                st = 'Runnable/yield' if reason else 'Runnable/preempted'
            elif b == 'Waiting':
                st = 'Waiting/' + reason
            prev = (st, t, frames)
        total = sum(sum(v) for v in stretches.values())
        print('batcher goroutine %d: %s ms traced' % (g, ms(total)))
        for k, v in sorted(stretches.items(), key=lambda kv: -sum(kv[1])):
            quantiles('  ' + k, v)
        quantiles('  batches, wake to wait', [d for d, _ in batches])
        for d, c in sorted(batches, key=lambda x: x[0])[-5:]:
            print('    %s ms: %s' % (ms(d), ', '.join('%s %s' % (k, ms(v)) for k, v in c.most_common())))


def long_syscalls(events, limit=2e6):
    since = {}
    for t, g, a, b, reason, frames in events:
        if a == 'Syscall' and g in since:
            t0, f0 = since.pop(g)
            if t - t0 >= limit and not serving(f0):
                print('syscall of %s ms in goroutine %d:' % (ms(t - t0), g))
                for f in [x for x in f0 if not x.startswith('modernc.org/sqlite/lib._')][:8]:
                    print('    ' + f)
        if b == 'Syscall':
            since[g] = (t, frames)


def kind(frames):
    s = ' '.join(frames)
    if 'batcher' in s and 'loop' in s:
        return 'audit writer'
    if 'backgroundRead' in s:
        return 'background read'
    if 'gcBgMarkWorker' in s:
        return 'GC worker'
    if serving(frames):
        return 'connection'
    return 'other'


def stalls(events, done, long_run=1e6):
    """done: checks' result, the checks slowest last."""
    kinds, running, runs = {}, {}, collections.defaultdict(list)
    for t, g, a, b, reason, frames in events:
        if frames and g not in kinds:
            kinds[g] = kind(frames)
        if b == 'Running':
            running[g] = t
        elif a == 'Running' and g in running:
            runs[kinds.get(g, 'other')].append(t - running.pop(g))
    slow = done[int(.99 * len(done)):]
    if slow:
        # Wakes less than 50 µs apart are one (the poller readies the
        # checks it finds one after another).
        wakes = []
        for _, _, w, first in sorted(slow, key=lambda x: x[2]):
            if not wakes or w - wakes[-1][0] > 50e3:
                wakes.append((w, []))
            wakes[-1][1].append(first - w)
        t0 = events[0][0]
        print('stalls: the slowest 1%% (%d checks) were woken in %d bursts; they waited %s ms on average to run' % (
            len(slow), len(wakes), ms(sum(first - w for _, _, w, first in slow) / len(slow))))
        for w, firsts in sorted(wakes, key=lambda x: -len(x[1]))[:5]:
            print('  %d woken together at %s ms, waited %s ms to run' % (len(firsts), ms(w - t0), ms(sum(firsts) / len(firsts))))
    for k, v in sorted(runs.items()):
        longs = [x for x in v if x >= long_run]
        if longs:
            print('  %s: %d stretches Running %s ms or more (%s ms in all, the longest %s ms) of %d' % (
                k, len(longs), ms(long_run), ms(sum(longs)), ms(max(longs)), len(v)))


def main():
    events = read(sys.stdin)
    done = checks(events)
    writer(events)
    long_syscalls(events)
    stalls(events, done)


if __name__ == '__main__':
    main()
