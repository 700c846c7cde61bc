//! The object store: every object as JSON, one resourceVersion counter, and the history watches resume
//! from (older versions answer 410 Gone, as a compacted etcd does).
//!
//! The store knows nothing about verbs: it keeps objects, stamps versions and tells watchers. What a
//! create or an update means (defaults, generation, status, finalizers) lives in [`crate::ops`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::resource::{Registry, ResourceType};

/// How many events watches can resume from; older resourceVersions are gone.
pub const DEFAULT_HISTORY: usize = 10_000;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The watch event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion the change made.
    pub rv: u64,
    /// Added, modified or deleted.
    pub kind: EventType,
    /// The object's group.
    pub group: String,
    /// The object's resource (plural).
    pub plural: String,
    /// The object's namespace (`""` for cluster-scoped kinds).
    pub namespace: String,
    /// The object after the change (for a deletion, the last state with the deleting version).
    pub object: Value,
}

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Group.
    pub group: String,
    /// Resource (plural).
    pub plural: String,
    /// Namespace, `""` when cluster-scoped.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// The key of `name` in `namespace` of kind `t`.
    pub fn new(t: &ResourceType, namespace: &str, name: &str) -> Self {
        Key {
            group: t.group.clone(),
            plural: t.plural.clone(),
            namespace: if t.namespaced {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }
}

/// The state behind the store's lock.
#[derive(Debug)]
pub struct State {
    /// Served kinds (built-in and from CRDs).
    pub registry: Registry,
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// The oldest resourceVersion a watch may start after.
    compacted: u64,
    uid_seq: u64,
    uid_seed: u64,
    pending: Vec<Arc<Event>>,
}

impl State {
    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The object at `key`.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of a resource, in one namespace or all (`None`), in key order.
    pub fn list<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        let start = Key {
            group: group.to_owned(),
            plural: plural.to_owned(),
            namespace: namespace.unwrap_or_default().to_owned(),
            name: String::new(),
        };
        self.objects.range(start..).take_while(move |(k, _)| {
            k.group == group && k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns)
        })
    }

    /// Every object (for the garbage collector and namespace deletion).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.objects.iter()
    }

    /// A fresh UID in the apiserver's format.
    pub fn new_uid(&mut self) -> String {
        self.uid_seq += 1;
        let a = splitmix(self.uid_seed ^ self.uid_seq);
        let b = splitmix(a ^ 0x9e37_79b9_7f4a_7c15);
        let hex = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-a{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        )
    }

    /// A pseudo-random number (for generated names), different in every store.
    pub fn random(&mut self) -> u64 {
        self.uid_seq += 1;
        splitmix(self.uid_seed.rotate_left(17) ^ self.uid_seq)
    }

    /// Stores `object` at `key` with the next resourceVersion (written into its metadata) and records the
    /// event. Returns the stored object.
    pub fn put(&mut self, key: Key, mut object: Value) -> Value {
        self.rv += 1;
        let rv = self.rv;
        set_rv(&mut object, rv);
        let kind = if self.objects.contains_key(&key) {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(rv, kind, &key, object.clone());
        self.objects.insert(key, object.clone());
        object
    }

    /// Removes the object at `key`; the event carries it with a new resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.rv += 1;
        let rv = self.rv;
        set_rv(&mut object, rv);
        self.record(rv, EventType::Deleted, key, object.clone());
        Some(object)
    }

    fn record(&mut self, rv: u64, kind: EventType, key: &Key, object: Value) {
        let event = Arc::new(Event {
            rv,
            kind,
            group: key.group.clone(),
            plural: key.plural.clone(),
            namespace: key.namespace.clone(),
            object,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.pending.push(event);
    }

    /// Forgets history up to the current version: watches from older versions get 410 Gone.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        self.history.clear();
    }

    /// Events after `rv` (oldest first), or `Err(oldest)` when `rv` is older than the history kept.
    pub fn since(&self, rv: u64) -> Result<Vec<Arc<Event>>, u64> {
        if rv < self.compacted {
            return Err(self.compacted + 1);
        }
        Ok(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }
}

fn set_rv(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The shared store.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    events: broadcast::Sender<Arc<Event>>,
}

/// A locked view of the store; events recorded through it reach watchers when it is dropped, so a
/// watcher never sees a change before the lock that made it is released.
pub struct Locked<'a> {
    guard: MutexGuard<'a, State>,
    events: &'a broadcast::Sender<Arc<Event>>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Locked<'_> {
    /// A receiver of every event after the ones already recorded (subscribe and read history under the
    /// same lock so nothing falls between them).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        for event in self.guard.pending.drain(..) {
            // No receivers is fine: nobody watches.
            let _ = self.events.send(event);
        }
    }
}

impl Store {
    /// An empty store serving the built-in kinds.
    pub fn new(history_limit: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| {
                d.as_secs() ^ u64::from(d.subsec_nanos()).rotate_left(40)
            })
            ^ u64::from(std::process::id()).rotate_left(32);
        let (events, _) = broadcast::channel(16_384);
        Store {
            state: Mutex::new(State {
                registry: Registry::default(),
                rv: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                compacted: 0,
                uid_seq: 0,
                uid_seed: splitmix(seed),
                pending: Vec::new(),
            }),
            events,
        }
    }

    /// Locks the store.
    pub fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock would be a bug in kubesim; keep serving what is there.
        let guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Locked {
            guard,
            events: &self.events,
        }
    }

    /// A receiver of all future events.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_history_and_compaction() {
        let store = Store::new(3);
        let r = Registry::default();
        let cm = r.get("", "v1", "configmaps").expect("cm");
        let mut rx = store.subscribe();
        {
            let mut s = store.lock();
            for i in 0..5 {
                let key = Key::new(&cm, "default", &format!("c{i}"));
                s.put(key, json!({"metadata": {"name": format!("c{i}")}}));
            }
            assert_eq!(s.rv(), 5);
            assert_eq!(s.since(2).expect("kept").len(), 3);
            assert!(matches!(s.since(1), Err(3)));
            assert_eq!(s.list("", "configmaps", Some("default")).count(), 5);
            assert_eq!(s.list("", "configmaps", Some("other")).count(), 0);
            let uid = s.new_uid();
            assert_eq!(uid.len(), 36);
            assert_ne!(uid, s.new_uid());
        }
        assert_eq!(rx.try_recv().expect("event").rv, 1);
    }
}
