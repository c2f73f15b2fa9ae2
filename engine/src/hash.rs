//! Hash helpers for the engine's two hash tables: a leaf module, imported by `index` (the
//! inode index) and by `instance` and `engine` (the per-instance wd tables).
//!
//! Both tables store only a `u32` slab index and recompute the hash from the watch record,
//! so these functions are the one definition of each table's hash.

/// A 64-bit mixer (the splitmix64 finaliser): good high bits for hashbrown's tags and good
/// low bits for its bucket index.
#[inline]
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a wd in an instance's wd table.
#[inline]
pub(crate) fn wd_hash(wd: i32) -> u64 {
    mix(wd as u32 as u64)
}

/// Hash of an inode key (filesystem `fs`, inode `ino`) in the inode index: the key folded
/// into 64 bits, then mixed.
#[inline]
pub(crate) fn inode_hash(fs: u32, ino: u64) -> u64 {
    mix(ino ^ (fs as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
