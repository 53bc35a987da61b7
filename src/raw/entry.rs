//! The heap entry a slot points to: the key and the value, nothing else.
//!
//! Policy bits live in the set and the tag in the slot word, so an entry costs
//! exactly its key and value (plus padding to an even alignment).

/// One cached key and value, allocated once and never mutated.
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// Forces an alignment of at least 2, so bit 0 of a pointer to an entry
    /// is free for `set::PENDING`.
    _align: [u16; 0],
}

impl<K, V> Entry<K, V> {
    pub(crate) fn new(key: K, value: V) -> Box<Self> {
        Box::new(Entry {
            key,
            value,
            _align: [],
        })
    }
}

/// An entry not yet published: freed (value dropped) if the insert unwinds.
pub(crate) struct Unpublished<K, V>(pub(crate) *mut Entry<K, V>);

impl<K, V> Unpublished<K, V> {
    /// Hands the pointer to the table: it no longer frees it.
    pub(crate) fn publish(self) -> *mut Entry<K, V> {
        let ptr = self.0;
        std::mem::forget(self);
        ptr
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::into_raw` and was never linked
        // into a slot (`publish` forgets `self`), so this is its only owner.
        unsafe { super::reclaim::drop_box(self.0) }
    }
}
