//! Synthetic ids and index ranges: the keyed permutations that turn a global index into a
//! unique id, their inverses, the ids that would collide with the baseline's, and the fixed
//! cut of a group's rows into parts. Both strategies use them; nothing here reads a template.
//!
//! An id is `synthetic-{type prefix}-{hex}` where the hex value is a bijection of the global
//! index, so two copies never share one and any worker can compute any id on its own.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::PlanError;
use crate::baseline::Baseline;
use crate::format::csv as csvfmt;
use crate::report::thousands;

/// The most data parts one group is cut into.
pub const MAX_PARTS: u64 = 1_000_000;

/// How the operation's synthetic ids are made.
#[derive(Debug, Clone)]
pub struct SyntheticIds {
    pub key: u64,
    /// ATG's 8-hex ids (32-bit permutation) instead of 16-hex ones.
    pub atg: bool,
    /// Global indexes whose natural id collides with a baseline id, and their replacement.
    pub overrides: HashMap<u64, u64>,
}

impl SyntheticIds {
    /// The ids of `n` rows keyed by `label` and the seed, steering clear of the baseline's.
    pub fn new(baseline: &Baseline, label: &[u8], seed: u64, n: u64, atg: bool) -> Self {
        let key = xxhash_rust::xxh3::xxh3_64_with_seed(label, seed);
        SyntheticIds {
            key,
            atg,
            overrides: find_collisions(baseline, key, n, atg),
        }
    }

    /// The id hex value of the row with global index `i`.
    #[inline]
    pub fn value(&self, i: u64) -> u64 {
        let i = self.overrides.get(&i).copied().unwrap_or(i);
        natural_value(self.key, self.atg, i)
    }

    /// Writes the id of row `i` of a type with id prefix `prefix`.
    #[inline]
    pub fn push(&self, out: &mut Vec<u8>, prefix: &str, i: u64) {
        out.extend_from_slice(b"synthetic-");
        out.extend_from_slice(prefix.as_bytes());
        out.push(b'-');
        let v = self.value(i);
        if self.atg {
            csvfmt::push_hex(out, v, 8);
        } else {
            csvfmt::push_hex16(out, v);
        }
    }
}

/// The id value of index `i` before any collision is steered away.
#[inline]
fn natural_value(key: u64, atg: bool, i: u64) -> u64 {
    if atg {
        u64::from(permute32(key, i as u32))
    } else {
        permute64(key, i)
    }
}

/// Synthetic ids of this operation that would equal an id already in the baseline, each with a
/// replacement index past N (the permutation is a bijection, so replacements never collide
/// with the operation's other ids).
fn find_collisions(baseline: &Baseline, key: u64, n: u64, atg: bool) -> HashMap<u64, u64> {
    let taken = synthetic_hex_values(baseline, if atg { 8 } else { 16 });
    let mut overrides = HashMap::new();
    if taken.is_empty() {
        return overrides;
    }
    // The permutations are bijections: invert each taken value instead of scanning all N
    // indexes (N can be billions; the baseline's synthetic ids are few by comparison).
    let mut colliding: Vec<u64> = taken
        .iter()
        .filter_map(|&v| {
            if atg {
                u32::try_from(v)
                    .ok()
                    .map(|v| u64::from(unpermute32(key, v)))
            } else {
                Some(unpermute64(key, v))
            }
        })
        .filter(|&i| i < n)
        .collect();
    colliding.sort_unstable();
    let mut next = n;
    for i in colliding {
        while taken.contains(&natural_value(key, atg, next)) {
            next += 1;
        }
        overrides.insert(i, next);
        next += 1;
    }
    overrides
}

/// The hex values of the baseline's ids of the form `synthetic-{prefix}-{hex}` with `digits`
/// hex digits, whatever the prefix (a conservative superset of the real collisions: only
/// earlier synthetic ids have that form).
fn synthetic_hex_values(baseline: &Baseline, digits: usize) -> HashSet<u64> {
    let mut taken = HashSet::new();
    baseline.for_each_id(|id| {
        let Some(rest) = id.strip_prefix(b"synthetic-") else {
            return;
        };
        let Some(pos) = rest.iter().rposition(|&c| c == b'-') else {
            return;
        };
        let hex = &rest[pos + 1..];
        if hex.len() != digits {
            return;
        }
        if let Some(v) = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
        {
            taken.insert(v);
        }
    });
    taken
}

/// The multiplicative inverse of an odd `a` modulo 2^64 (Newton's iteration).
const fn inverse64(a: u64) -> u64 {
    let mut x = a;
    let mut k = 0;
    while k < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        k += 1;
    }
    x
}

