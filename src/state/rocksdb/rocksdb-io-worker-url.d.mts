/** Where the RocksDB I/O thread's module is (next to this file, in src/ or dist/). */
export declare const ROCKSDB_IO_WORKER_URL: URL;
