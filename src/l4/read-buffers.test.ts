import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUF_SIZE, COLD_BYTES, HOT_BYTES, MAX_PRIVATE, SHARED, copyOf, drop, nextReadBuffer, privateInUse, release } from './read-buffers.ts';

test('a socket turns hot on a large read, stays hot while a write is pending, turns cold on a small completed read', () => {
  const base = privateInUse();
  assert.equal(nextReadBuffer(SHARED, HOT_BYTES - 1, false), SHARED, 'small reads stay on the shared buffer');
  const p = nextReadBuffer(SHARED, HOT_BYTES, false);
  assert.notEqual(p, SHARED);
  assert.equal(p.length, BUF_SIZE);
  assert.equal(privateInUse(), base + 1);
  assert.equal(nextReadBuffer(p, 10, true), p, 'a pending write keeps the buffer');
  assert.equal(nextReadBuffer(p, COLD_BYTES, false), p, 'a read of COLD_BYTES or more keeps it');
  assert.equal(nextReadBuffer(p, COLD_BYTES - 1, false), SHARED, 'a small read written at once gives it back');
  assert.equal(privateInUse(), base);
  const again = nextReadBuffer(SHARED, BUF_SIZE, false);
  assert.equal(again, p, 'the free list is reused');
  release(again);
  assert.equal(privateInUse(), base);
});

test('at most MAX_PRIVATE private buffers; dropped ones are not reused', () => {
  const base = privateInUse();
  const held: Buffer[] = [];
  for (let i = 0; i < MAX_PRIVATE + 5; i++) held.push(nextReadBuffer(SHARED, BUF_SIZE, false));
  assert.equal(held.filter((b) => b !== SHARED).length, MAX_PRIVATE - base);
  assert.equal(privateInUse(), MAX_PRIVATE);
  const victim = held.find((b) => b !== SHARED) as Buffer;
  drop(victim);
  for (const b of held) if (b !== victim) release(b);
  assert.equal(privateInUse(), base);
  for (let i = 0; i < MAX_PRIVATE; i++) {
    const b = nextReadBuffer(SHARED, BUF_SIZE, false);
    assert.notEqual(b, victim, 'a dropped buffer never comes back');
    release(b);
  }
});

test('copyOf copies only the bytes read', () => {
  SHARED.write('hello world', 0, 'latin1');
  const c = copyOf(SHARED, 5);
  SHARED.write('HELLO', 0, 'latin1');
  assert.equal(c.toString('latin1'), 'hello');
});