/// Undoes `x ^= x >> s` on `bits`-bit words.
fn unxorshift(mut y: u64, s: u32, bits: u32) -> u64 {
    let mut x = y;
    let mut shift = s;
    while shift < bits {
        y >>= s;
        x ^= y;
        shift += s;
    }
    x
}

/// The inverse of [`permute64`].
pub fn unpermute64(key: u64, v: u64) -> u64 {
    let mut x = v ^ key.rotate_left(17);
    x = unxorshift(x, 31, 64);
    x = x.wrapping_mul(inverse64(0x94d0_49bb_1331_11eb));
    x = unxorshift(x, 27, 64);
    x = x.wrapping_mul(inverse64(0xbf58_476d_1ce4_e5b9));
    x = unxorshift(x, 30, 64);
    x ^ key
}

/// The inverse of [`permute32`].
pub fn unpermute32(key: u64, v: u32) -> u32 {
    let k = (key ^ (key >> 32)) as u32;
    let inv = |a: u32| inverse64(u64::from(a)) as u32;
    let mut x = u64::from(v ^ k.rotate_left(11));
    x = unxorshift(x, 16, 32);
    let mut x = (x as u32).wrapping_mul(inv(0xc2b2_ae35));
    x = unxorshift(u64::from(x), 13, 32) as u32;
    x = x.wrapping_mul(inv(0x85eb_ca6b));
    x = unxorshift(u64::from(x), 16, 32) as u32;
    x ^ k
}

/// A keyed bijection on u64 (splitmix64's finaliser around a key): distinct inputs give
/// distinct ids, so copies never collide with each other.
#[inline]
pub fn permute64(key: u64, i: u64) -> u64 {
    let mut x = i ^ key;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x ^ key.rotate_left(17)
}

/// The 32-bit counterpart (murmur3's finaliser around a key), for ATG's 8-hex ids.
#[inline]
pub fn permute32(key: u64, i: u32) -> u32 {
    let k = (key ^ (key >> 32)) as u32;
    let mut x = i ^ k;
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^= x >> 16;
    x ^ k.rotate_left(11)
}

/// Fixed part ranges: they depend on the row count and `part_rows` only, never on threads.
pub fn cut(rows: u64, part_rows: u64) -> Vec<Range<u64>> {
    let part_rows = part_rows.max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < rows {
        let end = (start + part_rows).min(rows);
        parts.push(start..end);
        start = end;
    }
    parts
}

/// [`cut`], refusing a cut into more than [`MAX_PARTS`] parts (each part is a file, and the
/// plan keeps every part's range).
pub fn cut_checked(rows: u64, part_rows: u64) -> Result<Vec<Range<u64>>, PlanError> {
    let parts = rows.div_ceil(part_rows.max(1));
    if parts > MAX_PARTS {
        return Err(PlanError::Flag {
            flag: "--part-rows",
            message: format!(
                "{} rows at {} rows per part make {} data parts, more than the {} tenantgen writes per group; raise --part-rows or lower the scale",
                thousands(rows),
                thousands(part_rows),
                thousands(parts),
                thousands(MAX_PARTS)
            ),
        });
    }
    Ok(cut(rows, part_rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_bijective_on_a_sample() {
        let mut seen = HashSet::new();
        for i in 0..200_000u64 {
            assert!(seen.insert(permute64(42, i)));
        }
        let mut seen32 = HashSet::new();
        for i in 0..200_000u32 {
            assert!(seen32.insert(permute32(42, i)));
        }
    }

    #[test]
    fn permutations_invert() {
        for key in [0u64, 42, 0xdead_beef_1234_5678, u64::MAX] {
            for i in [0u64, 1, 2, 77, 1 << 31, (1 << 32) - 1, 1 << 40, u64::MAX] {
                assert_eq!(unpermute64(key, permute64(key, i)), i, "key {key} i {i}");
                let i32_ = i as u32;
                assert_eq!(
                    unpermute32(key, permute32(key, i32_)),
                    i32_,
                    "key {key} i {i}"
                );
            }
        }
    }

    #[test]
    fn parts_cover_rows_exactly() {
        assert_eq!(cut(0, 10), Vec::<Range<u64>>::new());
        assert_eq!(cut(25, 10), vec![0..10, 10..20, 20..25]);
        assert_eq!(cut(10, 10), vec![0..10]);
    }

    #[test]
    fn too_many_parts_name_the_flag() {
        assert!(cut_checked(MAX_PARTS, 1).is_ok());
        let e = cut_checked(MAX_PARTS + 1, 1).unwrap_err();
        assert!(
            e.to_string().starts_with("--part-rows: 1,000,001 rows"),
            "{e}"
        );
    }
}
