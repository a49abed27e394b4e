//! The one place kv reads a hashbrown table's buckets by index: the keyspace's shard tables
//! (random picks, SCAN) and the member indexes of large hashes, sets and sorted sets (HSCAN,
//! SSCAN, ZSCAN) are walked bucket by bucket, which hashbrown offers only through its raw API.

use hashbrown::raw::RawTable;

/// The element in bucket `index` of `table`, reduced modulo its bucket count, if that bucket
/// holds one.
pub(crate) fn full_bucket<T>(table: &RawTable<T>, index: usize) -> Option<&T> {
    // A power of two, as hashbrown sizes its tables.
    let index = index & (table.buckets() - 1);
    // SAFETY: `index` is masked below `buckets()`, as both calls require, and a bucket is read
    // only once `is_bucket_full` says it holds an element. The reference lives as long as the
    // borrow of `table`, so the table cannot change or be freed while it is alive.
    #[allow(unsafe_code)]
    unsafe {
        if table.is_bucket_full(index) {
            Some(table.bucket(index).as_ref())
        } else {
            None
        }
    }
}
