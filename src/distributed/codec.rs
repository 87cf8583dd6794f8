//! How values cross ranks: a byte encoding of every [`Value`] variant, array blocks as raw
//! little-endian bytes with their dtype and shape, and a registry of codecs for payloads.
//!
//! ```text
//!  value  := 0                                   unit
//!          | 1 u8                                bool
//!          | 2 i64                               int
//!          | 3 f64                               float (its bits)
//!          | 4 u64 bytes                         str (length, UTF-8)
//!          | 5 u64 value*                        list (length, items)
//!          | 6 u8 u32 u64* bytes                 array block (dtype, ndim, shape, elements)
//!          | 7 u32 bytes u64 u64 bytes           payload (codec name, nbytes, length, body)
//! ```
//!
//! All integers are little-endian. Decoding checks every length against the bytes left, so a
//! malformed message is a [`Codec`](ErrorKind::Codec) error, never a huge allocation.

use crate::array::{Block, BlockData, DType};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::MAX_NESTING;
use crate::value::{Payload, Value};
use ndarray::{ArrayD, IxDyn};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::sync::Arc;

const UNIT: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const STR: u8 = 4;
const LIST: u8 = 5;
const BLOCK: u8 = 6;
const PAYLOAD: u8 = 7;

type EncodeFn = dyn Fn(&dyn Any, &mut Vec<u8>) -> Result<(), String> + Send + Sync;
type DecodeFn = dyn Fn(&[u8], usize) -> Result<Value, String> + Send + Sync;

/// One payload codec: its wire name and the two directions.
struct Entry {
    name: Arc<str>,
    encode: Box<EncodeFn>,
    decode: Box<DecodeFn>,
}

/// The codecs of a distributed run: which payload types can cross ranks and how.
///
/// Scalars, strings, lists and array blocks always can; array reduction partials too. A
/// payload of any other type needs a codec registered here, on every rank, under the same
/// Rust type: [`Codecs::serde_opaque`] for values made by [`Value::opaque`] (what
/// `Op::typed` returns for a non-scalar type), [`Codecs::serde_payload`] for types that
/// implement [`Payload`] themselves, [`Codecs::partition`] for the partitions of a bag of `T`.
/// Serde codecs write JSON.
///
/// ```
/// use blockwork::Value;
/// use blockwork::distributed::Codecs;
/// let mut codecs = Codecs::new();
/// codecs.serde_opaque::<Vec<String>>();
/// let v = Value::opaque(vec!["a".to_string()], 1);
/// let bytes = codecs.encode(&v)?;
/// let back = codecs.decode(&bytes)?;
/// assert_eq!(back.downcast_ref::<Vec<String>>().unwrap(), &["a".to_string()]);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone)]
pub struct Codecs {
    by_type: FxHashMap<TypeId, Arc<Entry>>,
    by_name: FxHashMap<Arc<str>, Arc<Entry>>,
}

impl Default for Codecs {
    fn default() -> Self {
        Codecs::new()
    }
}

impl std::fmt::Debug for Codecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.by_name.keys().map(|n| &**n).collect();
        names.sort_unstable();
        f.debug_struct("Codecs").field("payloads", &names).finish()
    }
}

