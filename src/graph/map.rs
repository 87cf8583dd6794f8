//! The node map of a graph: keys and nodes in insertion order, indexed by dense ids.
//!
//! A key's id is its insertion position, given when it is inserted. Finding the id of a key
//! is cheap and cache-friendly for the keys collections make: a string key is found through
//! its name; a tuple key of small non-negative integers (a block `("x", 3, 1)`, a partition
//! `("p", 7)`) through its name and then a dense grid of ids indexed by its integers, so that
//! neighbouring blocks have neighbouring ids in memory and no tuple is hashed. Any other key
//! (string atoms, negative or sparse integers, more than [`MAX_GRID_ARITY`] atoms) is hashed
//! whole. Grids never hold more than eight cells per key (plus a constant) (a key that would
//! need more goes to the hashed index), so the index is linear in the number of keys.
//!
//! The references of every node can be resolved to ids once ([`NodeMap::resolved`]); the
//! result is kept until the map changes, so planning a graph many times resolves it once.

use super::Node;
use crate::key::Key;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// An absent id (an empty grid cell, a reference to a key not in the map).
pub(crate) const MISSING: u32 = u32::MAX;

/// Tuple keys with more integer atoms than this are hashed whole.
const MAX_GRID_ARITY: usize = 4;

/// A grid holds at most `GRID_FILL` cells per key of its name and number of atoms, plus
/// [`GRID_SLACK`]: room for growing one axis by doubling while the others are partly filled.
const GRID_FILL: usize = 8;
/// Cells a grid may hold beyond [`GRID_FILL`] per key.
const GRID_SLACK: usize = 64;

/// Keys and nodes, in insertion order, with the index described in the module docs.
#[derive(Default)]
pub(crate) struct NodeMap {
    keys: Vec<Key>,
    nodes: Vec<Node>,
    index: KeyIndex,
    /// Every node's references resolved to ids, computed on first use after a change.
    resolved: OnceLock<Resolved>,
}

impl Clone for NodeMap {
    fn clone(&self) -> NodeMap {
        NodeMap {
            keys: self.keys.clone(),
            nodes: self.nodes.clone(),
            index: self.index.clone(),
            resolved: self.resolved.clone(),
        }
    }
}

/// The references of every node as ids: node `i`'s are `ids[offsets[i]..offsets[i + 1]]`,
/// in argument order ([`Node::for_each_ref`]), [`MISSING`] where the key is not in the map.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    offsets: Vec<u32>,
    ids: Vec<u32>,
    /// What node `i` is: [`KIND_LITERAL`], [`KIND_ALIAS`], [`KIND_TASK`] or [`KIND_NESTED`].
    kinds: Vec<u8>,
}

/// [`Resolved::kind`] of a literal node.
pub(crate) const KIND_LITERAL: u8 = 0;
/// [`Resolved::kind`] of an alias node.
pub(crate) const KIND_ALIAS: u8 = 1;
/// [`Resolved::kind`] of a task whose arguments are references and literals only.
pub(crate) const KIND_TASK: u8 = 2;
/// [`Resolved::kind`] of a task with a list or nested-task argument (a tree of arguments).
pub(crate) const KIND_NESTED: u8 = 3;
/// [`Resolved::kind`] of a task whose arguments nest deeper than
/// [`MAX_NESTING`](super::MAX_NESTING) (an error if it is planned).
pub(crate) const KIND_TOO_DEEP: u8 = 4;

impl Resolved {
    /// The references of node `i`, in argument order.
    #[inline]
    pub(crate) fn of(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// What node `i` is (`KIND_*`), read from a compact array rather than the node.
    #[inline]
    pub(crate) fn kind(&self, i: usize) -> u8 {
        self.kinds[i]
    }
}

impl NodeMap {
    /// An empty map with room for `n` keys.
    pub(crate) fn with_capacity(n: usize) -> NodeMap {
        NodeMap {
            keys: Vec::with_capacity(n),
            nodes: Vec::with_capacity(n),
            ..NodeMap::default()
        }
    }

    /// Number of keys.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the map is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Room for `n` more keys.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.keys.reserve(n);
        self.nodes.reserve(n);
    }

    /// The id of `key`.
    #[inline]
    pub(crate) fn get_index_of(&self, key: &Key) -> Option<usize> {
        self.index.find(&self.keys, key).map(|i| i as usize)
    }

    /// The key and node with id `i`.
    #[inline]
    pub(crate) fn get_index(&self, i: usize) -> Option<(&Key, &Node)> {
        Some((self.keys.get(i)?, self.nodes.get(i)?))
    }

