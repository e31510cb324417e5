// Shared helpers for the spike's measurements: key encoding, random streams, timing.
import { rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export const require = createRequire(import.meta.url);
/** Where the databases go (deleted and recreated per run). */
export const DATA = process.env.WEIR_SPIKE_DATA ?? join(tmpdir(), 'weir-rocksdb-spike');
export const RocksDB = require('rocksdb-native');

export const MAX_PARALLELISM = 128;

/** Deterministic 32-bit PRNG (xorshift32), so every run sees the same stream. */
export function rng(seed = 0x9e3779b9) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

/** FNV-1a of a latin1 string; stands in for weir's murmur key-group hash. */
export function hash(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The user key of index i: 17 latin1 characters. */
export function userKey(i) {
  return 'user-' + String(i).padStart(12, '0');
}

/**
 * The RocksDB key: key group (2 bytes, big-endian), state id (1 byte), key bytes (17 here) = 20
 * bytes. Key group first so that a key-group range is one contiguous key range.
 */
export function encodeKey(str, stateId = 1) {
  const kg = hash(str) % MAX_PARALLELISM;
  const b = Buffer.allocUnsafe(3 + str.length);
  b[0] = kg >>> 8; b[1] = kg & 0xff; b[2] = stateId;
  b.latin1Write(str, 3);
  return b;
}

export function encodeCount(n) {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** A Zipf(s) sampler over [0, n) by inverse CDF on a precomputed table (rank 0 most frequent). */
export function zipf(n, s, random) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) { sum += 1 / Math.pow(i + 1, s); cdf[i] = sum; }
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  // Ranks are scattered over the key space so hot keys are not neighbours in key order.
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); const t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
  return () => {
    const u = random();
    let lo = 0, hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    return perm[lo];
  };
}

export function freshDir(path) {
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return path;
}

export const now = () => performance.now();

export function rate(n, ms) {
  return Math.round(n / (ms / 1000));
}

export function fmt(n) {
  return n.toLocaleString('en-US');
}

/** Loads keys [0, n) with value `value` in write batches of `batch`; returns ms. */
export async function load(db, n, batch, value = 0) {
  const v = encodeCount(value);
  const t0 = now();
  for (let i = 0; i < n; i += batch) {
    const w = db.write({ capacity: batch });
    const end = Math.min(n, i + batch);
    for (let j = i; j < end; j++) w.tryPut(encodeKey(userKey(j)), v);
    await w.flush();
    w.destroy();
  }
  return now() - t0;
}