impl Codecs {
    /// The built-in codecs: array reduction partials, the intermediates of sorts, `unique`,
    /// quantiles, histograms and bincounts, and word counters
    /// ([`Counter<str>`](crate::bag::Counter) as made by `frequencies_by`, and
    /// `Counter<[u8]>` as made by [`top_words`](crate::bag::corpus::top_words)); blocks and
    /// plain values need none.
    pub fn new() -> Codecs {
        let mut c = Codecs {
            by_type: FxHashMap::default(),
            by_name: FxHashMap::default(),
        };
        c.custom::<crate::array::Partial>(
            "blockwork.reduction-partial",
            crate::array::encode_partial,
            |b, _| crate::array::decode_partial(b),
        );
        c.custom::<crate::array::Run>("blockwork.sorted-run", crate::array::encode_run, |b, _| {
            crate::array::decode_run(b)
        });
        c.custom::<crate::array::Tally>(
            "blockwork.unique-tally",
            crate::array::encode_tally,
            |b, _| crate::array::decode_tally(b),
        );
        c.custom::<crate::array::SortedKeys>(
            "blockwork.sorted-keys",
            |k, out| {
                put_vec(&k.0, out);
                Ok(())
            },
            |b, _| {
                let mut r = Reader(b);
                let keys = get_vec(&mut r)?;
                r.finish("sorted keys")?;
                Ok(Value::payload(crate::array::SortedKeys(keys)))
            },
        );
        crate::array::register_sort_codecs(&mut c);
        c.custom::<crate::array::Counts>(
            "blockwork.bin-counts",
            crate::array::encode_counts,
            |b, _| crate::array::decode_counts(b),
        );
        c.custom::<crate::bag::Counter<str>>(
            "blockwork.word-counter",
            |counter, out| {
                let pairs: Vec<(&str, usize)> = counter.iter().map(|(k, n)| (&**k, n)).collect();
                json_encode(&pairs, out)
            },
            |b, nbytes| {
                let mut counter = crate::bag::Counter::<str>::new();
                for (k, n) in json_decode::<Vec<(String, usize)>>(b)? {
                    counter.add_n(&k, n);
                }
                Ok(Value::opaque(counter, nbytes))
            },
        );
        // Words as bytes: per entry, the length-prefixed word and its count.
        c.custom::<crate::bag::Counter<[u8]>>(
            "blockwork.byte-word-counter",
            |counter, out| {
                for (k, n) in counter.iter() {
                    out.extend((k.len() as u64).to_le_bytes());
                    out.extend_from_slice(k);
                    out.extend((n as u64).to_le_bytes());
                }
                Ok(())
            },
            |b, nbytes| {
                let mut counter = crate::bag::Counter::<[u8]>::new();
                let mut r = Reader(b);
                while !r.0.is_empty() {
                    let k = r.bytes()?;
                    let n = r.len()?;
                    counter.add_n(k, n);
                }
                Ok(Value::opaque(counter, nbytes))
            },
        );
        c
    }

    /// Registers a codec for payloads whose `as_any` type is `T`, under `name` (which must
    /// be the same on every rank). `decode` gets the body and the size the sender's payload
    /// reported.
    pub fn custom<T: Any>(
        &mut self,
        name: &str,
        encode: impl Fn(&T, &mut Vec<u8>) -> Result<(), String> + Send + Sync + 'static,
        decode: impl Fn(&[u8], usize) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Self {
        let entry = Arc::new(Entry {
            name: name.into(),
            encode: Box::new(move |any: &dyn Any, out: &mut Vec<u8>| {
                match any.downcast_ref::<T>() {
                    Some(t) => encode(t, out),
                    None => Err("codec registered for another type".into()),
                }
            }),
            decode: Box::new(decode),
        });
        self.by_type.insert(TypeId::of::<T>(), entry.clone());
        self.by_name.insert(entry.name.clone(), entry);
        self
    }

    /// A JSON codec (serde) for values made by [`Value::opaque`] with a `T`.
    pub fn serde_opaque<T>(&mut self) -> &mut Self
    where
        T: Serialize + DeserializeOwned + Any + Send + Sync,
    {
        self.custom::<T>(std::any::type_name::<T>(), json_encode::<T>, |b, n| {
            json_decode::<T>(b).map(|t| Value::opaque(t, n))
        })
    }

    /// A JSON codec (serde) for a type that implements [`Payload`] (made by
    /// [`Value::payload`]).
    pub fn serde_payload<P>(&mut self) -> &mut Self
    where
        P: Payload + Serialize + DeserializeOwned,
    {
        self.custom::<P>(std::any::type_name::<P>(), json_encode::<P>, |b, _| {
            json_decode::<P>(b).map(Value::payload)
        })
    }

    /// A JSON codec for the partitions of a bag of `T`
    /// ([`Partition<T>`](crate::bag::Partition)).
    pub fn partition<T>(&mut self) -> &mut Self
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        use crate::bag::Partition;
        self.custom::<Partition<T>>(
            std::any::type_name::<Partition<T>>(),
            |p: &Partition<T>, out| json_encode(&p.0, out),
            |b, _| json_decode::<Vec<T>>(b).map(|v| Value::payload(Partition(v))),
        )
    }

