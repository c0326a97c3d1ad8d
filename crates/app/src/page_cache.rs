//! Serialised list pages, reused while the data they show has not changed.
//!
//! Each entry carries the data version it was built from (`Store::integrations_version`,
//! bumped in every writing transaction on any replica); a page is served from here only if
//! that version is still the current one, so no replica ever serves a stale page.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

#[derive(Debug)]
pub struct PageCache {
    capacity: usize,
    entries: Mutex<HashMap<String, (i64, Bytes)>>,
}

impl PageCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str, version: i64) -> Option<Bytes> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(built_from, _)| *built_from == version)
            .map(|(_, body)| body.clone())
    }

    pub fn put(&self, key: String, version: i64, body: Bytes) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            // Entries from older versions are useless; if all are current, start over.
            entries.retain(|_, (built_from, _)| *built_from == version);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (version, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_for_the_version_it_was_built_from() {
        let cache = PageCache::new(2);
        cache.put("a".into(), 1, Bytes::from_static(b"one"));
        assert_eq!(cache.get("a", 1), Some(Bytes::from_static(b"one")));
        assert_eq!(cache.get("a", 2), None);
        assert_eq!(cache.get("b", 1), None);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = PageCache::new(2);
        cache.put("a".into(), 1, Bytes::from_static(b"a"));
        cache.put("b".into(), 1, Bytes::from_static(b"b"));
        cache.put("c".into(), 2, Bytes::from_static(b"c"));
        assert_eq!(cache.get("c", 2), Some(Bytes::from_static(b"c")));
        assert_eq!(cache.get("a", 1), None, "outdated entries went first");
        cache.put("d".into(), 2, Bytes::from_static(b"d"));
        cache.put("e".into(), 2, Bytes::from_static(b"e"));
        let kept = ["c", "d", "e"]
            .iter()
            .filter(|k| cache.get(k, 2).is_some())
            .count();
        assert!(kept <= 2);
        assert_eq!(cache.get("e", 2), Some(Bytes::from_static(b"e")));
    }
}
