//! The record schema machinery: one Rust definition per record, from which the field table,
//! the layout hash and (in Python) the numpy dtype are all derived.
//!
//! [`record!`](crate::record) declares a `#[repr(C, align(64))]` struct and implements
//! [`Record`] for it: the field table lists every field's name, numpy type code, element count
//! and `offset_of!`, and [`layout_hash`] hashes that table with the struct size. Nothing else
//! in the project describes a layout, so Rust and Python cannot disagree silently: the hash in
//! every segment header is checked at attach.

/// One field of a record as numpy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDesc {
    /// Field name, identical in Rust, numpy and docs.
    pub name: &'static str,
    /// numpy type code of one element, with explicit byte order (`"<u8"`, `"|u1"`, ...).
    pub dtype: &'static str,
    /// Elements: 1 for a scalar, N for `[T; N]` (a numpy sub-array of shape `(N,)`).
    pub count: u32,
    /// Byte offset in the record (`core::mem::offset_of!`).
    pub offset: u32,
    /// Bytes per element.
    pub elem_size: u32,
    /// The field's doc comment (not part of the layout hash).
    pub doc: &'static str,
}

/// Rust types that have a numpy equivalent, and a deterministic fill pattern used by the
/// cross-language round-trip tests.
pub trait NpyField {
    /// numpy type code of one element.
    const DTYPE: &'static str;
    /// Number of elements (1 for scalars).
    const COUNT: u32;
    /// Bytes per element.
    const ELEM_SIZE: u32;
    /// The value whose element `i` is the low bytes of `pattern_word(seed, i)`.
    fn pattern(seed: u64) -> Self;
    /// Whether `self` equals [`NpyField::pattern`]`(seed)`.
    fn matches_pattern(&self, seed: u64) -> bool;
}

/// splitmix64: the pattern generator shared with the Python side (`phantom_pipeline.schema`).
pub const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `i` of a field's fill pattern.
pub const fn pattern_word(seed: u64, i: u64) -> u64 {
    splitmix64(seed ^ i.wrapping_mul(0x0100_0000_01B3))
}

macro_rules! npy_scalar {
    ($($t:ty => $code:literal),* $(,)?) => {$(
        impl NpyField for $t {
            const DTYPE: &'static str = $code;
            const COUNT: u32 = 1;
            const ELEM_SIZE: u32 = core::mem::size_of::<$t>() as u32;
            fn pattern(seed: u64) -> Self {
                pattern_word(seed, 0) as $t
            }
            fn matches_pattern(&self, seed: u64) -> bool {
                *self == Self::pattern(seed)
            }
        }
        impl<const N: usize> NpyField for [$t; N] {
            const DTYPE: &'static str = $code;
            const COUNT: u32 = N as u32;
            const ELEM_SIZE: u32 = core::mem::size_of::<$t>() as u32;
            fn pattern(seed: u64) -> Self {
                core::array::from_fn(|i| pattern_word(seed, i as u64) as $t)
            }
            fn matches_pattern(&self, seed: u64) -> bool {
                *self == Self::pattern(seed)
            }
        }
    )*};
}

npy_scalar!(
    u8 => "|u1", i8 => "|i1", u16 => "<u2", i16 => "<i2",
    u32 => "<u4", i32 => "<i4", u64 => "<u8", i64 => "<i8",
);

macro_rules! npy_atomic {
    ($($t:ty => $code:literal, $int:ty);* $(;)?) => {$(
        impl NpyField for $t {
            const DTYPE: &'static str = $code;
            const COUNT: u32 = 1;
            const ELEM_SIZE: u32 = core::mem::size_of::<$t>() as u32;
            fn pattern(seed: u64) -> Self {
                <$t>::new(pattern_word(seed, 0) as $int)
            }
            fn matches_pattern(&self, seed: u64) -> bool {
                self.load(core::sync::atomic::Ordering::Relaxed) == pattern_word(seed, 0) as $int
            }
        }
        /// Arrays of atomics: what an array field that more than one process touches, or
        /// that one process writes while others read, is made of (same layout as `[$int; N]`).
        impl<const N: usize> NpyField for [$t; N] {
            const DTYPE: &'static str = $code;
            const COUNT: u32 = N as u32;
            const ELEM_SIZE: u32 = core::mem::size_of::<$t>() as u32;
            fn pattern(seed: u64) -> Self {
                core::array::from_fn(|i| <$t>::new(pattern_word(seed, i as u64) as $int))
            }
            fn matches_pattern(&self, seed: u64) -> bool {
                self.iter().enumerate().all(|(i, a)| {
                    a.load(core::sync::atomic::Ordering::Relaxed) == pattern_word(seed, i as u64) as $int
                })
            }
        }
    )*};
}