    /// The node under `key`.
    pub(crate) fn get(&self, key: &Key) -> Option<&Node> {
        self.get_index_of(key).map(|i| &self.nodes[i])
    }

    /// Whether `key` is in the map.
    pub(crate) fn contains_key(&self, key: &Key) -> bool {
        self.get_index_of(key).is_some()
    }

    /// Keys and nodes in id order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Node)> {
        self.keys.iter().zip(&self.nodes)
    }

    /// Keys in id order.
    pub(crate) fn keys(&self) -> std::slice::Iter<'_, Key> {
        self.keys.iter()
    }

    /// Nodes in id order.
    pub(crate) fn values(&self) -> std::slice::Iter<'_, Node> {
        self.nodes.iter()
    }

    /// Adds `key` unless it is present; on success returns its id, else gives both back.
    pub(crate) fn insert_new(&mut self, key: Key, node: Node) -> Result<u32, (Key, Node)> {
        if self.get_index_of(&key).is_some() {
            return Err((key, node));
        }
        let id = self.keys.len();
        let Ok(id32) = u32::try_from(id) else {
            return Err((key, node));
        };
        if id32 == MISSING {
            return Err((key, node));
        }
        self.index.add(&self.keys, &key, id32);
        self.keys.push(key);
        self.nodes.push(node);
        self.resolved = OnceLock::new();
        Ok(id32)
    }

    /// Sets `key` to `node`, returning the node it replaces; a new key goes last.
    pub(crate) fn insert(&mut self, key: Key, node: Node) -> Option<Node> {
        self.resolved = OnceLock::new();
        match self.get_index_of(&key) {
            Some(i) => Some(std::mem::replace(&mut self.nodes[i], node)),
            None => {
                let id = u32::try_from(self.keys.len())
                    .ok()
                    .filter(|&i| i != MISSING)
                    .expect("a graph holds fewer than u32::MAX keys");
                self.index.add(&self.keys, &key, id);
                self.keys.push(key);
                self.nodes.push(node);
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others (whose ids after it shift down by one).
    pub(crate) fn shift_remove(&mut self, key: &Key) -> Option<Node> {
        let i = self.get_index_of(key)?;
        self.index.remove(key, i as u32);
        self.index.shift_down(i as u32);
        self.keys.remove(i);
        let node = self.nodes.remove(i);
        self.resolved = OnceLock::new();
        Some(node)
    }

    /// Every node's references resolved to ids (computed once per change of the map).
    pub(crate) fn resolved(&self) -> &Resolved {
        self.resolved.get_or_init(|| {
            let mut offsets = Vec::with_capacity(self.len() + 1);
            let mut ids = Vec::with_capacity(self.len() * 2);
            let mut kinds = Vec::with_capacity(self.len());
            offsets.push(0u32);
            for node in &self.nodes {
                node.for_each_ref(|k| ids.push(self.index.find(&self.keys, k).unwrap_or(MISSING)));
                // Offsets fit: a map of fewer than u32::MAX keys whose nodes hold more than
                // u32::MAX references in all would need hundreds of gigabytes.
                offsets.push(u32::try_from(ids.len()).unwrap_or(u32::MAX));
                kinds.push(match node {
                    Node::Literal(_) => KIND_LITERAL,
                    Node::Alias(_) => KIND_ALIAS,
                    Node::Task(t) => match t.args.iter().map(super::Arg::nesting).max() {
                        None | Some(0) => KIND_TASK,
                        Some(d) if d <= super::MAX_NESTING => KIND_NESTED,
                        Some(_) => KIND_TOO_DEEP,
                    },
                });
            }
            Resolved {
                offsets,
                ids,
                kinds,
            }
        })
    }
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(Key, Node)> for NodeMap {
    fn from_iter<I: IntoIterator<Item = (Key, Node)>>(iter: I) -> NodeMap {
        let iter = iter.into_iter();
        let mut map = NodeMap::with_capacity(iter.size_hint().0);
        for (k, n) in iter {
            map.insert(k, n);
        }
        map
    }
}

/// Finds ids by key; see the module docs.
#[derive(Clone, Default)]
struct KeyIndex {
    /// Positions in `names`, by the hash of the name.
    by_name: HashTable<u32>,
    names: Vec<NameEntry>,
    /// Ids of the keys no grid holds, by the hash of the whole key.
    hashed: HashTable<u32>,
    /// Hashes names and keys with a seed of its own, so that no set of keys chosen in
    /// advance collides (a plain multiplicative hash of crafted atoms would make every
    /// lookup a scan).
    hasher: foldhash::fast::RandomState,
    /// The address of the last name added and its position in `names`: keys built from one
    /// shared name skip hashing it. An entry keeps its name alive, so an equal address is
    /// the same name.
    last: (usize, u32),
}

#[derive(Clone)]
struct NameEntry {
    name: Arc<str>,
    /// The id of the string key `name`, or [`MISSING`].
    plain: u32,
    /// Grids of tuple keys of this name, one per number of atoms (`grids[a - 1]`).
    grids: [Option<Grid>; MAX_GRID_ARITY],
    /// How many keys of this name are in the hashed index.
    hashed: usize,
    /// How many keys of this name have `a` small integer atoms (`keys[a - 1]`), in a grid
    /// or not: a grid holds at most [`GRID_FILL`] cells per such key.
    keys: [usize; MAX_GRID_ARITY],
}

/// A dense row-major grid of ids over `[0, dims[0]) x .. x [0, dims[a - 1])`.
#[derive(Clone)]
struct Grid {
    dims: [usize; MAX_GRID_ARITY],
    cells: Vec<u32>,
    /// Cells holding an id.
    count: usize,
}

/// The atoms of a tuple key as grid coordinates, if it can live in a grid.
#[inline]
fn coords(key: &Key) -> Option<([usize; MAX_GRID_ARITY], usize)> {
    let atoms = key.small_ints()?;
    if atoms.is_empty() || atoms.len() > MAX_GRID_ARITY {
        return None;
    }
    let mut c = [0usize; MAX_GRID_ARITY];
    for (slot, &a) in c.iter_mut().zip(atoms) {
        *slot = usize::try_from(a).ok()?;
    }
    Some((c, atoms.len()))
}

impl Grid {
    /// The cell of `c`, if inside the grid.
    #[inline]
    fn cell(&self, c: &[usize; MAX_GRID_ARITY], arity: usize) -> Option<usize> {
        let mut flat = 0usize;
        for (&x, &dim) in c[..arity].iter().zip(&self.dims[..arity]) {
            if x >= dim {
                return None;
            }
            flat = flat * dim + x;
        }
        Some(flat)
    }

    /// Stores `id` at `c`, growing the grid if that keeps it within [`GRID_FILL`] cells per
    /// key of its name and arity (`keys`, this one included); false if it does not.
    fn put(&mut self, c: &[usize; MAX_GRID_ARITY], arity: usize, id: u32, keys: usize) -> bool {
        if let Some(i) = self.cell(c, arity) {
            self.cells[i] = id;
            self.count += 1;
            return true;
        }
        let mut dims = self.dims;
        let mut cells = 1usize;
        for (&x, dim) in c[..arity].iter().zip(&mut dims[..arity]) {
            if x >= *dim {
                *dim = (x + 1).max(dim.saturating_mul(2));
            }
            match cells.checked_mul(*dim) {
                Some(n) => cells = n,
                None => return false,
            }
        }
        if cells > GRID_FILL * keys + GRID_SLACK {
            return false;
        }
        let mut grown = Grid {
            dims,
            cells: vec![MISSING; cells],
            count: self.count,
        };
        // Copy every id to its cell in the larger grid.
        let mut at = [0usize; MAX_GRID_ARITY];
        for &old in &self.cells {
            if old != MISSING {
                let i = grown.cell(&at, arity).expect("a grid only grows");
                grown.cells[i] = old;
            }
            for d in (0..arity).rev() {
                at[d] += 1;
                if at[d] < self.dims[d] {
                    break;
                }
                at[d] = 0;
            }
        }
        *self = grown;
        self.put(c, arity, id, keys)
    }
}

impl KeyIndex {
    fn hash_name(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn hash_key(&self, key: &Key) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn name_entry(&self, name: &str) -> Option<&NameEntry> {
        self.name_pos(name).map(|p| &self.names[p as usize])
    }

    /// The position of `name` in `names`: the last name added if it is the same string
    /// (same address and length), else through the hash of the name.
    #[inline]
    fn name_pos(&self, name: &str) -> Option<u32> {
        if self.last.0 == name.as_ptr() as usize
            && !self.names.is_empty()
            && self.names[self.last.1 as usize].name.len() == name.len()
        {
            return Some(self.last.1);
        }
        let names = &self.names;
        self.by_name
            .find(self.hash_name(name), |&p| *names[p as usize].name == *name)
            .copied()
    }

    #[inline]
    fn find(&self, keys: &[Key], key: &Key) -> Option<u32> {
        let entry = self.name_entry(key.name())?;
        if !key.is_tuple() {
            return (entry.plain != MISSING).then_some(entry.plain);
        }
        let id = coords(key).and_then(|(c, arity)| {
            let grid = entry.grids[arity - 1].as_ref()?;
            let id = grid.cells[grid.cell(&c, arity)?];
            (id != MISSING).then_some(id)
        });
        if id.is_some() || entry.hashed == 0 {
            return id;
        }
        self.hashed
            .find(self.hash_key(key), |&i| keys[i as usize] == *key)
            .copied()
    }

    /// Records `key` (known to be absent) under `id`.
    fn add(&mut self, keys: &[Key], key: &Key, id: u32) {
        let name = key.name();
        let pos = match self.name_pos(name) {
            Some(p) => p as usize,
            None => {
                let h = self.hash_name(name);
                let p = self.names.len();
                let name: Arc<str> = key.name_arc().clone();
                self.names.push(NameEntry {
                    name,
                    plain: MISSING,
                    grids: Default::default(),
                    hashed: 0,
                    keys: [0; MAX_GRID_ARITY],
                });
                let (names, hasher) = (&self.names, &self.hasher);
                self.by_name
                    .insert_unique(h, p as u32, |&q| hasher.hash_one(&*names[q as usize].name));
                p
            }
        };
        self.last = (self.names[pos].name.as_ptr() as usize, pos as u32);
        let entry = &mut self.names[pos];
        if !key.is_tuple() {
            entry.plain = id;
            return;
        }
        if let Some((c, arity)) = coords(key) {
            entry.keys[arity - 1] += 1;
            let grid = entry.grids[arity - 1].get_or_insert_with(|| Grid {
                dims: [0; MAX_GRID_ARITY],
                cells: Vec::new(),
                count: 0,
            });
            if grid.put(&c, arity, id, entry.keys[arity - 1]) {
                return;
            }
        }
        entry.hashed += 1;
        let h = self.hash_key(key);
        let hasher = &self.hasher;
        self.hashed
            .insert_unique(h, id, |&i| hasher.hash_one(&keys[i as usize]));
    }

    /// Forgets `key`, present under `id`.
    fn remove(&mut self, key: &Key, id: u32) {
        let h = self.hash_key(key);
        let Some(pos) = self.name_pos(key.name()) else {
            return;
        };
        let entry = &mut self.names[pos as usize];
        if !key.is_tuple() {
            entry.plain = MISSING;
            return;
        }
        if let Some((c, arity)) = coords(key) {
            entry.keys[arity - 1] -= 1;
            if let Some(grid) = entry.grids[arity - 1].as_mut()
                && let Some(i) = grid.cell(&c, arity)
                && grid.cells[i] == id
            {
                grid.cells[i] = MISSING;
                grid.count -= 1;
                return;
            }
        }
        if let Ok(found) = self.hashed.find_entry(h, |&i| i == id) {
            found.remove();
            entry.hashed -= 1;
        }
    }

    /// Renumbers every id above `removed` one down (the key at `removed` was taken out).
    fn shift_down(&mut self, removed: u32) {
        let down = |id: &mut u32| {
            if *id != MISSING && *id > removed {
                *id -= 1;
            }
        };
        for entry in &mut self.names {
            down(&mut entry.plain);
            for grid in entry.grids.iter_mut().flatten() {
                grid.cells.iter_mut().for_each(down);
            }
        }
        self.hashed.iter_mut().for_each(down);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Atom;
    use crate::value::Value;
    use rustc_hash::FxBuildHasher;
    use std::collections::HashMap;

    /// Reproducible pseudo-random numbers: a hash of a seed and a counter.
    struct Rng(u64, u64);
    impl Rng {
        fn new(seed: u64) -> Rng {
            Rng(seed, 0)
        }
        fn next(&mut self) -> u64 {
            self.1 += 1;
            FxBuildHasher.hash_one((self.0, self.1)).rotate_left(17) ^ self.1
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Keys of every kind the index treats differently: names, small dense tuples, sparse,
    /// negative, huge and string atoms, zero and many atoms, names shared and not.
    fn random_key(r: &mut Rng, shared: &[Arc<str>]) -> Key {
        let name: Arc<str> = if r.below(2) == 0 {
            shared[r.below(shared.len() as u64) as usize].clone()
        } else {
            format!("n{}", r.below(4)).into()
        };
        let arity = r.below(7) as usize;
        match r.below(8) {
            0 => Key::from(name),
            1 => Key::from_parts(name, (0..arity).map(|_| Atom::Int(r.below(40) as i64 - 5))),
            2 => Key::from_parts(
                name,
                (0..arity).map(|_| Atom::Int(r.next() as i64 >> r.below(64))),
            ),
            3 => Key::from_parts(name, [Atom::Str("s".into()), Atom::Int(r.below(9) as i64)]),
            _ => {
                let idx: Vec<usize> = (0..arity.min(4)).map(|_| r.below(30) as usize).collect();
                Key::block(&name, &idx)
            }
        }
    }

    #[test]
    fn index_agrees_with_a_hash_map() {
        for seed in 0..40 {
            let mut r = Rng::new(seed);
            let shared: Vec<Arc<str>> = vec!["x".into(), "y".into(), "n1".into()];
            let mut map = NodeMap::default();
            let mut order: Vec<Key> = Vec::new();
            let mut model: HashMap<Key, i64> = HashMap::new();
            for step in 0..3000i64 {
                let k = random_key(&mut r, &shared);
                match r.below(10) {
                    0 if !order.is_empty() => {
                        let victim = order[r.below(order.len() as u64) as usize].clone();
                        assert!(map.shift_remove(&victim).is_some());
                        order.retain(|k| *k != victim);
                        model.remove(&victim);
                    }
                    1 => {
                        let new = map.insert(k.clone(), Node::Literal(Value::Int(step)));
                        let old = model.insert(k.clone(), step);
                        assert_eq!(new.is_some(), old.is_some(), "{k}");
                        if old.is_none() {
                            order.push(k);
                        }
                    }
                    _ => {
                        let res = map.insert_new(k.clone(), Node::Literal(Value::Int(step)));
                        assert_eq!(res.is_ok(), !model.contains_key(&k), "{k}");
                        if res.is_ok() {
                            model.insert(k.clone(), step);
                            order.push(k);
                        }
                    }
                }
                // Probe a fresh key (often present, often not).
                let probe = random_key(&mut r, &shared);
                let got = map.get(&probe).map(|n| match n {
                    Node::Literal(Value::Int(v)) => *v,
                    _ => unreachable!(),
                });
                assert_eq!(
                    got,
                    model.get(&probe).copied(),
                    "seed {seed} step {step}: {probe}"
                );
            }
            assert_eq!(map.len(), order.len());
            for (i, k) in order.iter().enumerate() {
                assert_eq!(map.get_index_of(k), Some(i), "{k}");
                assert_eq!(map.get_index(i).map(|(k, _)| k.clone()), Some(k.clone()));
            }
        }
    }

    #[test]
    fn resolved_references_follow_changes() {
        use crate::graph::{Arg, Task};
        let op = crate::graph::Op::new("f", |_| Ok(Value::Unit));
        let mut map = NodeMap::default();
        let task = |refs: &[&str]| Node::Task(Task::new(&op, refs.iter().map(|k| Arg::key(*k))));
        map.insert("a".into(), task(&["b", "c"]));
        assert_eq!(map.resolved().of(0), [MISSING, MISSING]);
        map.insert("c".into(), Node::Literal(Value::Int(1)));
        assert_eq!(map.resolved().of(0), [MISSING, 1]);
        map.insert("b".into(), Node::Alias("c".into()));
        assert_eq!(map.resolved().of(0), [2, 1]);
        assert_eq!(map.resolved().kind(2), KIND_ALIAS);
        map.shift_remove(&"c".into());
        assert_eq!(map.resolved().of(0), [1, MISSING]);
        assert_eq!(map.resolved().of(1), [MISSING]);
    }

    /// Grids stay linear in the keys however sparse or skewed the keys are.
    #[test]
    fn grids_stay_linear() {
        let name: Arc<str> = "g".into();
        let mut map = NodeMap::default();
        let n = 20_000usize;
        for i in 0..n {
            // An L shape, a far corner and a diagonal: dense grids would be n^2 cells.
            let idx = match i % 3 {
                0 => [i, 0],
                1 => [0, i + 1],
                _ => [i, i],
            };
            map.insert(Key::block(&name, &idx), Node::Literal(Value::Int(i as i64)));
        }
        let cells: usize = map
            .index
            .names
            .iter()
            .flat_map(|e| e.grids.iter().flatten())
            .map(|g| g.cells.len())
            .sum();
        assert!(
            cells <= GRID_FILL * (n + 1) + GRID_SLACK,
            "{cells} cells for {n} keys"
        );
        for i in 0..n {
            let idx = match i % 3 {
                0 => [i, 0],
                1 => [0, i + 1],
                _ => [i, i],
            };
            assert_eq!(map.get_index_of(&Key::block(&name, &idx)), Some(i));
        }
    }
}