    /// Whether a payload of this value's type can be encoded (always true for the other
    /// variants; a list is checked one level deep).
    pub fn can_encode(&self, v: &Value) -> bool {
        match v {
            Value::Opaque(p) => self.payload_codec(&**p).is_ok(),
            Value::List(items) => items.iter().all(|i| match i {
                Value::Opaque(p) => self.payload_codec(&**p).is_ok(),
                _ => true,
            }),
            _ => true,
        }
    }

    fn payload_codec(&self, p: &dyn Payload) -> Result<Option<&Entry>, String> {
        let any = p.as_any();
        if any.is::<Block>() {
            return Ok(None);
        }
        match self.by_type.get(&any.type_id()) {
            Some(e) => Ok(Some(e)),
            None => Err(format!(
                "no codec for a payload of type {}: register one with distributed::Codecs",
                p.type_name()
            )),
        }
    }

    /// Whether values whose payload type is `ty` can be encoded: array blocks, and types
    /// with a registered codec.
    ///
    /// ```
    /// use blockwork::distributed::Codecs;
    /// use blockwork::graph::PayloadType;
    /// let mut codecs = Codecs::new();
    /// assert!(!codecs.can_encode_type(PayloadType::of::<Vec<String>>()));
    /// codecs.serde_opaque::<Vec<String>>();
    /// assert!(codecs.can_encode_type(PayloadType::of::<Vec<String>>()));
    /// ```
    pub fn can_encode_type(&self, ty: crate::graph::PayloadType) -> bool {
        ty.id() == TypeId::of::<Block>() || self.by_type.contains_key(&ty.id())
    }

    /// `v` as bytes.
    pub fn encode(&self, v: &Value) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(v, &mut out)
            .map_err(|m| Error::new(ErrorKind::Codec, m))?;
        Ok(out)
    }

    /// Appends `v` to `out`; the message says why it cannot be encoded.
    pub(crate) fn encode_into(&self, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        self.encode_at(v, out, 0)
    }

    fn encode_at(&self, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!("lists nested deeper than {MAX_NESTING}"));
        }
        match v {
            Value::Unit => out.push(UNIT),
            Value::Bool(b) => out.extend([BOOL, u8::from(*b)]),
            Value::Int(i) => {
                out.push(INT);
                out.extend(i.to_le_bytes());
            }
            Value::Float(f) => {
                out.push(FLOAT);
                out.extend(f.to_bits().to_le_bytes());
            }
            Value::Str(s) => {
                out.push(STR);
                put_bytes(out, s.as_bytes());
            }
            Value::List(items) => {
                out.push(LIST);
                out.extend((items.len() as u64).to_le_bytes());
                for i in items.iter() {
                    self.encode_at(i, out, depth + 1)?;
                }
            }
            Value::Opaque(p) => match self.payload_codec(&**p)? {
                None => {
                    let block = p.as_any().downcast_ref::<Block>().expect("checked above");
                    encode_block(block.data(), out);
                }
                Some(entry) => {
                    out.push(PAYLOAD);
                    put_bytes(out, entry.name.as_bytes());
                    out.extend((p.nbytes() as u64).to_le_bytes());
                    let mut body = Vec::new();
                    (entry.encode)(p.as_any(), &mut body)?;
                    put_bytes(out, &body);
                }
            },
        }
        Ok(())
    }

    /// The value encoded in `bytes` (all of them).
    pub fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let mut r = Reader(bytes);
        let v = self
            .decode_at(&mut r, 0)
            .map_err(|m| Error::new(ErrorKind::Codec, format!("malformed value: {m}")))?;
        if !r.0.is_empty() {
            return Err(Error::new(
                ErrorKind::Codec,
                format!("{} bytes after the value", r.0.len()),
            ));
        }
        Ok(v)
    }

    fn decode_at(&self, r: &mut Reader<'_>, depth: usize) -> Result<Value, String> {
        if depth > MAX_NESTING {
            return Err(format!("lists nested deeper than {MAX_NESTING}"));
        }
        Ok(match r.u8()? {
            UNIT => Value::Unit,
            BOOL => Value::Bool(r.u8()? != 0),
            INT => Value::Int(i64::from_le_bytes(r.array()?)),
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(r.array()?))),
            STR => {
                let b = r.bytes()?;
                Value::Str(std::str::from_utf8(b).map_err(|e| e.to_string())?.into())
            }
            LIST => {
                let n = r.len()?;
                // Every item takes at least one byte.
                if n > r.0.len() {
                    return Err("list longer than its message".into());
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.decode_at(r, depth + 1)?);
                }
                Value::List(items.into())
            }
            BLOCK => decode_block(r)?,
            PAYLOAD => {
                let name = std::str::from_utf8(r.bytes()?).map_err(|e| e.to_string())?;
                let nbytes = usize::try_from(u64::from_le_bytes(r.array()?))
                    .map_err(|_| "payload size out of range")?;
                let body = r.bytes()?;
                let entry = self
                    .by_name
                    .get(name)
                    .ok_or_else(|| format!("no codec named {name} on this rank"))?;
                (entry.decode)(body, nbytes)?
            }
            t => return Err(format!("unknown tag {t}")),
        })
    }
}