npy_atomic!(
    core::sync::atomic::AtomicU64 => "<u8", u64;
    core::sync::atomic::AtomicU32 => "<u4", u32;
    core::sync::atomic::AtomicU8 => "|u1", u8;
);

/// A named-constant group: (group name, Python-side prefix, every constant as (name, value)).
pub type ConstantGroup = (&'static str, &'static str, &'static [(&'static str, i64)]);

/// Declares a module of named integer constants and, beside them, `NAMES`: every constant as
/// `(name, value)` in declaration order. The Python extension exports groups from `NAMES`, so
/// a constant's name is written once, here.
#[macro_export]
macro_rules! named_consts {
    (
        $(#[$meta:meta])*
        pub mod $group:ident : $t:ty {
            $( $(#[$cmeta:meta])* $name:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub mod $group {
            $( $(#[$cmeta])* pub const $name: $t = $value; )*
            /// Every constant of the group as (name, value), in declaration order.
            pub const NAMES: &[(&str, i64)] = &[ $( (stringify!($name), $name as i64) ),* ];
        }
    };
}

/// A record every field of which is an atomic (or an array of atomics), so that a shared
/// reference to one in shared memory is sound while other processes write it.
///
/// # Safety
/// Every field must be an `Atomic*` type or an array of them: no plain integer or byte may be
/// reachable through `&Self`. (The seqlock word a table needs first is an `AtomicU64` too.)
pub unsafe trait AtomicRecord: Record {}

/// What a segment's slots hold. Stored in the header as part of `record_kind`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordId {
    /// The 4096-byte segment header itself (never a segment's payload).
    SegmentHeader = 0,
    /// [`crate::records::MarketUpdate`]
    MarketUpdate = 1,
    /// [`crate::records::PoolState`]
    PoolState = 2,
    /// [`crate::records::OrderIntent`]
    OrderIntent = 3,
    /// [`crate::records::ExecReport`]
    ExecReport = 4,
    /// [`crate::records::SupervisorBlock`]
    SupervisorBlock = 5,
    /// [`crate::records::FeederBlock`]
    FeederBlock = 6,
    /// [`crate::records::SignerBlock`]
    SignerBlock = 7,
    /// [`crate::records::StrategyBlock`]
    StrategyBlock = 8,
    /// [`crate::records::ProbeRecord`], for tests and benchmarks.
    ProbeRecord = 15,
}

impl RecordId {
    /// Every record id, in declaration order.
    pub const ALL: [RecordId; 10] = [
        RecordId::SegmentHeader,
        RecordId::MarketUpdate,
        RecordId::PoolState,
        RecordId::OrderIntent,
        RecordId::ExecReport,
        RecordId::SupervisorBlock,
        RecordId::FeederBlock,
        RecordId::SignerBlock,
        RecordId::StrategyBlock,
        RecordId::ProbeRecord,
    ];

    /// The record's type name.
    pub fn name(self) -> &'static str {
        match self {
            RecordId::SegmentHeader => "SegmentHeader",
            RecordId::MarketUpdate => "MarketUpdate",
            RecordId::PoolState => "PoolState",
            RecordId::OrderIntent => "OrderIntent",
            RecordId::ExecReport => "ExecReport",
            RecordId::SupervisorBlock => "SupervisorBlock",
            RecordId::FeederBlock => "FeederBlock",
            RecordId::SignerBlock => "SignerBlock",
            RecordId::StrategyBlock => "StrategyBlock",
            RecordId::ProbeRecord => "ProbeRecord",
        }
    }

    /// Look a record up by its numeric id.
    pub fn from_u32(v: u32) -> Option<RecordId> {
        RecordId::ALL.into_iter().find(|r| *r as u32 == v)
    }

    /// Look a record up by name.
    pub fn from_name(name: &str) -> Option<RecordId> {
        RecordId::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// How a segment arranges its records.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// An SPSC ring of `capacity` slots (a power of two).
    Ring = 1,
    /// A table of `capacity` entries, each guarded by its own seqlock word (or atomics).
    Table = 2,
}

impl Container {
    /// Lower-case name used in errors and by the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Container::Ring => "ring",
            Container::Table => "table",
        }
    }

    /// Look a container up by its numeric id.
    pub fn from_u32(v: u32) -> Option<Container> {
        match v {
            1 => Some(Container::Ring),
            2 => Some(Container::Table),
            _ => None,
        }
    }
}

/// The header's `record_kind`: container in the high 16 bits, record id in the low 16.
pub const fn record_kind(container: Container, record: RecordId) -> u32 {
    ((container as u32) << 16) | record as u32
}

/// Human form of a `record_kind` value, e.g. `ring<MarketUpdate>`; unknown values in hex.
pub fn describe_record_kind(kind: u32) -> String {
    match (
        Container::from_u32(kind >> 16),
        RecordId::from_u32(kind & 0xFFFF),
    ) {
        (Some(c), Some(r)) => format!("{}<{}> ({kind:#x})", c.name(), r.name()),
        _ => format!("unknown ({kind:#x})"),
    }
}

/// A fixed-layout record of the schema.
///
/// # Safety
/// Implementors are `#[repr(C)]` structs of integers (and integer atomics) only, so every bit
/// pattern, including all zeroes, is a valid value, and `FIELDS` describes every field.
/// Implement it only through [`record!`](crate::record).
pub unsafe trait Record: Sized + 'static {
    /// Record name, as in [`RecordId::name`].
    const NAME: &'static str;
    /// The record's id.
    const ID: RecordId;
    /// Every field, in declaration order.
    const FIELDS: &'static [FieldDesc];
    /// `size_of::<Self>()`, a multiple of 64.
    const SIZE: usize = core::mem::size_of::<Self>();
    /// Hash of `FIELDS` and `SIZE`; stored in every segment header holding this record.
    const LAYOUT_HASH: u64 = layout_hash(Self::FIELDS, core::mem::size_of::<Self>());

    /// An all-zero value.
    fn zeroed() -> Self {
        // SAFETY: the trait's contract: every bit pattern, zeroes included, is valid.
        unsafe { core::mem::zeroed() }
    }

    /// Set every field to its deterministic pattern for `seed` (cross-language tests).
    fn fill_pattern(&mut self, seed: u64);

    /// Names of the fields that differ from their pattern for `seed`.
    fn pattern_mismatches(&self, seed: u64) -> Vec<&'static str>;
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

const fn fnv_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

const fn fnv_u64(h: u64, v: u64) -> u64 {
    fnv_bytes(h, &v.to_le_bytes())
}

/// FNV-1a 64 of a field name: the per-field seed of the fill pattern.
pub const fn name_hash(name: &str) -> u64 {
    fnv_bytes(FNV_OFFSET, name.as_bytes())
}

/// One field's contribution to the layout hash.
const fn hash_field(mut h: u64, name: &str, dtype: &str, count: u32, offset: u32) -> u64 {
    h = fnv_bytes(h, name.as_bytes());
    h = fnv_bytes(h, &[0]);
    h = fnv_bytes(h, dtype.as_bytes());
    h = fnv_bytes(h, &[0]);
    h = fnv_u64(h, count as u64);
    fnv_u64(h, offset as u64)
}

/// FNV-1a 64 over (name, dtype, count, offset) of every field, then the record size.
/// The Python side recomputes it from the exported table and checks they agree.
pub const fn layout_hash(fields: &[FieldDesc], size: usize) -> u64 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        h = hash_field(h, f.name, f.dtype, f.count, f.offset);
        i += 1;
    }
    fnv_u64(h, size as u64)
}

