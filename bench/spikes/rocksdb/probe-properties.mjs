// Which RocksDB properties the binding answers synchronously (binding.propertyGet), also while suspended.
import { require, RocksDB, freshDir, load, DATA } from './common.mjs';
const binding = require('./node_modules/rocksdb-native/binding.js');
const db = new RocksDB(freshDir(`${DATA}/probe`));
await db.ready();
await load(db, 100_000, 10_000, 1);
await db.flush();
const get = (name) => { try { return JSON.stringify(binding.propertyGet(db._state._handle, db._columnFamily._handle, name)).slice(0, 80); } catch (e) { return 'error: ' + e.message; } };
await db.suspend();
for (const p of ['rocksdb.num-running-compactions', 'rocksdb.num-running-flushes', 'rocksdb.compaction-pending', 'rocksdb.live-sst-files-size', 'rocksdb.num-files-at-level0', 'rocksdb.cur-size-all-mem-tables', 'rocksdb.estimate-num-keys', 'rocksdb.sstables', 'rocksdb.levelstats', 'rocksdb.block-cache-usage']) console.log(p, '=', get(p));
await db.resume();
await db.close();
