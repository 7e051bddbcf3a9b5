// Unit test of the wrk output parser (run with `node --test "bench/**/*.test.ts"`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWrk } from './wrk.ts';

const SAMPLE = `Running 10s test @ http://127.0.0.1:40000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  310.11us   9.87ms   90.12%
    Req/Sec    42.10k     1.20k   44.00k    70.00%
  Latency Distribution
     50%  1.48ms
     75%  1.60ms
     90%  1.80ms
     99%  2.75ms
  419012 requests in 10.00s, 70.33MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  41897.32
Transfer/sec:      7.03MB
`;

test('parses req/s, p50/p99 in ms, request count, errors', () => {
  const r = parseWrk(SAMPLE);
  assert.equal(r.rps, 41897.32);
  assert.equal(r.p50Ms, 1.48);
  assert.equal(r.p99Ms, 2.75);
  assert.equal(r.requests, 419012);
  assert.equal(r.non2xx, 5);
  assert.equal(r.socketErrors, 3);
});

test('converts us and s latencies', () => {
  const r = parseWrk(SAMPLE.replace('1.48ms', '870.00us').replace('2.75ms', '1.20s'));
  assert.equal(r.p50Ms, 0.87);
  assert.equal(r.p99Ms, 1200);
});

test('refuses output without the latency distribution', () => {
  assert.throws(() => parseWrk(SAMPLE.replace(/^\s+99%.*$/m, '')), /99% latency/);
  assert.throws(() => parseWrk('connection refused'), /Requests\/sec/);
});