/// [`layout_hash`] of a field table given as `(name, dtype, count, offset)` tuples.
pub fn layout_hash_of<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str, u32, u32)>,
    size: usize,
) -> u64 {
    let h = fields
        .into_iter()
        .fold(FNV_OFFSET, |h, (n, d, c, o)| hash_field(h, n, d, c, o));
    fnv_u64(h, size as u64)
}

/// Declare a schema record: a `#[repr(C, align(64))]` struct plus its [`Record`] impl.
/// Fields take doc comments only (they become [`FieldDesc::doc`]).
///
/// ```
/// phantom_ringbuf::record! {
///     /// A record for the example.
///     pub struct Example(phantom_ringbuf::schema::RecordId::ProbeRecord) {
///         /// Sequence number.
///         pub seq: u64,
///         /// Some bytes.
///         pub bytes: [u8; 8],
///     }
/// }
/// use phantom_ringbuf::schema::Record;
/// assert_eq!(Example::FIELDS[1].offset, 8);
/// assert_eq!(Example::SIZE, 64);
/// ```
#[macro_export]
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident ($id:expr) {
            $( $(#[doc = $fdoc:literal])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C, align(64))]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        // SAFETY: the struct above is repr(C) and (by the macro's use in this crate) made of
        // integers and integer atomics only; FIELDS lists every field with its offset_of!.
        unsafe impl $crate::schema::Record for $name {
            const NAME: &'static str = stringify!($name);
            const ID: $crate::schema::RecordId = $id;
            const FIELDS: &'static [$crate::schema::FieldDesc] = &[
                $( $crate::schema::FieldDesc {
                    name: stringify!($field),
                    dtype: <$ty as $crate::schema::NpyField>::DTYPE,
                    count: <$ty as $crate::schema::NpyField>::COUNT,
                    offset: core::mem::offset_of!($name, $field) as u32,
                    elem_size: <$ty as $crate::schema::NpyField>::ELEM_SIZE,
                    doc: concat!($($fdoc),*),
                }, )*
            ];

            fn fill_pattern(&mut self, seed: u64) {
                $( self.$field = <$ty as $crate::schema::NpyField>::pattern(
                    seed ^ $crate::schema::name_hash(stringify!($field))); )*
            }

            fn pattern_mismatches(&self, seed: u64) -> Vec<&'static str> {
                let mut bad = Vec::new();
                $( if !<$ty as $crate::schema::NpyField>::matches_pattern(
                        &self.$field, seed ^ $crate::schema::name_hash(stringify!($field))) {
                    bad.push(stringify!($field));
                } )*
                bad
            }
        }

        const _: () = assert!(core::mem::size_of::<$name>() % 64 == 0);
    };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::records::*;

    /// The field table must describe the struct the compiler laid out: fields in offset
    /// order, inside the record, not overlapping, and the gaps only alignment padding.
    fn check_table<R: Record>() {
        let mut end = 0u32;
        for f in R::FIELDS {
            assert!(
                f.offset >= end,
                "{}.{} overlaps the previous field",
                R::NAME,
                f.name
            );
            assert!(
                f.offset - end < 8,
                "{}.{}: unexplained gap",
                R::NAME,
                f.name
            );
            assert_eq!(
                f.offset % f.elem_size,
                0,
                "{}.{} misaligned",
                R::NAME,
                f.name
            );
            end = f.offset + f.count * f.elem_size;
        }
        assert!(end as usize <= R::SIZE);
        assert!(
            R::SIZE - (end as usize) < 64,
            "{}: unexplained tail padding",
            R::NAME
        );
        assert_eq!(R::SIZE % 64, 0);
        assert_eq!(R::LAYOUT_HASH, layout_hash(R::FIELDS, R::SIZE));
    }

    #[test]
    fn every_field_table_matches_the_compiled_layout() {
        check_table::<SegmentHeader>();
        check_table::<MarketUpdate>();
        check_table::<PoolState>();
        check_table::<OrderIntent>();
        check_table::<ExecReport>();
        check_table::<SupervisorBlock>();
        check_table::<FeederBlock>();
        check_table::<SignerBlock>();
        check_table::<StrategyBlock>();
        check_table::<ProbeRecord>();
        assert_eq!(core::mem::size_of::<MarketUpdate>(), 64);
        assert_eq!(core::mem::size_of::<ProbeRecord>(), 64);
    }

    #[test]
    fn layout_hash_changes_with_any_field_property() {
        let base = MarketUpdate::FIELDS;
        let h = layout_hash(base, 64);
        assert_ne!(h, layout_hash(base, 128));
        let mut v: Vec<FieldDesc> = base.to_vec();
        v[3].offset += 8;
        assert_ne!(h, layout_hash(&v, 64));
        let mut v: Vec<FieldDesc> = base.to_vec();
        v[1].name = "slot2";
        assert_ne!(h, layout_hash(&v, 64));
        let mut v: Vec<FieldDesc> = base.to_vec();
        v[0].dtype = "<i8";
        assert_ne!(h, layout_hash(&v, 64));
        assert_eq!(
            h,
            layout_hash_of(
                base.iter().map(|f| (f.name, f.dtype, f.count, f.offset)),
                64
            )
        );
    }

    #[test]
    fn pattern_fill_is_detected_field_by_field() {
        let mut r = OrderIntent::zeroed();
        r.fill_pattern(42);
        assert!(r.pattern_mismatches(42).is_empty());
        assert_eq!(r.pattern_mismatches(43).len(), OrderIntent::FIELDS.len());
        r.min_out[2] ^= 1;
        assert_eq!(r.pattern_mismatches(42), vec!["min_out"]);
    }

    #[test]
    fn record_kind_round_trips_through_its_description() {
        let k = record_kind(Container::Ring, RecordId::MarketUpdate);
        assert_eq!(k, 0x1_0001);
        assert!(describe_record_kind(k).starts_with("ring<MarketUpdate>"));
        assert!(describe_record_kind(0xdead_beef).starts_with("unknown"));
    }
}
