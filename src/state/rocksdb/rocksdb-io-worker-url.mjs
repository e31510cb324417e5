/**
 * Where the RocksDB I/O thread's module is. Plain JavaScript, so that it is never bundled: its
 * import.meta.url is the location of this file in src/ or dist/, next to the worker module,
 * wherever the code that imports it was loaded from.
 */
export const ROCKSDB_IO_WORKER_URL = new URL('./rocksdb-io-worker.mjs', import.meta.url);
