import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProcIo, parseProcStat, parseProcStatusBytes, parseSchedstat, sampleProcess } from '../../../bench/lib/proc.js';

describe('procfs parsing', () => {
  it('reads utime and stime counting from the last parenthesis of the command name', () => {
    // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1502 377 0 0 20 0 11 0 6543 1234567 8901 18446744073709551615\n';
    expect(parseProcStat(line)).toEqual({ state: 'S', utimeTicks: 1502, stimeTicks: 377 });
    expect(() => parseProcStat('garbage')).toThrow();
  });
  it('reads kB fields of /proc/<pid>/status as bytes', () => {
    const status = 'Name:\tmosquitto\nVmHWM:\t   10240 kB\nVmRSS:\t    8192 kB\nThreads:\t1\n';
    expect(parseProcStatusBytes(status, 'VmRSS')).toBe(8192 * 1024);
    expect(parseProcStatusBytes(status, 'VmHWM')).toBe(10240 * 1024);
    expect(parseProcStatusBytes(status, 'VmSwap')).toBeUndefined();
  });
  it('reads the system call counters of /proc/<pid>/io', () => {
    const io = 'rchar: 5030\nwchar: 912\nsyscr: 17\nsyscw: 9\nread_bytes: 0\n';
    expect(parseProcIo(io, 'syscr')).toBe(17);
    expect(parseProcIo(io, 'syscw')).toBe(9);
    expect(parseProcIo(io, 'cancelled_write_bytes')).toBeUndefined();
  });
  it('samples this process, its write system calls included', () => {
    const before = sampleProcess(process.pid);
    const fd = openSync('/dev/null', 'w');
    for (let i = 0; i < 3; i++) writeSync(fd, 'x');
    closeSync(fd);
    const s = sampleProcess(process.pid);
    expect((s?.writeSyscalls ?? 0) - (before?.writeSyscalls ?? 0)).toBeGreaterThanOrEqual(3);
    expect(s?.readSyscalls).toBeGreaterThan(0);
    expect(s?.rssBytes).toBeGreaterThan(0);
    expect(s?.cpuS).toBeGreaterThan(0);
    expect(s?.systemS).toBeGreaterThanOrEqual(0);
    expect(s?.systemS).toBeLessThanOrEqual(s?.cpuS ?? 0);
    expect(sampleProcess(2 ** 22 + 1)).toBeUndefined();
  });
  it('reads the main thread\'s time on a core and on the run queue from /proc/<pid>/schedstat', () => {
    expect(parseSchedstat('2731014 521490 17\n')).toEqual({ onCpuNs: 2731014, runQueueNs: 521490, slices: 17 });
    expect(parseSchedstat('')).toBeUndefined();
    const s = sampleProcess(process.pid);
    expect(s?.mainRunQueueS).toBeGreaterThanOrEqual(0);
  });
});