fn json_encode<T: Serialize>(t: &T, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, t).map_err(|e| e.to_string())
}

fn json_decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    serde_json::from_slice(b).map_err(|e| e.to_string())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// A cursor over a message; every read is checked against what is left.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(format!("{n} bytes wanted, {} left", self.0.len()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes taken"))
    }
    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn len(&mut self) -> Result<usize, String> {
        usize::try_from(u64::from_le_bytes(self.array()?)).map_err(|_| "length out of range".into())
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.len()?;
        self.take(n)
    }
    /// An error naming `what` when bytes are left after it.
    pub(crate) fn finish(&self, what: &str) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes after {what}", self.0.len()))
        }
    }
}

/// An element type that travels as raw little-endian bytes.
pub(crate) trait Raw: Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! raw_number {
    ($($t:ty),*) => {$(
        impl Raw for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend(self.to_le_bytes());
            }
            fn get(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("SIZE bytes"))
            }
        }
    )*};
}
raw_number!(i32, i64, u64, f32, f64);

/// A key and a position (the items of an argsort).
impl Raw for (u64, i64) {
    const SIZE: usize = 16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend(self.0.to_le_bytes());
        out.extend(self.1.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        let (k, p) = b.split_at(8);
        (
            u64::from_le_bytes(k.try_into().expect("8 bytes")),
            i64::from_le_bytes(p.try_into().expect("8 bytes")),
        )
    }
}

impl Raw for bool {
    const SIZE: usize = 1;
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn get(b: &[u8]) -> Self {
        b[0] != 0
    }
}

/// Appends the elements of `v` as raw bytes.
pub(crate) fn put_raw<T: Raw>(v: &[T], out: &mut Vec<u8>) {
    out.reserve(v.len() * T::SIZE);
    for &x in v {
        x.put(out);
    }
}

/// Appends the length of `v`, then its elements as raw bytes.
pub(crate) fn put_vec<T: Raw>(v: &[T], out: &mut Vec<u8>) {
    out.extend((v.len() as u64).to_le_bytes());
    put_raw(v, out);
}

/// A vector [`put_vec`] wrote.
pub(crate) fn get_vec<T: Raw>(r: &mut Reader<'_>) -> Result<Vec<T>, String> {
    let n = r.len()?;
    get_raw(r, n)
}

/// `n` elements read as raw bytes.
pub(crate) fn get_raw<T: Raw>(r: &mut Reader<'_>, n: usize) -> Result<Vec<T>, String> {
    let len = n.checked_mul(T::SIZE).ok_or("element count overflows")?;
    Ok(r.take(len)?.chunks_exact(T::SIZE).map(T::get).collect())
}

const DTYPES: [DType; 5] = [DType::Bool, DType::I32, DType::I64, DType::F32, DType::F64];

fn encode_block(data: &BlockData, out: &mut Vec<u8>) {
    out.push(BLOCK);
    put_block_data(data, out);
}

/// Appends a block's dtype, shape and elements (raw little-endian, in logical order).
pub(crate) fn put_block_data(data: &BlockData, out: &mut Vec<u8>) {
    let code = DTYPES
        .iter()
        .position(|&d| d == data.dtype())
        .expect("a dtype") as u8;
    out.push(code);
    fn body<T: Raw>(a: &ArrayD<T>, out: &mut Vec<u8>) {
        out.extend((a.ndim() as u32).to_le_bytes());
        for &d in a.shape() {
            out.extend((d as u64).to_le_bytes());
        }
        match a.as_slice() {
            Some(s) => put_raw(s, out),
            None => a.iter().for_each(|&x| x.put(out)),
        }
    }
    crate::array::with_block!(data, a => body(a, out));
}

fn decode_block(r: &mut Reader<'_>) -> Result<Value, String> {
    Ok(Block::new(get_block_data(r)?, None).into_value())
}

/// A block's data as [`put_block_data`] wrote it.
pub(crate) fn get_block_data(r: &mut Reader<'_>) -> Result<BlockData, String> {
    let dtype = *DTYPES.get(usize::from(r.u8()?)).ok_or("unknown dtype")?;
    let ndim = u32::from_le_bytes(r.array()?) as usize;
    if ndim > r.0.len() / 8 {
        return Err("more axes than the message holds".into());
    }
    let mut shape = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        shape.push(r.len()?);
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("block size overflows")?;
    fn array<T: Raw>(r: &mut Reader<'_>, shape: &[usize], n: usize) -> Result<ArrayD<T>, String> {
        ArrayD::from_shape_vec(IxDyn(shape), get_raw(r, n)?).map_err(|e| e.to_string())
    }
    Ok(match dtype {
        DType::Bool => BlockData::Bool(array(r, &shape, n)?),
        DType::I32 => BlockData::I32(array(r, &shape, n)?),
        DType::I64 => BlockData::I64(array(r, &shape, n)?),
        DType::F32 => BlockData::F32(array(r, &shape, n)?),
        DType::F64 => BlockData::F64(array(r, &shape, n)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(codecs: &Codecs, v: &Value) -> Value {
        codecs.decode(&codecs.encode(v).unwrap()).unwrap()
    }

    #[test]
    fn byte_word_counters_round_trip_with_the_built_in_codecs() {
        // What `bag::corpus::top_words` counts: words as bytes, not all UTF-8.
        let mut counter = crate::bag::Counter::<[u8]>::new();
        let words: [&[u8]; 4] = [b"a", b"bb", b"\xff\x00", b"a"];
        for w in words {
            counter.add(w);
        }
        let back = round_trip(&Codecs::new(), &Value::opaque(counter, 7));
        let back = back
            .downcast_ref::<crate::bag::Counter<[u8]>>()
            .expect("a byte counter");
        let mut got: Vec<(Vec<u8>, usize)> = back.iter().map(|(k, n)| (k.clone(), n)).collect();
        got.sort();
        // The reference: a naive count of the same words.
        let mut want: Vec<(Vec<u8>, usize)> = Vec::new();
        for w in words {
            match want.iter_mut().find(|(k, _)| k == w) {
                Some((_, n)) => *n += 1,
                None => want.push((w.to_vec(), 1)),
            }
        }
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn plain_values_round_trip() {
        let c = Codecs::new();
        let v = Value::List(
            vec![
                Value::Unit,
                Value::Bool(true),
                Value::Int(-7),
                Value::Float(f64::NAN),
                Value::Float(-0.0),
                Value::Str("héllo".into()),
                Value::List(vec![Value::Int(1)].into()),
            ]
            .into(),
        );
        let back = round_trip(&c, &v);
        let l = back.as_list().unwrap();
        assert_eq!(l[2], Value::Int(-7));
        assert!(l[3].as_float().unwrap().is_nan());
        assert_eq!(l[4].as_float().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(l[5].as_str(), Some("héllo"));
        assert_eq!(l[6].as_list().unwrap()[0], Value::Int(1));
    }

    #[test]
    fn blocks_round_trip_with_dtype_and_shape() {
        let c = Codecs::new();
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 10 + i[1]) as f32 - 5.5);
        let v = Block::new(BlockData::F32(a.clone()), None).into_value();
        let back = round_trip(&c, &v);
        let b = back.downcast_ref::<Block>().unwrap();
        assert_eq!(b.data().dtype(), DType::F32);
        match b.data() {
            BlockData::F32(x) => assert_eq!(x, &a),
            _ => panic!("dtype changed"),
        }
        // A transposed (non-standard) view is copied to standard layout by Block::new.
        let t = ArrayD::from_shape_fn(IxDyn(&[2, 0]), |_| true);
        let back = round_trip(&c, &Block::new(BlockData::Bool(t), None).into_value());
        assert_eq!(back.downcast_ref::<Block>().unwrap().data().len(), 0);
    }

    #[test]
    fn unknown_payload_is_a_codec_error() {
        struct Secret;
        let c = Codecs::new();
        let v = Value::opaque(Secret, 0);
        assert!(!c.can_encode(&v));
        assert_eq!(c.encode(&v).unwrap_err().kind(), ErrorKind::Codec);
    }

    /// Encodes `v`, decodes it, and checks that the same value comes back (compared by
    /// `show`) and that the message cut short or lengthened by a byte is a codec error.
    fn intermediate_round_trips(v: &Value, show: impl Fn(&Value) -> String) {
        let c = Codecs::new();
        let bytes = c.encode(v).unwrap();
        assert_eq!(show(&c.decode(&bytes).unwrap()), show(v));
        let short = &bytes[..bytes.len() - 1];
        assert_eq!(c.decode(short).unwrap_err().kind(), ErrorKind::Codec);
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(c.decode(&long).unwrap_err().kind(), ErrorKind::Codec);
    }

    #[test]
    fn array_intermediates_round_trip() {
        use crate::array::Counts;
        let show = |v: &Value| format!("{:?}", v.downcast_ref::<Counts>().unwrap());
        for counts in [
            Counts::I(vec![3, 0, -1, i64::MAX]),
            Counts::F(vec![0.5, -0.0, f64::INFINITY]),
            Counts::I(Vec::new()),
        ] {
            intermediate_round_trips(&Value::payload(counts), show);
        }
        use crate::array::sort_run;
        use crate::array::{Run, SortedKeys, Tally};
        let block = BlockData::F64(ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| {
            [2.5, -0.0, f64::NAN, 1.0][(i[0] + i[1]) % 4]
        }));
        let show = |v: &Value| format!("{:?}", v.downcast_ref::<Run>().unwrap());
        for (axis, arg) in [(0, false), (1, false), (1, true)] {
            let run = sort_run(&block, axis, 7, arg);
            intermediate_round_trips(&Value::payload(run), show);
        }
        let show = |v: &Value| format!("{:?}", v.downcast_ref::<Tally>().unwrap());
        intermediate_round_trips(&Value::payload(Tally::of(&block)), show);
        let show = |v: &Value| format!("{:?}", v.downcast_ref::<SortedKeys>().unwrap().0);
        intermediate_round_trips(&Value::payload(SortedKeys(vec![1, 5, u64::MAX])), show);
    }

    #[test]
    fn a_sorted_run_whose_parts_disagree_is_a_codec_error() {
        use crate::array::sort_run;
        let block = BlockData::I64(ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| i[1] as i64));
        let mut run = sort_run(&block, 1, 0, false);
        run.keys.pop();
        let c = Codecs::new();
        let bytes = c.encode(&Value::payload(run)).unwrap();
        assert_eq!(c.decode(&bytes).unwrap_err().kind(), ErrorKind::Codec);
    }

    #[test]
    fn malformed_bytes_are_codec_errors() {
        let c = Codecs::new();
        for bad in [
            &[][..],
            &[9],
            &[LIST, 255, 255, 255, 255, 255, 255, 255, 255],
            &[STR, 5, 0, 0, 0, 0, 0, 0, 0, b'a'],
            &[BLOCK, 4, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255],
            &[INT, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        ] {
            assert_eq!(
                c.decode(bad).unwrap_err().kind(),
                ErrorKind::Codec,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serde_codecs_round_trip() {
        let mut c = Codecs::new();
        c.serde_opaque::<std::collections::BTreeMap<String, u64>>()
            .partition::<(String, i64)>();
        let m: std::collections::BTreeMap<String, u64> = [("a".into(), 3)].into();
        let back = round_trip(&c, &Value::opaque(m.clone(), 17));
        assert_eq!(back.nbytes(), 17);
        assert_eq!(
            back.try_take::<std::collections::BTreeMap<String, u64>>()
                .unwrap(),
            m
        );
        let p = crate::bag::Partition(vec![("x".to_string(), 1i64)]);
        let back = round_trip(&c, &Value::payload(p));
        let got = back.downcast_ref::<crate::bag::Partition<(String, i64)>>();
        assert_eq!(got.unwrap().0, vec![("x".to_string(), 1)]);
    }
}
